-- Reservations (ReserveNow / CancelReservation) with the charger's answer. reservation_id
-- is the OCPP reservationId (an integer); ids we generate come from reservation_id, an
-- operator may give their own. A ReserveNow with the id of an existing reservation of the
-- same charger replaces it (OCPP). Expiry is computed on read: a requested or accepted
-- reservation whose expiry_date has passed is reported as 'expired'.

CREATE SEQUENCE reservation_id AS integer START 1;

CREATE TABLE reservations (
    id               bigserial PRIMARY KEY,
    charge_point_id  text NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    reservation_id   integer NOT NULL,
    protocol         text NOT NULL,
    -- 1.6: the connector (evse_id = connector_id); 2.0.1: the EVSE (connector_id NULL);
    -- NULL: any (2.0.1 without evseId, 1.6 connector 0 is stored as 0).
    evse_id          integer,
    connector_id     integer,
    id_token         text NOT NULL,
    parent_id_token  text,
    expiry_date      timestamptz NOT NULL,
    status           text NOT NULL CHECK (status IN ('requested', 'accepted', 'rejected',
                         'faulted', 'occupied', 'unavailable', 'cancelled', 'used', 'expired')),
    session_id       bigint REFERENCES sessions (id) ON DELETE SET NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (charge_point_id, reservation_id)
);
CREATE INDEX reservations_charge_point ON reservations (charge_point_id, id DESC);
