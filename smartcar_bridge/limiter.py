"""Client-side rate limiting: keep the application and each vehicle under Smartcar's
limits, and respect the pauses Smartcar asks for.

Two token buckets gate every call: one for the application (Smartcar's documented 120
requests refilling at 2 a minute) and one per vehicle (limits vary by OEM and are not
published, so they are configurable). A 429 with ``Retry-After``, or an OEM rate limit,
pauses the vehicle (or the whole application) for that long. A call that would have to
wait longer than ``max_wait_s`` is refused at once with a local
:class:`~smartcar_bridge.errors.RateLimitError`, so nothing is spent on it.

Waiting callers reserve their tokens before they sleep, so concurrent callers queue up
behind each other instead of all waking at the same moment.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from smartcar_bridge.config import LimitConfig
from smartcar_bridge.errors import RateLimitError

__all__ = ["RateLimiter", "TokenBucket"]

_PRUNE_ABOVE = 10_000


class TokenBucket:
    """A bucket of ``capacity`` tokens refilling at ``rate`` per second; may go negative
    while callers hold reservations."""

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = capacity
        self.updated = now
        self.paused_until = now

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def wait(self, now: float, cost: float) -> float:
        """Seconds until ``cost`` tokens are there (and any pause is over)."""
        self._refill(now)
        cost = min(cost, self.capacity)
        short = cost - self.tokens
        refill_wait = 0.0 if short <= 0 else (short / self.rate if self.rate > 0 else float("inf"))
        return max(refill_wait, self.paused_until - now, 0.0)

    def take(self, now: float, cost: float) -> None:
        self._refill(now)
        self.tokens -= min(cost, self.capacity)

    def pause(self, now: float, seconds: float) -> None:
        self.paused_until = max(self.paused_until, now + seconds)

    def idle(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= self.capacity and self.paused_until <= now


class RateLimiter:
    """Gate for every Smartcar call.

    Args:
        limits: bucket sizes, refill rates, the longest acceptable wait.
        monotonic: a monotonic clock in seconds (tests pass a fake one).
        sleep: how to wait (tests pass one that moves the fake clock).
    """

    def __init__(
        self,
        limits: LimitConfig,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limits = limits
        self._monotonic = monotonic
        self._sleep = sleep
        self._app = TokenBucket(limits.app_capacity, limits.app_refill_per_s, monotonic())
        self._vehicles: dict[str, TokenBucket] = {}

    def _vehicle(self, vehicle_id: str, now: float) -> TokenBucket:
        bucket = self._vehicles.get(vehicle_id)
        if bucket is None:
            if len(self._vehicles) > _PRUNE_ABOVE:
                self._vehicles = {k: b for k, b in self._vehicles.items() if not b.idle(now)}
            bucket = TokenBucket(
                self.limits.vehicle_capacity, self.limits.vehicle_refill_per_s, now
            )
            self._vehicles[vehicle_id] = bucket
        return bucket

    def wait_time(self, vehicle_id: str | None, cost: float = 1) -> float:
        """How long a call now would wait (without reserving anything)."""
        now = self._monotonic()
        wait = self._app.wait(now, cost)
        if vehicle_id is not None:
            wait = max(wait, self._vehicle(vehicle_id, now).wait(now, cost))
        return wait

    async def acquire(self, vehicle_id: str | None, cost: float = 1) -> None:
        """Wait for room for a call costing ``cost`` requests, then take it.

        Raises:
            RateLimitError: (``local=True``) the wait would exceed ``max_wait_s``;
                ``retry_after`` says how long.
        """
        now = self._monotonic()
        app_wait = self._app.wait(now, cost)
        vehicle = None if vehicle_id is None else self._vehicle(vehicle_id, now)
        vehicle_wait = 0.0 if vehicle is None else vehicle.wait(now, cost)
        wait = max(app_wait, vehicle_wait)
        if wait > self.limits.max_wait_s:
            code = "VEHICLE" if vehicle_wait >= app_wait else "SMARTCAR_API"
            raise RateLimitError(
                f"local rate limit: the call would wait {wait:.1f} s",
                local=True,
                type="RATE_LIMIT",
                code=code,
                retry_after=wait,
            )
        # Reserve before sleeping: the next caller sees our tokens gone and queues behind.
        self._app.take(now, cost)
        if vehicle is not None:
            vehicle.take(now, cost)
        if wait > 0:
            await self._sleep(wait)

    def pause(self, vehicle_id: str | None, seconds: float) -> None:
        """Hold back calls for a vehicle (or, with None, the whole application)."""
        if seconds <= 0:
            return
        now = self._monotonic()
        bucket = self._app if vehicle_id is None else self._vehicle(vehicle_id, now)
        bucket.pause(now, seconds)
