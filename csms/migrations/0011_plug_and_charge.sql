-- Plug-and-charge: what a driver's account may charge (target SoC, spending cap, the id
-- token the central system starts its sessions with), where each linked car was last
-- seen, one match attempt per plug event with its evidence, the Smartcar readings taken
-- for it (matching polls and the session's SoC series), learned Autocharge tags, and the
-- card hold placed before a session exists.

ALTER TABLE accounts
    ADD COLUMN target_soc_percent  smallint NOT NULL DEFAULT 80
                                   CHECK (target_soc_percent BETWEEN 1 AND 100),
    ADD COLUMN spending_cap_minor  bigint CHECK (spending_cap_minor > 0),
    ADD COLUMN pnc_id_token        text UNIQUE;

ALTER TABLE vehicles
    ADD COLUMN latitude     double precision CHECK (latitude BETWEEN -90 AND 90),
    ADD COLUMN longitude    double precision CHECK (longitude BETWEEN -180 AND 180),
    ADD COLUMN location_at  timestamptz,
    ADD CHECK ((latitude IS NULL) = (longitude IS NULL));

-- One plug event on one connector and what came of it.
-- status: matching (deciding), starting (matched: hold and start under way), charging
-- (bound to the charger's transaction), ended (that transaction ended: final reading and
-- bill), and the terminal ones: no_match (no candidate or ambiguous: ordinary
-- authorisation), declined (the account may not charge or the hold was refused),
-- superseded (the charger was authorised otherwise), abandoned (unplugged or timed out
-- before the start), failed (the charger refused the start), done (billed).
CREATE TABLE plug_attempts (
    id                bigserial PRIMARY KEY,
    charge_point_id   text NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    evse_id           integer NOT NULL,
    connector_id      integer NOT NULL,
    plugged_at        timestamptz NOT NULL,
    trigger           text NOT NULL,
    status            text NOT NULL DEFAULT 'matching' CHECK (status IN (
                          'matching', 'starting', 'charging', 'ended', 'no_match',
                          'declined', 'superseded', 'abandoned', 'failed', 'done')),
    outcome           text,
    method            text,
    reason            text,
    id_token          text,
    id_token_type     text,
    rounds            integer NOT NULL DEFAULT 0,
    evidence          jsonb NOT NULL DEFAULT '[]',
    vehicle_id        bigint REFERENCES vehicles (id) ON DELETE SET NULL,
    vin               text,
    account_id        bigint REFERENCES accounts (id) ON DELETE SET NULL,
    start_id_token    text,
    session_id        bigint UNIQUE REFERENCES sessions (id) ON DELETE SET NULL,
    target_soc_percent smallint,
    spending_cap_minor bigint,
    hold_minor        bigint,
    currency          text,
    guard             text NOT NULL DEFAULT 'pending'
                      CHECK (guard IN ('pending', 'passed', 'tripped', 'skipped')),
    car_started       boolean NOT NULL DEFAULT false,
    stop_reason       text,
    stop_requested_at timestamptz,
    mismatch_reason   text,
    history           jsonb NOT NULL DEFAULT '[]',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
-- At most one undecided or unstarted attempt per connector.
CREATE UNIQUE INDEX plug_attempts_open ON plug_attempts (charge_point_id, evse_id)
    WHERE status IN ('matching', 'starting');
CREATE INDEX plug_attempts_recent ON plug_attempts (plugged_at DESC, id DESC);
CREATE INDEX plug_attempts_vehicle ON plug_attempts (vehicle_id)
    WHERE status IN ('starting', 'charging');

-- What Smartcar said about a car for an attempt: matching polls and the session's SoC
-- series (purpose start, guard, target, end). A failed read keeps its error.
CREATE TABLE vehicle_readings (
    id              bigserial PRIMARY KEY,
    attempt_id      bigint NOT NULL REFERENCES plug_attempts (id) ON DELETE CASCADE,
    vehicle_id      bigint REFERENCES vehicles (id) ON DELETE SET NULL,
    purpose         text NOT NULL
                    CHECK (purpose IN ('match', 'start', 'guard', 'target', 'end', 'webhook')),
    fetched_at      timestamptz NOT NULL,
    data_age        timestamptz,
    soc_percent     numeric(6, 3) CHECK (soc_percent BETWEEN 0 AND 100),
    is_plugged_in   boolean,
    charge_state    text,
    latitude        double precision,
    longitude       double precision,
    location_age    timestamptz,
    distance_m      numeric(12, 1),
    calls           integer NOT NULL DEFAULT 0,
    error           text
);
CREATE INDEX vehicle_readings_attempt ON vehicle_readings (attempt_id, id);

-- An Autocharge tag (VID: + MAC) or eMAID learned for a VIN. pending until confirmed by
-- as many sessions as the policy asks; refused when it was seen for another VIN.
CREATE TABLE autocharge_tags (
    tag             text PRIMARY KEY,
    vin             text NOT NULL,
    vehicle_id      bigint REFERENCES vehicles (id) ON DELETE SET NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'active', 'refused')),
    confirmations   integer NOT NULL DEFAULT 0,
    learned_from    bigint REFERENCES plug_attempts (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX autocharge_tags_vin ON autocharge_tags (vin);

-- A plug-and-charge hold is placed before the charger's transaction exists: the payment
-- belongs to the attempt until the session it started is known.
ALTER TABLE payments
    ALTER COLUMN session_id DROP NOT NULL,
    ADD COLUMN attempt_id bigint UNIQUE REFERENCES plug_attempts (id) ON DELETE RESTRICT,
    ADD CHECK (session_id IS NOT NULL OR attempt_id IS NOT NULL);

-- A plug event asks whether its connector already has a running, authorised transaction.
CREATE INDEX sessions_active_evse ON sessions (charge_point_id, evse_id) WHERE status = 'active';
