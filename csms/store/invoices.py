"""SQL for invoices and credit notes, and the account history built from them.

Issued invoices are immutable (a trigger in 0005_billing.sql refuses changes); only the
payment status moves, and a held invoice is issued or voided by its review.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from csms.store import Row, row_dict

COLUMNS = """id, number, kind, session_id, credit_for, credit_number, account_id,
    charge_point_id, tariff_id, tariff, currency, total_minor, energy_wh, billed_energy_wh,
    verdict, flags, status, payment_status, charger_ticket, detail, reason, request_key,
    issued_at, created_at, updated_at"""

_INSERTABLE = {
    "kind",
    "session_id",
    "credit_for",
    "credit_number",
    "account_id",
    "charge_point_id",
    "tariff_id",
    "tariff",
    "currency",
    "total_minor",
    "energy_wh",
    "billed_energy_wh",
    "verdict",
    "flags",
    "status",
    "payment_status",
    "charger_ticket",
    "detail",
    "reason",
    "request_key",
    "issued_at",
}


def _check(fields: dict[str, Any]) -> None:
    if set(fields) - _INSERTABLE:
        raise ValueError(f"unknown invoice fields: {sorted(set(fields) - _INSERTABLE)}")


async def insert(conn: asyncpg.Connection, fields: dict[str, Any]) -> Row | None:
    """Insert an invoice or credit note with the next number; None when the session
    already has its invoice (or the credit note's request key was used already)."""
    _check(fields)
    names = ", ".join(fields)
    values = ", ".join(f"${i}" for i in range(2, len(fields) + 2))
    record = await conn.fetchrow(
        f"""INSERT INTO invoices (number, {names})
            VALUES ($1 || lpad(nextval('invoice_number')::text, 8, '0'), {values})
            ON CONFLICT DO NOTHING RETURNING {COLUMNS}""",
        "CN-" if fields.get("kind") == "credit_note" else "INV-",
        *fields.values(),
    )
    return row_dict(record)


async def replace_unpriced(
    conn: asyncpg.Connection, invoice_id: int, fields: dict[str, Any]
) -> Row:
    """Price an invoice that was stored unpriced (no tariff applied at the time)."""
    _check(fields)
    assignments = "".join(f"{name} = ${i}, " for i, name in enumerate(fields, start=2))
    record = await conn.fetchrow(
        f"""UPDATE invoices SET {assignments}updated_at = now()
            WHERE id = $1 AND status = 'unpriced' RETURNING {COLUMNS}""",
        invoice_id,
        *fields.values(),
    )
    assert record is not None
    return dict(record)


async def get(conn: asyncpg.Connection, invoice_id: int, *, lock: bool = False) -> Row | None:
    suffix = " FOR NO KEY UPDATE" if lock else ""
    return row_dict(
        await conn.fetchrow(f"SELECT {COLUMNS} FROM invoices WHERE id = $1{suffix}", invoice_id)
    )


async def of_session(
    conn: asyncpg.Connection, session_id: int, *, lock: bool = False
) -> Row | None:
    """The invoice (not a credit note) of a session."""
    suffix = " FOR NO KEY UPDATE" if lock else ""
    return row_dict(
        await conn.fetchrow(
            f"SELECT {COLUMNS} FROM invoices WHERE session_id = $1 AND kind = 'invoice'{suffix}",
            session_id,
        )
    )


async def credit_notes(conn: asyncpg.Connection, invoice_id: int) -> list[Row]:
    records = await conn.fetch(
        f"""SELECT {COLUMNS} FROM invoices WHERE credit_for = $1 ORDER BY credit_number""",
        invoice_id,
    )
    return [dict(r) for r in records]


async def credit_by_request(
    conn: asyncpg.Connection, invoice_id: int, request_key: str
) -> Row | None:
    return row_dict(
        await conn.fetchrow(
            f"SELECT {COLUMNS} FROM invoices WHERE credit_for = $1 AND request_key = $2",
            invoice_id,
            request_key,
        )
    )


async def set_payment_status(conn: asyncpg.Connection, invoice_id: int, status: str) -> None:
    await conn.execute(
        "UPDATE invoices SET payment_status = $2, updated_at = now() WHERE id = $1",
        invoice_id,
        status,
    )


async def set_status(
    conn: asyncpg.Connection, invoice_id: int, *, status: str, payment_status: str
) -> Row:
    record = await conn.fetchrow(
        f"""UPDATE invoices SET status = $2, payment_status = $3, updated_at = now()
            WHERE id = $1 RETURNING {COLUMNS}""",
        invoice_id,
        status,
        payment_status,
    )
    assert record is not None
    return dict(record)


async def page(
    conn: asyncpg.Connection,
    *,
    account_id: int | None,
    session_id: int | None,
    kind: str | None,
    status: str | None,
    before_id: int | None,
    limit: int,
) -> list[Row]:
    """Invoices and credit notes, newest first, filtered; ``before_id`` is the cursor."""
    records = await conn.fetch(
        f"""SELECT {COLUMNS} FROM invoices
            WHERE ($1::bigint IS NULL OR account_id = $1)
              AND ($2::bigint IS NULL OR session_id = $2)
              AND ($3::text IS NULL OR kind = $3)
              AND ($4::text IS NULL OR status = $4)
              AND ($5::bigint IS NULL OR id < $5)
            ORDER BY id DESC LIMIT $6""",
        account_id,
        session_id,
        kind,
        status,
        before_id,
        limit,
    )
    return [dict(r) for r in records]


async def account_history(
    conn: asyncpg.Connection, account_id: int, *, before_id: int | None, limit: int
) -> list[Row]:
    """An account's sessions, newest first, each with its bill and the running total.

    ``charged_minor`` is what the session costs the driver now: the issued invoice's total
    plus its credit notes (held, void and unpriced invoices cost nothing yet).
    ``running_total_minor`` adds that up per currency over the account's sessions from the
    first one to this one (in session order, the order they were opened).
    """
    records = await conn.fetch(
        """WITH history AS (
               SELECT s.id AS session_id, s.charge_point_id, s.evse_id, s.connector_id,
                      s.status AS session_status, s.started_at, s.ended_at, s.energy_wh,
                      i.id AS invoice_id, i.number AS invoice_number, i.status AS invoice_status,
                      i.payment_status, i.verdict, i.currency, i.total_minor,
                      coalesce(c.credited_minor, 0)::bigint AS credited_minor,
                      CASE WHEN i.status = 'issued'
                           THEN i.total_minor + coalesce(c.credited_minor, 0) ELSE 0
                      END::bigint AS charged_minor
               FROM sessions s
               LEFT JOIN invoices i ON i.session_id = s.id AND i.kind = 'invoice'
               LEFT JOIN LATERAL (
                   SELECT sum(total_minor) AS credited_minor FROM invoices
                   WHERE credit_for = i.id) c ON true
               WHERE s.account_id = $1 AND s.status <> 'orphaned'
           )
           , totals AS (
               SELECT *, CASE WHEN currency IS NULL THEN NULL ELSE
                          sum(charged_minor) OVER (
                              PARTITION BY currency ORDER BY session_id
                              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)::bigint
                      END AS running_total_minor
               FROM history
           )
           SELECT * FROM totals
           WHERE ($2::bigint IS NULL OR session_id < $2)
           ORDER BY session_id DESC
           LIMIT $3""",
        account_id,
        before_id,
        limit,
    )
    return [dict(r) for r in records]
