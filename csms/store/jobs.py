"""SQL for the follow-up job table: enqueue in the caller's transaction, claim with
``FOR UPDATE SKIP LOCKED``, finish or reschedule."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from csms.store import Row


async def enqueue(
    conn: asyncpg.Connection,
    kind: str,
    payload: dict[str, Any],
    *,
    dedupe_key: str | None = None,
    run_at: datetime | None = None,
    max_attempts: int = 10,
) -> bool:
    """Add a job; False when a job with the same dedupe key exists already."""
    status: str = await conn.execute(
        """INSERT INTO jobs (kind, payload, dedupe_key, run_at, max_attempts)
           VALUES ($1, $2, $3, coalesce($4, now()), $5) ON CONFLICT (dedupe_key) DO NOTHING""",
        kind,
        payload,
        dedupe_key,
        run_at,
        max_attempts,
    )
    return status.endswith(" 1")


async def claim_due(conn: asyncpg.Connection, *, now: datetime) -> Row | None:
    """Lock one due job; the caller's transaction holds it until it finishes it."""
    record = await conn.fetchrow(
        """SELECT id, kind, payload, attempts, max_attempts FROM jobs
           WHERE status = 'pending' AND run_at <= $1
           ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED""",
        now,
    )
    return None if record is None else dict(record)


async def finish(conn: asyncpg.Connection, job_id: int) -> None:
    await conn.execute(
        """UPDATE jobs SET status = 'done', attempts = attempts + 1, updated_at = now()
           WHERE id = $1""",
        job_id,
    )


async def retry_later(
    conn: asyncpg.Connection, job_id: int, *, error: str, run_at: datetime, give_up: bool
) -> None:
    await conn.execute(
        """UPDATE jobs SET attempts = attempts + 1, last_error = $2, run_at = $3,
               status = CASE WHEN $4 THEN 'failed' ELSE 'pending' END, updated_at = now()
           WHERE id = $1""",
        job_id,
        error,
        run_at,
        give_up,
    )


async def get(conn: asyncpg.Connection, job_id: int) -> Row | None:
    record = await conn.fetchrow("SELECT * FROM jobs WHERE id = $1", job_id)
    return None if record is None else dict(record)
