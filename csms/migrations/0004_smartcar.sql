-- Smartcar: Connect states, OAuth grants (tokens encrypted by the application), which
-- vehicle uses which grant, the call ledger, linked vehicles with their last known state,
-- and received webhook events.
--
-- The smartcar_* tables belong to smartcar_bridge (SQL in smartcar_bridge/store.py);
-- vehicles and smartcar_webhook_events to csms (csms/store/vehicles.py).

-- A Connect `state` we issued: only its SHA-256 is kept; single use (deleted when used).
CREATE TABLE smartcar_connect_states (
    state_sha256  bytea PRIMARY KEY,
    owner         text NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL
);
CREATE INDEX smartcar_connect_states_expiry ON smartcar_connect_states (expires_at);

-- One Connect authorisation of one Smartcar user: the token pair, AES-GCM encrypted.
CREATE TABLE smartcar_grants (
    id                  bigserial PRIMARY KEY,
    smartcar_user_id    text UNIQUE,
    access_token        bytea NOT NULL,
    refresh_token       bytea NOT NULL,
    access_expires_at   timestamptz NOT NULL,
    refresh_expires_at  timestamptz NOT NULL,
    scopes              text[] NOT NULL DEFAULT '{}',
    status              text NOT NULL DEFAULT 'active'
                        CHECK (status IN ('active', 'reauth_required')),
    status_reason       text,
    refresh_count       integer NOT NULL DEFAULT 0,
    refreshed_at        timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE smartcar_grant_vehicles (
    vehicle_id  text PRIMARY KEY,
    grant_id    bigint NOT NULL REFERENCES smartcar_grants (id) ON DELETE CASCADE,
    linked_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX smartcar_grant_vehicles_grant ON smartcar_grant_vehicles (grant_id);

-- Requests sent to Smartcar (each costs money): per vehicle ('' = not about one vehicle),
-- per charging session ('' = outside one) and per calendar month (Smartcar bills monthly).
CREATE TABLE smartcar_call_counts (
    vehicle_id   text NOT NULL,
    session_ref  text NOT NULL,
    month        date NOT NULL,
    calls        bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (vehicle_id, session_ref, month)
);

-- A driver's car linked through Smartcar Connect, with the last state we know of it.
-- Unlinking keeps the row (history may point at it) and sets unlinked_at.
CREATE TABLE vehicles (
    id                    bigserial PRIMARY KEY,
    account_id            bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    smartcar_vehicle_id   text NOT NULL UNIQUE,
    vin                   text,
    make                  text,
    model                 text,
    year                  integer,
    battery_capacity_kwh  numeric(8, 3),
    capacity_source       text,
    plugged_in            boolean,
    charging_state        text,
    soc_percent           numeric(6, 3) CHECK (soc_percent BETWEEN 0 AND 100),
    state_at              timestamptz,
    state_source          text,
    linked_at             timestamptz NOT NULL DEFAULT now(),
    unlinked_at           timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX vehicles_account ON vehicles (account_id, id);
CREATE INDEX vehicles_vin ON vehicles (vin) WHERE vin IS NOT NULL;

-- Webhook deliveries that passed the signature check; event_id makes a redelivery a no-op.
CREATE TABLE smartcar_webhook_events (
    id                    bigserial PRIMARY KEY,
    event_id              text NOT NULL UNIQUE,
    event_type            text NOT NULL,
    smartcar_vehicle_id   text,
    vehicle_id            bigint REFERENCES vehicles (id) ON DELETE SET NULL,
    delivery_id           text,
    applied               boolean NOT NULL DEFAULT false,
    payload               jsonb NOT NULL,
    received_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX smartcar_webhook_events_vehicle ON smartcar_webhook_events (vehicle_id, id DESC);

-- Removing a vehicle row (an account deleted) must not leave its tokens behind: drop its
-- grant link, and the grant itself once no vehicle uses it.
CREATE FUNCTION smartcar_forget_vehicle() RETURNS trigger AS $$
DECLARE
    grant_of bigint;
BEGIN
    DELETE FROM smartcar_grant_vehicles WHERE vehicle_id = OLD.smartcar_vehicle_id
        RETURNING grant_id INTO grant_of;
    IF grant_of IS NOT NULL THEN
        DELETE FROM smartcar_grants g WHERE g.id = grant_of
            AND NOT EXISTS (SELECT 1 FROM smartcar_grant_vehicles v WHERE v.grant_id = g.id);
    END IF;
    RETURN OLD;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER vehicles_forget_tokens AFTER DELETE ON vehicles
    FOR EACH ROW EXECUTE FUNCTION smartcar_forget_vehicle();
