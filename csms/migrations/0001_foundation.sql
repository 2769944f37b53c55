-- Foundation schema: charge points, connectors and their status history, accounts,
-- id tokens, sessions (transactions), meter samples, the frame log, follow-up jobs,
-- and the admin credential. Times are timestamptz (UTC); energy is integer Wh.

CREATE TABLE accounts (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email       text,
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'closed')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE charge_points (
    id                   text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 48),
    password_hash        text NOT NULL,
    protocol             text CHECK (protocol IN ('ocpp1.6', 'ocpp2.0.1')),
    latitude             double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude            double precision CHECK (longitude BETWEEN -180 AND 180),
    time_zone            text NOT NULL DEFAULT 'UTC',
    registration_status  text,
    vendor               text,
    model                text,
    serial_number        text,
    firmware_version     text,
    boot_info            jsonb,
    last_boot_at         timestamptz,
    last_seen_at         timestamptz,
    online               boolean NOT NULL DEFAULT false,
    connected_protocol   text,
    connected_at         timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK ((latitude IS NULL) = (longitude IS NULL))
);

-- evse_id 0 / connector_id 0 is the charger as a whole (1.6 connectorId 0).
-- A 1.6 connector n is evse n, connector n.
CREATE TABLE connectors (
    charge_point_id    text NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    evse_id            integer NOT NULL CHECK (evse_id >= 0),
    connector_id       integer NOT NULL CHECK (connector_id >= 0),
    status             text NOT NULL,
    raw_status         text NOT NULL,
    error_code         text,
    info               text,
    vendor_id          text,
    vendor_error_code  text,
    status_at          timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (charge_point_id, evse_id, connector_id)
);

CREATE TABLE connector_status_history (
    id                 bigserial PRIMARY KEY,
    charge_point_id    text NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    evse_id            integer NOT NULL,
    connector_id       integer NOT NULL,
    status             text NOT NULL,
    raw_status         text NOT NULL,
    error_code         text,
    info               text,
    vendor_id          text,
    vendor_error_code  text,
    status_at          timestamptz NOT NULL,
    received_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (charge_point_id, evse_id, connector_id, status_at, raw_status)
);

CREATE TABLE id_tokens (
    id_token     text PRIMARY KEY CHECK (length(id_token) BETWEEN 1 AND 255),
    type         text NOT NULL DEFAULT 'ISO14443',
    status       text NOT NULL CHECK (status IN ('Accepted', 'Blocked', 'Expired', 'Invalid')),
    expiry       timestamptz,
    parent_id_token text,
    account_id   bigint REFERENCES accounts (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX id_tokens_account ON id_tokens (account_id);

-- Transaction ids handed to 1.6 chargers (an OCPP 1.6 transactionId is an integer).
CREATE SEQUENCE ocpp16_transaction_id AS integer START 1;

-- A session is an OCPP transaction and what we know around it. 'orphaned' rows record a
-- stop (or samples) for a transaction id we never saw start.
CREATE TABLE sessions (
    id                 bigserial PRIMARY KEY,
    charge_point_id    text NOT NULL REFERENCES charge_points (id) ON DELETE RESTRICT,
    protocol           text NOT NULL,
    evse_id            integer,
    connector_id       integer,
    transaction_id     text NOT NULL,
    status             text NOT NULL CHECK (status IN ('active', 'completed', 'orphaned')),
    id_token           text,
    id_token_status    text,
    account_id         bigint REFERENCES accounts (id) ON DELETE SET NULL,
    reservation_id     integer,
    started_at         timestamptz,
    ended_at           timestamptz,
    meter_start_wh     bigint,
    meter_stop_wh      bigint,
    energy_wh          bigint,
    stop_reason        text,
    stop_id_token      text,
    -- the charger's own identity of the start/stop, for idempotent replays
    start_key          text,
    stop_key           text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX sessions_transaction ON sessions (charge_point_id, transaction_id)
    WHERE status <> 'orphaned';
CREATE UNIQUE INDEX sessions_start_key ON sessions (charge_point_id, start_key)
    WHERE start_key IS NOT NULL;
CREATE UNIQUE INDEX sessions_orphan_stop ON sessions (charge_point_id, stop_key)
    WHERE status = 'orphaned';
CREATE INDEX sessions_started ON sessions (started_at DESC, id DESC);
CREATE INDEX sessions_charge_point ON sessions (charge_point_id, id DESC);

-- Every sampled value as the charger sent it, plus its normalised energy in Wh.
-- session_id is NULL for samples outside a transaction we know.
CREATE TABLE meter_samples (
    id               bigserial PRIMARY KEY,
    charge_point_id  text NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    session_id       bigint REFERENCES sessions (id) ON DELETE CASCADE,
    evse_id          integer NOT NULL,
    connector_id     integer NOT NULL,
    transaction_id   text,
    sampled_at       timestamptz NOT NULL,
    measurand        text NOT NULL,
    phase            text NOT NULL DEFAULT '',
    location         text NOT NULL DEFAULT '',
    context          text NOT NULL,
    format           text NOT NULL DEFAULT 'Raw',
    unit             text,
    value            text NOT NULL,
    value_numeric    numeric,
    energy_wh        bigint,
    received_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX meter_samples_identity ON meter_samples
    (charge_point_id, connector_id, coalesce(session_id, 0), coalesce(transaction_id, ''),
     sampled_at, measurand, phase, location);
CREATE INDEX meter_samples_session ON meter_samples (session_id, sampled_at);

-- Status reports that are not connector states: firmware, diagnostics, logs, security.
CREATE TABLE charge_point_events (
    id               bigserial PRIMARY KEY,
    charge_point_id  text NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    kind             text NOT NULL,
    status           text,
    payload          jsonb NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX charge_point_events_cp ON charge_point_events (charge_point_id, id DESC);

-- Every frame in and out, as text (a frame may not even be JSON).
CREATE TABLE message_log (
    id               bigserial PRIMARY KEY,
    charge_point_id  text NOT NULL,
    direction        text NOT NULL CHECK (direction IN ('in', 'out')),
    message_type     smallint,
    unique_id        text,
    action           text,
    frame            text NOT NULL,
    truncated        boolean NOT NULL DEFAULT false,
    logged_at        timestamptz NOT NULL
);
CREATE INDEX message_log_cp ON message_log (charge_point_id, id DESC);

-- Follow-up work that must not run inside an OCPP handler.
CREATE TABLE jobs (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL,
    payload      jsonb NOT NULL DEFAULT '{}',
    dedupe_key   text UNIQUE,
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    attempts     integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 10,
    run_at       timestamptz NOT NULL DEFAULT now(),
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_due ON jobs (run_at) WHERE status = 'pending';

-- The admin API bearer token, stored as a SHA-256 digest only.
CREATE TABLE admin_credentials (
    id            smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    token_sha256  bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
