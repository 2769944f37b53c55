"""SQL, and nothing else: one module per table family. Callers pass a connection so the
service that owns the transaction decides its boundaries."""

from __future__ import annotations

from typing import Any

import asyncpg

__all__ = ["Row", "row_dict"]

Row = dict[str, Any]


def row_dict(record: asyncpg.Record | None) -> Row | None:
    return None if record is None else dict(record)


async def ping(conn: asyncpg.Connection) -> bool:
    """True when the database answers a trivial query (readiness)."""
    value: int | None = await conn.fetchval("SELECT 1")
    return value == 1
