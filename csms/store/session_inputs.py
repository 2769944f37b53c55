"""SQL that gathers what pricing a session needs beyond its own row and samples: the
charger's time zone and how the connector's state changed during the session."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from csms.store import Row, row_dict
from csms.store.sessions import COLUMNS


async def time_zone(conn: asyncpg.Connection, charge_point_id: str) -> str | None:
    zone: str | None = await conn.fetchval(
        "SELECT time_zone FROM charge_points WHERE id = $1", charge_point_id
    )
    return zone


async def connector_statuses(
    conn: asyncpg.Connection,
    *,
    charge_point_id: str,
    evse_id: int,
    start: datetime,
    end: datetime,
) -> list[Row]:
    """Status changes of a connector from the last one before ``start`` up to ``end``."""
    records = await conn.fetch(
        """(SELECT status_at AS at, raw_status AS status FROM connector_status_history
             WHERE charge_point_id = $1 AND evse_id = $2 AND connector_id > 0
               AND status_at <= $3
             ORDER BY status_at DESC, id DESC LIMIT 1)
           UNION ALL
           (SELECT status_at, raw_status FROM connector_status_history
             WHERE charge_point_id = $1 AND evse_id = $2 AND connector_id > 0
               AND status_at > $3 AND status_at <= $4)
           ORDER BY at""",
        charge_point_id,
        evse_id,
        start,
        end,
    )
    return [dict(r) for r in records]


async def charging_states(conn: asyncpg.Connection, session_id: int) -> list[Row]:
    """OCPP 2.0.1: the chargingState each TransactionEvent reported, in seqNo order."""
    records = await conn.fetch(
        """SELECT occurred_at AS at, charging_state AS status FROM transaction_events
           WHERE session_id = $1 AND charging_state IS NOT NULL ORDER BY seq_no""",
        session_id,
    )
    return [dict(r) for r in records]


async def lock_session(conn: asyncpg.Connection, session_id: int) -> Row | None:
    """A session row, locked for the caller's transaction (one bill at a time)."""
    return row_dict(
        await conn.fetchrow(
            f"SELECT {COLUMNS} FROM sessions WHERE id = $1 FOR NO KEY UPDATE", session_id
        )
    )
