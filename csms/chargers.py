"""Charger-level service: credentials, boot, heartbeat, connector status, status events,
connection state. Each method is one database transaction; handlers answer after it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from csms import passwords
from csms.clock import Clock
from csms.commit import Committer
from csms.events import ChargerBooted, StatusChanged
from csms.logs import get_logger
from csms.plugcharge.hooks import PlugHooks
from csms.store import charge_points

__all__ = ["Admission", "ChargerService"]

log = get_logger(__name__)


@dataclass(frozen=True)
class Admission:
    """A charger let in at the handshake; ``pinned_protocol`` is its registered protocol."""

    pinned_protocol: str | None


class ChargerService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        clock: Clock,
        commit: Committer,
        *,
        auto_register: bool = False,
        plug: PlugHooks | None = None,
    ) -> None:
        self._plug = plug
        self._pool = pool
        self._clock = clock
        self._commit = commit
        self._auto_register = auto_register
        self._verified = passwords.VerifiedCache()

    async def authenticate(self, charge_point_id: str, password: str | None) -> Admission | None:
        """Admit the charger when it is registered and the password matches, else None.

        With auto-registration on (development only), an unknown charger presenting a
        password is registered with it.
        """
        async with self._pool.acquire() as conn:
            credentials = await charge_points.credentials(conn, charge_point_id)
        if credentials is None:
            if not (self._auto_register and password):
                return None
            digest = await passwords.hash_password(password)
            async with self._pool.acquire() as conn:
                created = await charge_points.insert(
                    conn,
                    charge_point_id=charge_point_id,
                    password_hash=digest,
                    protocol=None,
                    latitude=None,
                    longitude=None,
                    time_zone="UTC",
                )
            if created is not None:
                log.warning("charge_point_auto_registered", charge_point_id=charge_point_id)
                return Admission(pinned_protocol=None)
            return await self.authenticate(charge_point_id, password)
        stored, pinned = credentials
        if password is None or not await self._verified.verify(password, stored):
            return None
        return Admission(pinned_protocol=pinned)

    async def connected(self, charge_point_id: str, protocol: str, node: str) -> None:
        async with self._pool.acquire() as conn:
            await charge_points.record_connection(
                conn, charge_point_id, online=True, protocol=protocol, at=self._clock(), node=node
            )

    async def disconnected(self, charge_point_id: str, node: str) -> None:
        async with self._pool.acquire() as conn:
            await charge_points.record_connection(
                conn, charge_point_id, online=False, protocol=None, at=self._clock(), node=node
            )

    async def boot(
        self, charge_point_id: str, boot: ChargerBooted, *, status: str = "Accepted"
    ) -> tuple[str, datetime]:
        """Record a boot with the registration status we answer; return it and the time."""
        now = self._clock()

        async def work(conn: asyncpg.Connection) -> None:
            await charge_points.record_boot(conn, charge_point_id, boot, status, now)

        await self._commit.run(work)
        log.info(
            "charger_booted", vendor=boot.vendor, model=boot.model, firmware=boot.firmware_version
        )
        return status, now

    def heartbeat(self) -> datetime:
        """The server time. Nothing to store: ``last_seen_at`` moves with the frame log."""
        return self._clock()

    async def status(self, charge_point_id: str, status: StatusChanged) -> None:
        plug = self._plug

        async def work(conn: asyncpg.Connection) -> None:
            await charge_points.record_status(conn, charge_point_id, status)
            if plug is not None:
                await plug.status(conn, charge_point_id, status)

        await self._commit.run(work)

    async def event(
        self, charge_point_id: str, kind: str, status: str | None, payload: dict[str, Any]
    ) -> None:
        async def work(conn: asyncpg.Connection) -> None:
            await charge_points.record_event(conn, charge_point_id, kind, status, payload)

        await self._commit.run(work)
