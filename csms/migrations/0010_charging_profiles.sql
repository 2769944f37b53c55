-- Smart charging: named charging profiles (version-neutral; purpose uses the 1.6 names,
-- ChargePointMaxProfile is ChargingStationMaxProfile on 2.0.1) and what was sent to which
-- charger with its answer. chargingProfileId values come from charging_profile_id (named
-- profiles use their own id, inline ones take the next value).

CREATE SEQUENCE charging_profile_id AS integer START 1;

CREATE TABLE charging_profiles (
    id                  integer PRIMARY KEY DEFAULT nextval('charging_profile_id'),
    name                text NOT NULL UNIQUE,
    purpose             text NOT NULL CHECK (purpose IN ('ChargePointMaxProfile',
                            'TxDefaultProfile', 'TxProfile')),
    stack_level         integer NOT NULL CHECK (stack_level >= 0),
    kind                text NOT NULL CHECK (kind IN ('Absolute', 'Recurring', 'Relative')),
    recurrency          text CHECK (recurrency IN ('Daily', 'Weekly')),
    valid_from          timestamptz,
    valid_to            timestamptz,
    charging_rate_unit  text NOT NULL CHECK (charging_rate_unit IN ('W', 'A')),
    duration            integer,
    start_schedule      timestamptz,
    min_charging_rate   numeric,
    periods             jsonb NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
ALTER SEQUENCE charging_profile_id OWNED BY charging_profiles.id;

CREATE TABLE charger_charging_profiles (
    id                   bigserial PRIMARY KEY,
    charge_point_id      text NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    -- 1.6: the connector; 2.0.1: the EVSE (0 = the whole charger).
    connector_id         integer NOT NULL,
    charging_profile_id  integer NOT NULL,
    profile_name         text,
    purpose              text NOT NULL,
    stack_level          integer NOT NULL,
    transaction_id       text,
    profile              jsonb NOT NULL,
    status               text NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX charger_charging_profiles_cp ON charger_charging_profiles (charge_point_id, id DESC);
