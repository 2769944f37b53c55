-- Local authorisation lists (SendLocalList / GetLocalListVersion), tracked per charger:
-- the version last sent and what the charger answered, the version it holds as far as
-- we know (last accepted update), and the version it last reported.

CREATE TABLE local_auth_lists (
    charge_point_id   text PRIMARY KEY REFERENCES charge_points (id) ON DELETE CASCADE,
    list_version      integer,
    sent_version      integer,
    sent_update_type  text CHECK (sent_update_type IN ('Full', 'Differential')),
    sent_entries      integer,
    sent_status       text,
    sent_at           timestamptz,
    reported_version  integer,
    reported_at       timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
