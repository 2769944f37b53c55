-- OCPP 2.0.1 beside 1.6: charger-owned transaction ids with seqNo, remote start ids, the
-- device model reported by NotifyReport, and the registration status chosen per charger.

ALTER TABLE sessions
    ADD COLUMN remote_start_id  integer,
    ADD COLUMN charging_state   text,
    ADD COLUMN last_seq_no      integer,
    ADD COLUMN offline_events   boolean NOT NULL DEFAULT false;

-- remoteStartId of RequestStartTransaction (an integer the CSMS chooses).
CREATE SEQUENCE remote_start_id AS integer START 1;

-- Every 2.0.1 TransactionEvent as received; (charge point, transaction, seqNo) makes a
-- re-sent event a no-op.
CREATE TABLE transaction_events (
    id               bigserial PRIMARY KEY,
    charge_point_id  text NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    session_id       bigint NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    transaction_id   text NOT NULL,
    seq_no           integer NOT NULL,
    event_type       text NOT NULL CHECK (event_type IN ('Started', 'Updated', 'Ended')),
    trigger_reason   text NOT NULL,
    charging_state   text,
    stopped_reason   text,
    id_token         text,
    id_token_type    text,
    offline          boolean NOT NULL DEFAULT false,
    occurred_at      timestamptz NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (charge_point_id, transaction_id, seq_no)
);
CREATE INDEX transaction_events_session ON transaction_events (session_id, seq_no);

-- The device model as the charger reported it (NotifyReport), one row per attribute.
CREATE TABLE device_model (
    charge_point_id     text NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    component           text NOT NULL,
    component_instance  text NOT NULL DEFAULT '',
    evse_id             integer NOT NULL DEFAULT 0,
    connector_id        integer NOT NULL DEFAULT 0,
    variable            text NOT NULL,
    variable_instance   text NOT NULL DEFAULT '',
    attribute_type      text NOT NULL DEFAULT 'Actual',
    value               text,
    mutability          text,
    characteristics     jsonb,
    reported_at         timestamptz NOT NULL,
    PRIMARY KEY (charge_point_id, component, component_instance, evse_id, connector_id,
                 variable, variable_instance, attribute_type)
);
