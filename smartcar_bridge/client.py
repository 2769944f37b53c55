"""The Smartcar vehicle API client: one interface, API v2.0 or v3 chosen by configuration.

Every method takes the :class:`~smartcar_bridge.transport.Auth` of the call (an access
token and, when known, the Smartcar user id) and returns a typed result from
:mod:`smartcar_bridge.models` carrying the answer's meta. Failures raise the
:mod:`smartcar_bridge.errors` tree. Retries, timeouts, rate limiting and call counting
happen below, in :class:`~smartcar_bridge.transport.Transport`.

Tokens are not this class's business: :class:`smartcar_bridge.bridge.SmartcarBridge`
adds them (and the refresh-once-on-401 rule) on top.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

import aiohttp

from smartcar_bridge.config import BridgeConfig
from smartcar_bridge.errors import UnsupportedInVersion, VehicleStateError
from smartcar_bridge.limiter import RateLimiter
from smartcar_bridge.metrics import CallMetrics
from smartcar_bridge.models import (
    BatchResult,
    BatchValue,
    Battery,
    BatteryCapacity,
    ChargeLimit,
    ChargeStatus,
    CommandResult,
    Location,
    NominalCapacity,
    Permissions,
    User,
    VehicleAttributes,
    VehiclePage,
    VehicleSnapshot,
    Vin,
)
from smartcar_bridge.transport import Auth, Transport
from smartcar_bridge.v2 import V2Api
from smartcar_bridge.v3 import V3Api

__all__ = ["SmartcarClient"]

T = TypeVar("T", bound=BatchValue)

# A command that finds the vehicle already where it was sent is done (reference 4.2).
_ALREADY = {"START": "CHARGING_IN_PROGRESS", "STOP": "NOT_CHARGING"}


class SmartcarClient:
    """Async client of the Smartcar vehicle API.

    Args:
        session: an aiohttp session; the caller owns and closes it.
        config: endpoints, version, timeouts, retry policy and limits.
        limiter: shared rate limiter (default: one from ``config.limits``).
        metrics: shared call counters (default: fresh ones, no ledger).
        clock: wall clock, for ``Retry-After`` dates.
        sleep: how to wait between retries (tests make it instant).
        jitter: a number in [0, 1) to spread retries.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        config: BridgeConfig,
        *,
        limiter: RateLimiter | None = None,
        metrics: CallMetrics | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self.transport = Transport(
            session,
            config,
            limiter=limiter,
            metrics=metrics,
            clock=clock,
            sleep=sleep,
            jitter=jitter,
        )
        self.v2 = V2Api(self.transport, config)
        self.v3 = V3Api(self.transport, config) if config.api_version == "3" else None

    @property
    def metrics(self) -> CallMetrics:
        return self.transport.metrics

    @property
    def limiter(self) -> RateLimiter:
        return self.transport.limiter

    async def _read(self, auth: Auth, vehicle_id: str, path: str, cls: type[T]) -> T:
        value = await self.v2.read(auth, vehicle_id, path)
        assert isinstance(value, cls)
        return value

    # --- the user's account: v2.0 in both modes (see smartcar_bridge.v3) -----------------

    async def user(self, auth: Auth) -> User:
        return await self.v2.user(auth)

    async def vehicles(self, auth: Auth, *, limit: int = 10, offset: int = 0) -> VehiclePage:
        """One page of the vehicle ids the token covers. 10 is Smartcar's default page
        size; the maximum is UNCONFIRMED, so we do not ask for more."""
        return await self.v2.vehicles(auth, limit=limit, offset=offset)

    async def all_vehicles(self, auth: Auth, *, page_size: int = 10) -> list[str]:
        """Every vehicle id the token covers, following the pages."""
        found: list[str] = []
        while True:
            page = await self.vehicles(auth, limit=page_size, offset=len(found))
            found.extend(page.vehicle_ids)
            if not page.vehicle_ids or len(found) >= page.count:
                return found

    async def permissions(self, auth: Auth, vehicle_id: str) -> Permissions:
        return await self.v2.permissions(auth, vehicle_id)

    async def disconnect(self, auth: Auth, vehicle_id: str) -> None:
        """Revoke this application's access to the vehicle."""
        await self.v2.disconnect(auth, vehicle_id)

    # --- vehicle data ------------------------------------------------------------------------

    async def attributes(self, auth: Auth, vehicle_id: str) -> VehicleAttributes:
        if self.v3 is not None:
            return await self.v3.attributes(auth, vehicle_id)
        return await self._read(auth, vehicle_id, "/", VehicleAttributes)

    async def vin(self, auth: Auth, vehicle_id: str) -> Vin:
        if self.v3 is not None:
            return await self.v3.vin(auth, vehicle_id)
        return await self._read(auth, vehicle_id, "/vin", Vin)

    async def battery(self, auth: Auth, vehicle_id: str) -> Battery:
        """State of charge (0..1) and, on v2, range in km."""
        if self.v3 is not None:
            return await self.v3.battery(auth, vehicle_id)
        return await self._read(auth, vehicle_id, "/battery", Battery)

    async def battery_capacity(self, auth: Auth, vehicle_id: str) -> BatteryCapacity:
        """Usable capacity in kWh (v2 ``/battery/capacity``; v3 the nominal capacity)."""
        if self.v3 is not None:
            return await self.v3.battery_capacity(auth, vehicle_id)
        return await self._read(auth, vehicle_id, "/battery/capacity", BatteryCapacity)

    async def nominal_capacity(self, auth: Auth, vehicle_id: str) -> NominalCapacity:
        if self.v3 is not None:
            return await self.v3.nominal_capacity(auth, vehicle_id)
        return await self._read(auth, vehicle_id, "/battery/nominal_capacity", NominalCapacity)

    async def charge_status(self, auth: Auth, vehicle_id: str) -> ChargeStatus:
        if self.v3 is not None:
            return await self.v3.charge_status(auth, vehicle_id)
        return await self._read(auth, vehicle_id, "/charge", ChargeStatus)

    async def charge_limit(self, auth: Auth, vehicle_id: str) -> ChargeLimit:
        if self.v3 is not None:
            return await self.v3.charge_limit(auth, vehicle_id)
        return await self._read(auth, vehicle_id, "/charge/limit", ChargeLimit)

    async def location(self, auth: Auth, vehicle_id: str) -> Location:
        if self.v3 is not None:
            return await self.v3.location(auth, vehicle_id)
        return await self._read(auth, vehicle_id, "/location", Location)

    async def batch(self, auth: Auth, vehicle_id: str, paths: Sequence[str]) -> BatchResult:
        """Several v2 reads in one request; each item has its own status or error."""
        if self.v3 is not None:
            raise UnsupportedInVersion("the batch endpoint is v2.0 only; use snapshot()")
        return await self.v2.batch(auth, vehicle_id, paths)

    async def snapshot(self, auth: Auth, vehicle_id: str) -> VehicleSnapshot:
        """Battery and charge status together, as cheaply as the version allows."""
        if self.v3 is not None:
            return await self.v3.snapshot(auth, vehicle_id)
        return await self.v2.snapshot(auth, vehicle_id)

    # --- commands ----------------------------------------------------------------------------

    async def _charge(self, auth: Auth, vehicle_id: str, action: str) -> CommandResult:
        try:
            if self.v3 is not None:
                return await self.v3.charge(auth, vehicle_id, action)
            return await self.v2.charge(auth, vehicle_id, action)
        except VehicleStateError as exc:
            if exc.code != _ALREADY[action]:
                raise
            return CommandResult("success", exc.description, already=True)

    async def start_charge(self, auth: Auth, vehicle_id: str) -> CommandResult:
        """Start charging. Already charging counts as success (``already=True``).

        Raises:
            VehicleStateError: e.g. CHARGING_PLUG_NOT_CONNECTED, FULLY_CHARGED, CHARGE_FAULT.
        """
        return await self._charge(auth, vehicle_id, "START")

    async def stop_charge(self, auth: Auth, vehicle_id: str) -> CommandResult:
        """Stop charging. Not charging counts as success (``already=True``)."""
        return await self._charge(auth, vehicle_id, "STOP")

    async def set_charge_limit(self, auth: Auth, vehicle_id: str, limit: float) -> CommandResult:
        """Set the charge limit, a fraction 0.5..1."""
        if not 0.5 <= limit <= 1.0:
            raise ValueError("the charge limit must be between 0.5 and 1")
        if self.v3 is not None:
            return await self.v3.set_charge_limit(auth, vehicle_id, limit)
        return await self.v2.set_charge_limit(auth, vehicle_id, limit)
