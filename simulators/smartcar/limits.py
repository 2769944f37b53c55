"""Rate limits, the monthly billing quota and injected faults, against an injected clock.

* App level: a token bucket (429 RATE_LIMIT:SMARTCAR_API).
* Per vehicle: a sliding 60 s window of calls that reach the car (429 RATE_LIMIT:VEHICLE
  with Retry-After). The real thresholds are not published (UNCONFIRMED).
* Billing: calls per vehicle per calendar month (430 BILLING:VEHICLE_REQUEST_LIMIT).
* Forced throttles and faults set through the control API.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from simulators.smartcar.errors import SmartcarError

# Whether 429 RATE_LIMIT:SMARTCAR_API carries Retry-After is UNCONFIRMED (reference 5,
# open question 5). We send it, computed from the bucket, like the per-vehicle limit.
APP_LIMIT_SENDS_RETRY_AFTER = True


def _retry_after(seconds: float) -> int:
    return max(1, math.ceil(seconds))


class RateLimits:
    def __init__(
        self,
        clock: Callable[[], datetime],
        *,
        app_per_s: float | None,
        app_burst: int,
        vehicle_per_min: int | None,
        monthly_per_vehicle: int | None,
    ) -> None:
        self.clock = clock
        self.app_per_s = app_per_s
        self.app_burst = app_burst
        self.vehicle_per_min = vehicle_per_min
        self.monthly_per_vehicle = monthly_per_vehicle
        self._tokens = float(app_burst)
        self._refilled_at = clock()
        self._windows: dict[str, deque[datetime]] = defaultdict(deque)
        self._monthly: dict[tuple[str, int, int], int] = defaultdict(int)
        self.app_blocked_until: datetime | None = None
        self.vehicle_blocked_until: dict[str, datetime] = {}

    def _app_error(self, wait_s: float) -> SmartcarError:
        return SmartcarError(
            "RATE_LIMIT",
            "SMARTCAR_API",
            retry_after_s=_retry_after(wait_s) if APP_LIMIT_SENDS_RETRY_AFTER else None,
        )

    def check_app(self) -> None:
        """Take one token from the app's bucket or raise 429 SMARTCAR_API."""
        now = self.clock()
        if self.app_blocked_until is not None and now < self.app_blocked_until:
            raise self._app_error((self.app_blocked_until - now).total_seconds())
        if self.app_per_s is None:
            return
        elapsed = max(0.0, (now - self._refilled_at).total_seconds())
        self._tokens = min(float(self.app_burst), self._tokens + elapsed * self.app_per_s)
        self._refilled_at = now
        if self._tokens < 1.0:
            raise self._app_error((1.0 - self._tokens) / self.app_per_s)
        self._tokens -= 1.0

    def check_vehicle(self, vehicle_id: str) -> None:
        """Count one call that reaches the car or raise 429 VEHICLE with Retry-After."""
        now = self.clock()
        until = self.vehicle_blocked_until.get(vehicle_id)
        if until is not None and now < until:
            wait = (until - now).total_seconds()
            raise SmartcarError("RATE_LIMIT", "VEHICLE", retry_after_s=_retry_after(wait))
        if self.vehicle_per_min is None:
            return
        window = self._windows[vehicle_id]
        start = now - timedelta(seconds=60)
        while window and window[0] <= start:
            window.popleft()
        if len(window) >= self.vehicle_per_min:
            wait = (window[0] + timedelta(seconds=60) - now).total_seconds()
            raise SmartcarError("RATE_LIMIT", "VEHICLE", retry_after_s=_retry_after(wait))
        window.append(now)

    def bill(self, vehicle_id: str) -> None:
        """Count one billable call (each batch path counts) or raise 430."""
        if self.monthly_per_vehicle is None:
            return
        now = self.clock()
        key = (vehicle_id, now.year, now.month)
        if self._monthly[key] >= self.monthly_per_vehicle:
            raise SmartcarError("BILLING", "VEHICLE_REQUEST_LIMIT")
        self._monthly[key] += 1

    def block_app(self, seconds: float) -> None:
        self.app_blocked_until = self.clock() + timedelta(seconds=seconds)

    def block_vehicle(self, vehicle_id: str, seconds: float) -> None:
        self.vehicle_blocked_until[vehicle_id] = self.clock() + timedelta(seconds=seconds)

    def clear(self) -> None:
        self.app_blocked_until = None
        self.vehicle_blocked_until.clear()
        self._windows.clear()
        self._tokens = float(self.app_burst)


@dataclass
class Fault:
    """The next ``remaining`` matching calls fail with (type, code); None: until removed.

    ``endpoint`` is the path below the vehicle (``/battery``, ``/charge``, ``/`` or a v3
    path such as ``/commands/charge/start``), optionally prefixed by a method
    (``POST /charge``). Without an endpoint the fault hits the vehicle's non-static
    endpoints (not ``/``, ``/vin`` or ``/permissions``), as Smartcar's test accounts do.
    """

    type: str
    code: str | None
    vehicle_id: str | None = None
    endpoint: str | None = None
    remaining: int | None = 1
    hits: int = 0
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def error(self) -> SmartcarError:
        return SmartcarError(self.type, self.code)

    def matches(self, vehicle_id: str | None, method: str, path: str, static: bool) -> bool:
        if self.vehicle_id is not None and self.vehicle_id != vehicle_id:
            return False
        if self.endpoint is None:
            return not static
        want_method, _, want_path = self.endpoint.rpartition(" ")
        if want_method and want_method.upper() != method:
            return False
        return want_path.rstrip("/") == path.rstrip("/")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "code": self.code,
            "vehicle_id": self.vehicle_id,
            "endpoint": self.endpoint,
            "remaining": self.remaining,
            "hits": self.hits,
        }


class Faults:
    def __init__(self) -> None:
        self.items: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        fault.error()  # validates (type, code) against the catalogue
        self.items.append(fault)
        return fault

    def take(self, vehicle_id: str | None, method: str, path: str, static: bool) -> None:
        """Raise the first matching fault's error, spending one of its uses."""
        for fault in self.items:
            if fault.matches(vehicle_id, method, path, static):
                fault.hits += 1
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self.items.remove(fault)
                raise fault.error()

    def remove(self, fault_id: str) -> bool:
        before = len(self.items)
        self.items = [f for f in self.items if f.id != fault_id]
        return len(self.items) != before
