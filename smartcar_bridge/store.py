"""SQL of the bridge, and nothing else: Connect states, grants (encrypted token pairs),
which vehicle uses which grant, and the call ledger.

The tables are created by the application's migrations (``csms/migrations/0004``).
Functions take a connection so the caller decides the transaction; token values arrive
here already encrypted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import structlog

__all__ = [
    "PostgresCallLedger",
    "call_counts",
    "consume_state",
    "delete_grant_if_unused",
    "get_grant",
    "grant_for_vehicle",
    "insert_state",
    "link_vehicle",
    "lock_grant",
    "mark_reauth_required",
    "purge_states",
    "record_calls",
    "unlink_vehicle",
    "update_tokens",
    "upsert_grant",
]

log = structlog.get_logger(__name__)

Row = dict[str, Any]

_GRANT = """g.id, g.smartcar_user_id, g.access_token, g.refresh_token, g.access_expires_at,
    g.refresh_expires_at, g.scopes, g.status, g.status_reason, g.refresh_count,
    g.refreshed_at"""


def _row(record: asyncpg.Record | None) -> Row | None:
    return None if record is None else dict(record)


# --- Connect states ------------------------------------------------------------------------


async def insert_state(
    conn: asyncpg.Connection,
    state_sha256: bytes,
    owner: str,
    created_at: datetime,
    expires_at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO smartcar_connect_states (state_sha256, owner, created_at, expires_at)
           VALUES ($1, $2, $3, $4)""",
        state_sha256,
        owner,
        created_at,
        expires_at,
    )


async def consume_state(conn: asyncpg.Connection, state_sha256: bytes) -> Row | None:
    """Delete the state and return it (owner, expires_at); None if unknown or used."""
    return _row(
        await conn.fetchrow(
            """DELETE FROM smartcar_connect_states WHERE state_sha256 = $1
               RETURNING owner, created_at, expires_at""",
            state_sha256,
        )
    )


async def purge_states(conn: asyncpg.Connection, now: datetime) -> int:
    status: str = await conn.execute(
        "DELETE FROM smartcar_connect_states WHERE expires_at < $1", now
    )
    return int(status.split()[-1])


# --- grants --------------------------------------------------------------------------------


async def upsert_grant(
    conn: asyncpg.Connection,
    *,
    smartcar_user_id: str | None,
    access_token: bytes,
    refresh_token: bytes,
    access_expires_at: datetime,
    refresh_expires_at: datetime,
    scopes: Sequence[str],
    now: datetime,
) -> int:
    """Store a fresh token pair; a user who connects again gets their grant replaced."""
    grant_id: int = await conn.fetchval(
        """INSERT INTO smartcar_grants AS g (smartcar_user_id, access_token, refresh_token,
               access_expires_at, refresh_expires_at, scopes, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
           ON CONFLICT (smartcar_user_id) DO UPDATE SET
               access_token = EXCLUDED.access_token,
               refresh_token = EXCLUDED.refresh_token,
               access_expires_at = EXCLUDED.access_expires_at,
               refresh_expires_at = EXCLUDED.refresh_expires_at,
               scopes = EXCLUDED.scopes,
               status = 'active',
               status_reason = NULL,
               updated_at = EXCLUDED.updated_at
           RETURNING g.id""",
        smartcar_user_id,
        access_token,
        refresh_token,
        access_expires_at,
        refresh_expires_at,
        list(scopes),
        now,
    )
    return grant_id


async def get_grant(conn: asyncpg.Connection, grant_id: int) -> Row | None:
    return _row(
        await conn.fetchrow(f"SELECT {_GRANT} FROM smartcar_grants g WHERE g.id = $1", grant_id)  # noqa: S608
    )


async def grant_for_vehicle(conn: asyncpg.Connection, vehicle_id: str) -> Row | None:
    return _row(
        await conn.fetchrow(
            f"""SELECT {_GRANT} FROM smartcar_grants g
                JOIN smartcar_grant_vehicles v ON v.grant_id = g.id
                WHERE v.vehicle_id = $1""",  # noqa: S608
            vehicle_id,
        )
    )


async def lock_grant(conn: asyncpg.Connection, grant_id: int) -> Row | None:
    """The grant row, locked until the transaction ends: the one who holds it is the only
    one who may spend its refresh token."""
    return _row(
        await conn.fetchrow(
            f"SELECT {_GRANT} FROM smartcar_grants g WHERE g.id = $1 FOR UPDATE",  # noqa: S608
            grant_id,
        )
    )


async def update_tokens(
    conn: asyncpg.Connection,
    grant_id: int,
    *,
    access_token: bytes,
    refresh_token: bytes,
    access_expires_at: datetime,
    refresh_expires_at: datetime,
    now: datetime,
) -> None:
    await conn.execute(
        """UPDATE smartcar_grants SET access_token = $2, refresh_token = $3,
               access_expires_at = $4, refresh_expires_at = $5, refreshed_at = $6,
               refresh_count = refresh_count + 1, updated_at = $6
           WHERE id = $1""",
        grant_id,
        access_token,
        refresh_token,
        access_expires_at,
        refresh_expires_at,
        now,
    )


async def mark_reauth_required(
    conn: asyncpg.Connection, grant_id: int, reason: str, now: datetime
) -> None:
    await conn.execute(
        """UPDATE smartcar_grants SET status = 'reauth_required', status_reason = $2,
               updated_at = $3 WHERE id = $1""",
        grant_id,
        reason[:500],
        now,
    )


async def link_vehicle(conn: asyncpg.Connection, vehicle_id: str, grant_id: int) -> int | None:
    """Point the vehicle at a grant; return the grant it used before (None if none)."""
    previous: int | None = await conn.fetchval(
        "SELECT grant_id FROM smartcar_grant_vehicles WHERE vehicle_id = $1 FOR UPDATE",
        vehicle_id,
    )
    await conn.execute(
        """INSERT INTO smartcar_grant_vehicles (vehicle_id, grant_id) VALUES ($1, $2)
           ON CONFLICT (vehicle_id) DO UPDATE SET grant_id = EXCLUDED.grant_id,
               linked_at = now()""",
        vehicle_id,
        grant_id,
    )
    return previous


async def unlink_vehicle(conn: asyncpg.Connection, vehicle_id: str) -> int | None:
    """Drop the vehicle's link; return the grant it used (None if it had none)."""
    grant_id: int | None = await conn.fetchval(
        "DELETE FROM smartcar_grant_vehicles WHERE vehicle_id = $1 RETURNING grant_id",
        vehicle_id,
    )
    return grant_id


async def delete_grant_if_unused(conn: asyncpg.Connection, grant_id: int) -> bool:
    status: str = await conn.execute(
        """DELETE FROM smartcar_grants g WHERE g.id = $1 AND NOT EXISTS
               (SELECT 1 FROM smartcar_grant_vehicles v WHERE v.grant_id = g.id)""",
        grant_id,
    )
    return status.endswith(" 1")


# --- call ledger ---------------------------------------------------------------------------


async def record_calls(
    conn: asyncpg.Connection, vehicle_id: str, session_ref: str, month: date, calls: int
) -> None:
    await conn.execute(
        """INSERT INTO smartcar_call_counts (vehicle_id, session_ref, month, calls)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (vehicle_id, session_ref, month)
           DO UPDATE SET calls = smartcar_call_counts.calls + EXCLUDED.calls""",
        vehicle_id,
        session_ref,
        month,
        calls,
    )


async def call_counts(
    conn: asyncpg.Connection, *, vehicle_id: str | None = None, session_ref: str | None = None
) -> int:
    """Total calls stored for a vehicle and/or a session (all months)."""
    total: int = await conn.fetchval(
        """SELECT coalesce(sum(calls), 0)::bigint FROM smartcar_call_counts
           WHERE ($1::text IS NULL OR vehicle_id = $1)
             AND ($2::text IS NULL OR session_ref = $2)""",
        vehicle_id,
        session_ref,
    )
    return total


class PostgresCallLedger:
    """Stores call counts; storage trouble is logged, never raised into a Smartcar call."""

    def __init__(self, pool: asyncpg.Pool, clock: Callable[[], datetime] | None = None) -> None:
        self._pool = pool
        self._clock = clock or (lambda: datetime.now(UTC))

    async def record(self, vehicle_id: str | None, session_ref: str | None, calls: int) -> None:
        month = self._clock().date().replace(day=1)
        try:
            async with self._pool.acquire() as conn:
                await record_calls(conn, vehicle_id or "", session_ref or "", month, calls)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            log.warning("smartcar_call_ledger_failed", error=str(exc), vehicle_id=vehicle_id)
