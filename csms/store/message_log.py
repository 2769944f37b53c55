"""SQL for the frame log: batched appends and newest-first pages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

import asyncpg

from csms.store import Row


class LoggedFrame(NamedTuple):
    charge_point_id: str
    direction: str
    message_type: int | None
    unique_id: str | None
    action: str | None
    frame: str
    truncated: bool
    logged_at: datetime


async def append(conn: asyncpg.Connection, frames: Sequence[LoggedFrame]) -> None:
    await conn.copy_records_to_table(
        "message_log",
        records=frames,
        columns=list(LoggedFrame._fields),
    )


async def page(
    conn: asyncpg.Connection, charge_point_id: str, *, before_id: int | None, limit: int
) -> list[Row]:
    records = await conn.fetch(
        """SELECT id, direction, message_type, unique_id, action, frame, truncated, logged_at
           FROM message_log
           WHERE charge_point_id = $1 AND ($2::bigint IS NULL OR id < $2)
           ORDER BY id DESC LIMIT $3""",
        charge_point_id,
        before_id,
        limit,
    )
    return [dict(r) for r in records]
