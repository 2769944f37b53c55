"""The 2.0.1 device model each charger reports (NotifyReport), kept per charger."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from csms.store import device_model as store

__all__ = ["DeviceModelService"]


class DeviceModelService:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def report(self, charge_point_id: str, rows: Sequence[dict[str, Any]]) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await store.upsert(conn, charge_point_id, rows)
