"""The 2.0.1 device model each charger reports (NotifyReport), kept per charger."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from csms.commit import Committer
from csms.store import device_model as store

__all__ = ["DeviceModelService"]


class DeviceModelService:
    def __init__(self, commit: Committer) -> None:
        self._commit = commit

    async def report(self, charge_point_id: str, rows: Sequence[dict[str, Any]]) -> None:
        async def work(conn: asyncpg.Connection) -> None:
            await store.upsert(conn, charge_point_id, rows)

        await self._commit.run(work)
