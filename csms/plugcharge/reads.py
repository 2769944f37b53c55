"""Smartcar reads and commands for plug-and-charge, each stored as a reading of its attempt.

Every call runs inside ``session_scope`` so the bridge's ledger counts it against the
attempt: ``pnc:{id}:match`` while matching, ``pnc:{id}`` for the session. Those stored
counts are what the budgets are checked against: the bridge's own retries count too.
A failed read is kept with its error (asleep, unreachable, rate limited): the decision and
the bill see that the car did not answer, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from csms.clock import Clock
from csms.logs import get_logger
from csms.matching import haversine_m
from csms.plugcharge.policy import BATTERY_CALLS, LOCATION_CALLS, SNAPSHOT_CALLS
from csms.store import plug_attempts as store
from csms.store import vehicles as vehicle_store
from smartcar_bridge import SmartcarBridge, session_scope
from smartcar_bridge.errors import SmartcarError
from smartcar_bridge.models import CommandResult
from smartcar_bridge.store import call_counts

__all__ = ["CarReader", "Reading", "match_ref", "session_ref"]

log = get_logger(__name__)


def match_ref(attempt_id: int) -> str:
    return f"pnc:{attempt_id}:match"


def session_ref(attempt_id: int) -> str:
    return f"pnc:{attempt_id}"


@dataclass(frozen=True)
class Reading:
    fetched_at: datetime
    data_age: datetime | None
    soc_percent: Decimal | None
    is_plugged_in: bool | None
    charge_state: str | None
    latitude: float | None = None
    longitude: float | None = None
    location_age: datetime | None = None
    distance_m: float | None = None
    error: str | None = None
    calls: int = 0  # what the reading asked Smartcar for (the ledger has the exact count)

    @property
    def answered(self) -> bool:
        return self.is_plugged_in is not None


def _describe(exc: SmartcarError) -> str:
    code = getattr(exc, "code", None)
    kind = getattr(exc, "type", None)
    return ":".join(str(part) for part in (kind, code) if part) or type(exc).__name__


class CarReader:
    def __init__(self, pool: asyncpg.Pool, bridge: SmartcarBridge, clock: Clock) -> None:
        self._pool = pool
        self._bridge = bridge
        self._clock = clock

    async def spent(self, ref: str) -> int:
        async with self._pool.acquire() as conn:
            return await call_counts(conn, session_ref=ref)

    async def read(
        self,
        attempt: dict[str, Any],
        car: dict[str, Any],
        purpose: str,
        *,
        ref: str,
        location: bool = False,
        charger_at: tuple[float, float] | None = None,
        battery_only: bool = False,
    ) -> Reading:
        """Battery and charge state (only the battery with ``battery_only``: one call), and
        the position when asked; stored, and the car's last known state and position
        updated."""
        fields: dict[str, Any] = {}
        errors: list[str] = []
        smartcar_id = car["smartcar_vehicle_id"]
        with session_scope(ref):
            if battery_only:
                try:
                    battery = await self._bridge.battery(smartcar_id)
                except SmartcarError as exc:
                    errors.append(f"battery {_describe(exc)}")
                else:
                    fields["soc_percent"] = Decimal(str(round(battery.soc_percent, 3)))
                    fields["data_age"] = battery.meta.data_age
            else:
                await self._snapshot(smartcar_id, fields, errors)
            if location:
                try:
                    where = await self._bridge.location(smartcar_id)
                except SmartcarError as exc:
                    errors.append(f"location {_describe(exc)}")
                else:
                    fields["latitude"], fields["longitude"] = where.latitude, where.longitude
                    fields["location_age"] = where.meta.data_age
                    if charger_at is not None:
                        fields["distance_m"] = haversine_m(
                            *charger_at, where.latitude, where.longitude
                        )
        reading = Reading(
            fetched_at=self._clock(),
            data_age=fields.get("data_age"),
            soc_percent=fields.get("soc_percent"),
            is_plugged_in=fields.get("is_plugged_in"),
            charge_state=fields.get("charge_state"),
            latitude=fields.get("latitude"),
            longitude=fields.get("longitude"),
            location_age=fields.get("location_age"),
            distance_m=fields.get("distance_m"),
            error="; ".join(errors) or None,
            calls=(BATTERY_CALLS if battery_only else SNAPSHOT_CALLS)
            + (LOCATION_CALLS if location else 0),
        )
        await self._store(attempt["id"], car["id"], purpose, reading)
        if reading.error:
            log.info(
                "car_read_failed", attempt_id=attempt["id"], purpose=purpose, error=reading.error
            )
        return reading

    async def _snapshot(self, smartcar_id: str, fields: dict[str, Any], errors: list[str]) -> None:
        try:
            snapshot = await self._bridge.snapshot(smartcar_id)
        except SmartcarError as exc:
            errors.append(f"snapshot {_describe(exc)}")
            return
        if snapshot.battery is not None:
            fields["soc_percent"] = Decimal(str(round(snapshot.battery.soc_percent, 3)))
            fields["data_age"] = snapshot.battery.meta.data_age
        if snapshot.charge is not None:
            fields["is_plugged_in"] = snapshot.charge.is_plugged_in
            fields["charge_state"] = snapshot.charge.state
            fields["data_age"] = snapshot.charge.meta.data_age or fields.get("data_age")
        errors.extend(f"{part} {_describe(e)}" for part, e in snapshot.errors.items())

    async def _store(
        self, attempt_id: int, vehicle_id: int, purpose: str, reading: Reading
    ) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await store.insert_reading(
                conn,
                {
                    "attempt_id": attempt_id,
                    "vehicle_id": vehicle_id,
                    "purpose": purpose,
                    "fetched_at": reading.fetched_at,
                    "data_age": reading.data_age,
                    "soc_percent": reading.soc_percent,
                    "is_plugged_in": reading.is_plugged_in,
                    "charge_state": reading.charge_state,
                    "latitude": reading.latitude,
                    "longitude": reading.longitude,
                    "location_age": reading.location_age,
                    "distance_m": None
                    if reading.distance_m is None
                    else Decimal(str(round(reading.distance_m, 1))),
                    "error": reading.error,
                    "calls": reading.calls,
                },
            )
            if reading.answered or reading.soc_percent is not None:
                await vehicle_store.update_state(
                    conn,
                    vehicle_id,
                    plugged_in=reading.is_plugged_in,
                    charging_state=reading.charge_state,
                    soc_percent=None if reading.soc_percent is None else float(reading.soc_percent),
                    observed_at=reading.data_age or reading.fetched_at,
                    source=f"poll:{purpose}",
                )
            if reading.latitude is not None and reading.longitude is not None:
                await vehicle_store.record_position(
                    conn,
                    vehicle_id,
                    latitude=reading.latitude,
                    longitude=reading.longitude,
                    at=reading.location_age or reading.fetched_at,
                )

    async def command(
        self, attempt: dict[str, Any], car: dict[str, Any], action: str
    ) -> tuple[bool, str]:
        """POST /charge START or STOP; (done, what happened). Never raises for Smartcar."""
        smartcar_id = car["smartcar_vehicle_id"]
        with session_scope(session_ref(attempt["id"])):
            try:
                result: CommandResult
                if action == "START":
                    result = await self._bridge.start_charge(smartcar_id)
                else:
                    result = await self._bridge.stop_charge(smartcar_id)
            except SmartcarError as exc:
                return False, f"{action} refused: {_describe(exc)}"
        return True, f"{action} {'already so' if result.already else result.status}"
