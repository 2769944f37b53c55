"""SQL for payments (the provider side of a session's money), every attempt made at the
provider, and refunds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from csms.store import Row, row_dict

COLUMNS = """id, session_id, attempt_id, account_id, provider, provider_ref, intent, currency,
    status, held_minor, captured_minor, refunded_minor, declines, last_error, created_at,
    updated_at"""
ATTEMPT_COLUMNS = """id, payment_id, operation, idempotency_key, amount_minor, outcome,
    provider_ref, error_code, error_message, started_at, finished_at"""
REFUND_COLUMNS = """id, payment_id, credit_note_id, amount_minor, status, provider_ref,
    created_at, updated_at"""


async def ensure(
    conn: asyncpg.Connection,
    *,
    session_id: int,
    account_id: int | None,
    provider: str,
    currency: str,
) -> Row:
    """The session's payment, created when it has none (a hold placed at session start
    by plug-and-charge already made one)."""
    record = await conn.fetchrow(
        f"""INSERT INTO payments (session_id, account_id, provider, currency)
            VALUES ($1, $2, $3, $4) ON CONFLICT (session_id) DO NOTHING RETURNING {COLUMNS}""",
        session_id,
        account_id,
        provider,
        currency,
    )
    if record is None:
        record = await conn.fetchrow(
            f"SELECT {COLUMNS} FROM payments WHERE session_id = $1", session_id
        )
    assert record is not None
    return dict(record)


async def ensure_for_attempt(
    conn: asyncpg.Connection,
    *,
    attempt_id: int,
    account_id: int,
    provider: str,
    currency: str,
) -> Row:
    """The payment of a plug-and-charge attempt (its hold comes before the session)."""
    record = await conn.fetchrow(
        f"""INSERT INTO payments (attempt_id, account_id, provider, currency)
            VALUES ($1, $2, $3, $4) ON CONFLICT (attempt_id) DO NOTHING RETURNING {COLUMNS}""",
        attempt_id,
        account_id,
        provider,
        currency,
    )
    if record is None:
        record = await conn.fetchrow(
            f"SELECT {COLUMNS} FROM payments WHERE attempt_id = $1", attempt_id
        )
    assert record is not None
    return dict(record)


async def of_attempt(conn: asyncpg.Connection, attempt_id: int) -> Row | None:
    return row_dict(
        await conn.fetchrow(f"SELECT {COLUMNS} FROM payments WHERE attempt_id = $1", attempt_id)
    )


async def bind_to_session(conn: asyncpg.Connection, attempt_id: int, session_id: int) -> None:
    """The attempt's hold now belongs to the session it started (settled with its bill)."""
    await conn.execute(
        """UPDATE payments SET session_id = $2, updated_at = now()
           WHERE attempt_id = $1 AND session_id IS NULL""",
        attempt_id,
        session_id,
    )


async def of_session(
    conn: asyncpg.Connection, session_id: int, *, lock: bool = False
) -> Row | None:
    suffix = " FOR NO KEY UPDATE" if lock else ""
    return row_dict(
        await conn.fetchrow(
            f"SELECT {COLUMNS} FROM payments WHERE session_id = $1{suffix}", session_id
        )
    )


async def get(conn: asyncpg.Connection, payment_id: int, *, lock: bool = False) -> Row | None:
    suffix = " FOR NO KEY UPDATE" if lock else ""
    return row_dict(
        await conn.fetchrow(f"SELECT {COLUMNS} FROM payments WHERE id = $1{suffix}", payment_id)
    )


async def update(conn: asyncpg.Connection, payment_id: int, fields: dict[str, Any]) -> Row:
    allowed = {
        "provider_ref",
        "intent",
        "status",
        "held_minor",
        "captured_minor",
        "refunded_minor",
        "declines",
        "last_error",
    }
    if set(fields) - allowed:
        raise ValueError(f"not updatable: {sorted(set(fields) - allowed)}")
    assignments = "".join(f"{name} = ${i}, " for i, name in enumerate(fields, start=2))
    record = await conn.fetchrow(
        f"""UPDATE payments SET {assignments}updated_at = now() WHERE id = $1
            RETURNING {COLUMNS}""",
        payment_id,
        *fields.values(),
    )
    assert record is not None
    return dict(record)


async def start_attempt(
    conn: asyncpg.Connection,
    *,
    payment_id: int,
    operation: str,
    idempotency_key: str | None,
    amount_minor: int | None,
    provider_ref: str | None,
    at: datetime,
) -> int:
    attempt_id: int = await conn.fetchval(
        """INSERT INTO payment_attempts (payment_id, operation, idempotency_key, amount_minor,
               provider_ref, started_at)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING id""",
        payment_id,
        operation,
        idempotency_key,
        amount_minor,
        provider_ref,
        at,
    )
    return attempt_id


async def finish_attempt(
    conn: asyncpg.Connection,
    attempt_id: int,
    *,
    outcome: str,
    at: datetime,
    provider_ref: str | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
) -> None:
    await conn.execute(
        """UPDATE payment_attempts SET outcome = $2, finished_at = $3,
               provider_ref = coalesce($4, provider_ref), error_code = $5, error_message = $6
           WHERE id = $1""",
        attempt_id,
        outcome,
        at,
        provider_ref,
        error_code,
        None if error_message is None else error_message[:2000],
    )


async def attempts(conn: asyncpg.Connection, payment_id: int) -> list[Row]:
    records = await conn.fetch(
        f"SELECT {ATTEMPT_COLUMNS} FROM payment_attempts WHERE payment_id = $1 ORDER BY id",
        payment_id,
    )
    return [dict(r) for r in records]


async def insert_refund(
    conn: asyncpg.Connection, *, payment_id: int, credit_note_id: int, amount_minor: int
) -> Row:
    record = await conn.fetchrow(
        f"""INSERT INTO refunds (payment_id, credit_note_id, amount_minor) VALUES ($1, $2, $3)
            RETURNING {REFUND_COLUMNS}""",
        payment_id,
        credit_note_id,
        amount_minor,
    )
    assert record is not None
    return dict(record)


async def refund_of(
    conn: asyncpg.Connection, credit_note_id: int, *, lock: bool = False
) -> Row | None:
    suffix = " FOR NO KEY UPDATE" if lock else ""
    return row_dict(
        await conn.fetchrow(
            f"SELECT {REFUND_COLUMNS} FROM refunds WHERE credit_note_id = $1{suffix}",
            credit_note_id,
        )
    )


async def refunds(conn: asyncpg.Connection, payment_id: int) -> list[Row]:
    records = await conn.fetch(
        f"SELECT {REFUND_COLUMNS} FROM refunds WHERE payment_id = $1 ORDER BY id", payment_id
    )
    return [dict(r) for r in records]


async def finish_refund(
    conn: asyncpg.Connection, refund_id: int, *, status: str, provider_ref: str | None
) -> None:
    await conn.execute(
        """UPDATE refunds SET status = $2, provider_ref = coalesce($3, provider_ref),
               updated_at = now() WHERE id = $1""",
        refund_id,
        status,
        provider_ref,
    )
