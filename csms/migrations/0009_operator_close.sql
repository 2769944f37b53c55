-- Operator close of a session whose stop never arrived (POST /sessions/{id}/close): when
-- and why, and what the charger said if its stop arrives later (reconciled, never billed
-- again; charger_stop_differs flags a final register that differs from the one billed).

ALTER TABLE sessions
    ADD COLUMN closed_by_operator_at   timestamptz,
    ADD COLUMN close_reason            text,
    ADD COLUMN charger_ended_at        timestamptz,
    ADD COLUMN charger_meter_stop_wh   bigint,
    ADD COLUMN charger_stop_reason     text,
    ADD COLUMN charger_stop_differs    boolean;
