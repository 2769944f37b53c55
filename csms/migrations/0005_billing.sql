-- Billing: tariffs (OCPI 2.2.1 documents) with a default and per-charger assignment,
-- invoices and credit notes (immutable once issued), payments (one PaymentIntent state
-- machine per session) and every call made to the payment provider.
-- Money is integer minor units of the row's ISO 4217 currency; never floats.

-- The card saved for an account at the payment provider (Stripe customer and payment
-- method ids). References, not secrets.
ALTER TABLE accounts
    ADD COLUMN payment_customer_id  text CHECK (length(payment_customer_id) <= 255),
    ADD COLUMN payment_method_id    text CHECK (length(payment_method_id) <= 255);

-- valid_from / valid_to mirror the document's start_date_time / end_date_time (NULL:
-- unbounded) so the tariff valid at a session's start can be found in SQL.
CREATE TABLE tariffs (
    id          bigserial PRIMARY KEY,
    name        text CHECK (length(name) <= 200),
    ocpi_id     text,
    currency    text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    document    jsonb NOT NULL,
    valid_from  timestamptz,
    valid_to    timestamptz,
    is_default  boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_to IS NULL OR valid_from IS NULL OR valid_to > valid_from)
);
CREATE INDEX tariffs_default ON tariffs (valid_from) WHERE is_default;

-- Tariffs assigned to a charger; they win over the default. Several may be assigned
-- with different validity windows (a price change scheduled ahead of time).
CREATE TABLE charge_point_tariffs (
    charge_point_id  text NOT NULL REFERENCES charge_points (id) ON DELETE CASCADE,
    tariff_id        bigint NOT NULL REFERENCES tariffs (id) ON DELETE CASCADE,
    assigned_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (charge_point_id, tariff_id)
);
CREATE INDEX charge_point_tariffs_tariff ON charge_point_tariffs (tariff_id);

CREATE SEQUENCE invoice_number START 1;

-- kind 'invoice': the bill of one session (at most one per session).
-- kind 'credit_note': a correction of an issued invoice (credit_for), negative total.
-- status: issued (final), held_for_review (METER_HIGH, not payable yet), void
-- (VEHICLE_MISMATCH: nothing charged), unpriced (no tariff applied; replaceable).
-- payment_status is what the driver sees of the money; payments holds the provider side.
CREATE TABLE invoices (
    id                bigserial PRIMARY KEY,
    number            text NOT NULL UNIQUE,
    kind              text NOT NULL CHECK (kind IN ('invoice', 'credit_note')),
    session_id        bigint NOT NULL REFERENCES sessions (id) ON DELETE RESTRICT,
    credit_for        bigint REFERENCES invoices (id) ON DELETE RESTRICT,
    credit_number     integer,
    account_id        bigint REFERENCES accounts (id) ON DELETE SET NULL,
    charge_point_id   text NOT NULL,
    tariff_id         bigint REFERENCES tariffs (id) ON DELETE SET NULL,
    tariff            jsonb,
    currency          text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    total_minor       bigint NOT NULL,
    energy_wh         bigint,
    billed_energy_wh  bigint,
    verdict           text CHECK (verdict IN ('OK', 'INCONCLUSIVE', 'METER_LOW', 'METER_HIGH',
                                              'VEHICLE_MISMATCH')),
    flags             text[] NOT NULL DEFAULT '{}',
    status            text NOT NULL
                      CHECK (status IN ('issued', 'held_for_review', 'void', 'unpriced')),
    payment_status    text NOT NULL CHECK (payment_status IN (
                          'pending', 'captured', 'failed', 'canceled', 'not_required',
                          'waived', 'awaiting_review', 'no_payment_account', 'refunded',
                          'partially_refunded')),
    charger_ticket    boolean NOT NULL DEFAULT false,
    detail            jsonb NOT NULL,
    reason            text,
    request_key       text,
    issued_at         timestamptz NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'credit_note') = (credit_for IS NOT NULL)),
    CHECK (kind = 'invoice' OR (total_minor < 0 AND credit_number IS NOT NULL)),
    CHECK (kind = 'credit_note' OR total_minor >= 0)
);
CREATE UNIQUE INDEX invoices_session ON invoices (session_id) WHERE kind = 'invoice';
CREATE UNIQUE INDEX invoices_credit_number ON invoices (credit_for, credit_number)
    WHERE kind = 'credit_note';
CREATE UNIQUE INDEX invoices_credit_request ON invoices (credit_for, request_key)
    WHERE request_key IS NOT NULL;
CREATE INDEX invoices_account ON invoices (account_id, id DESC);
CREATE INDEX invoices_credit_for ON invoices (credit_for) WHERE credit_for IS NOT NULL;

-- Issued means immutable: what was billed never changes. A held invoice may only be
-- issued or voided by its review; only an unpriced one may be priced later. Payment
-- status, the account and tariff links (their rows deleted: the tariff snapshot stays)
-- and updated_at may always change.
CREATE FUNCTION invoices_immutable() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'unpriced' THEN
            RAISE EXCEPTION 'invoice % is % and cannot be deleted', OLD.number, OLD.status
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status = 'unpriced' THEN
        RETURN NEW;
    END IF;
    IF (NEW.number, NEW.kind, NEW.session_id, NEW.credit_for, NEW.credit_number,
        NEW.charge_point_id, NEW.tariff, NEW.currency, NEW.total_minor,
        NEW.energy_wh, NEW.billed_energy_wh, NEW.verdict, NEW.flags, NEW.detail,
        NEW.reason, NEW.request_key, NEW.issued_at, NEW.charger_ticket)
       IS DISTINCT FROM
       (OLD.number, OLD.kind, OLD.session_id, OLD.credit_for, OLD.credit_number,
        OLD.charge_point_id, OLD.tariff, OLD.currency, OLD.total_minor,
        OLD.energy_wh, OLD.billed_energy_wh, OLD.verdict, OLD.flags, OLD.detail,
        OLD.reason, OLD.request_key, OLD.issued_at, OLD.charger_ticket) THEN
        RAISE EXCEPTION 'invoice % is % and immutable; issue a credit note instead',
            OLD.number, OLD.status USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.status <> OLD.status
       AND NOT (OLD.status = 'held_for_review' AND NEW.status IN ('issued', 'void')) THEN
        RAISE EXCEPTION 'invoice % cannot go from % to %', OLD.number, OLD.status, NEW.status
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER invoices_immutable BEFORE UPDATE OR DELETE ON invoices
    FOR EACH ROW EXECUTE FUNCTION invoices_immutable();

-- The provider side of a session's money: the current PaymentIntent (intent counts the
-- ones created, so later ones get new idempotency keys) and what it holds and moved.
-- status: pending (nothing at the provider yet), held, captured, canceled, failed.
CREATE TABLE payments (
    id               bigserial PRIMARY KEY,
    session_id       bigint NOT NULL UNIQUE REFERENCES sessions (id) ON DELETE RESTRICT,
    account_id       bigint REFERENCES accounts (id) ON DELETE SET NULL,
    provider         text NOT NULL,
    provider_ref     text,
    intent           integer NOT NULL DEFAULT 0,
    currency         text NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'held', 'captured', 'canceled', 'failed')),
    held_minor       bigint NOT NULL DEFAULT 0 CHECK (held_minor >= 0),
    captured_minor   bigint NOT NULL DEFAULT 0 CHECK (captured_minor >= 0),
    refunded_minor   bigint NOT NULL DEFAULT 0
                     CHECK (refunded_minor >= 0 AND refunded_minor <= captured_minor),
    declines         integer NOT NULL DEFAULT 0,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_account ON payments (account_id);

-- Every call to the provider, written before the call ('started') and completed with its
-- outcome, so a crash in between still leaves a trace.
CREATE TABLE payment_attempts (
    id               bigserial PRIMARY KEY,
    payment_id       bigint NOT NULL REFERENCES payments (id) ON DELETE CASCADE,
    operation        text NOT NULL
                     CHECK (operation IN ('hold', 'capture', 'cancel', 'refund', 'retrieve')),
    idempotency_key  text,
    amount_minor     bigint,
    outcome          text NOT NULL DEFAULT 'started' CHECK (outcome IN (
                         'started', 'succeeded', 'declined', 'rejected', 'unavailable')),
    provider_ref     text,
    error_code       text,
    error_message    text,
    started_at       timestamptz NOT NULL,
    finished_at      timestamptz
);
CREATE INDEX payment_attempts_payment ON payment_attempts (payment_id, id);

-- Refunds asked for by credit notes; the job that executes one updates it.
CREATE TABLE refunds (
    id               bigserial PRIMARY KEY,
    payment_id       bigint NOT NULL REFERENCES payments (id) ON DELETE RESTRICT,
    credit_note_id   bigint NOT NULL UNIQUE REFERENCES invoices (id) ON DELETE RESTRICT,
    amount_minor     bigint NOT NULL CHECK (amount_minor > 0),
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'succeeded', 'failed')),
    provider_ref     text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
