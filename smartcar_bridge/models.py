"""Typed results of the client, the same for API v2.0 and v3.

Units are normalised here: state of charge and charge limit are 0..1 fractions (v3
reports 0..100; :mod:`smartcar_bridge.v3` converts), distances are kilometres, energy
kWh. Every result carries the :class:`Meta` of the answer it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from smartcar_bridge.errors import SmartcarError

__all__ = [
    "AvailableCapacity",
    "BatchItem",
    "BatchResult",
    "BatchValue",
    "Battery",
    "BatteryCapacity",
    "ChargeLimit",
    "ChargeState",
    "ChargeStatus",
    "CommandResult",
    "Location",
    "Meta",
    "NominalCapacity",
    "Permissions",
    "TokenSet",
    "User",
    "VehicleAttributes",
    "VehiclePage",
    "VehicleSnapshot",
    "Vin",
]

ChargeState = Literal["CHARGING", "FULLY_CHARGED", "NOT_CHARGING"]


@dataclass(frozen=True)
class Meta:
    """What the response headers say about the data.

    Attributes:
        request_id: ``SC-Request-Id`` (v2) or the v3 equivalent; quote it to support.
        data_age: when the vehicle recorded the data (``SC-Data-Age``, or v3
            ``oemUpdatedAt``).
        fetched_at: when Smartcar fetched it from the OEM (``SC-Fetched-At``, or v3
            ``retrievedAt``).
        unit_system: ``metric`` or ``imperial`` where units apply.
    """

    request_id: str | None = None
    data_age: datetime | None = None
    fetched_at: datetime | None = None
    unit_system: str | None = None


EMPTY_META = Meta()


@dataclass(frozen=True)
class TokenSet:
    """An OAuth token pair. Both expiries are absolute; the refresh token's (60 days) is
    computed locally because the token endpoint does not say it."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime
    refresh_expires_at: datetime
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret


@dataclass(frozen=True)
class User:
    id: str
    meta: Meta = EMPTY_META


@dataclass(frozen=True)
class VehiclePage:
    """One page of ``GET /vehicles``; ``count`` is the total, not the page size."""

    vehicle_ids: tuple[str, ...]
    count: int
    offset: int
    meta: Meta = EMPTY_META


@dataclass(frozen=True)
class Permissions:
    permissions: tuple[str, ...]
    meta: Meta = EMPTY_META


@dataclass(frozen=True)
class VehicleAttributes:
    id: str
    make: str
    model: str
    year: int
    meta: Meta = EMPTY_META


@dataclass(frozen=True)
class Vin:
    vin: str
    meta: Meta = EMPTY_META


@dataclass(frozen=True)
class Battery:
    """State of charge as a 0..1 fraction and the estimated range in km (None if the
    vehicle does not report it)."""

    percent_remaining: float
    range_km: float | None
    meta: Meta = EMPTY_META

    @property
    def soc_percent(self) -> float:
        return self.percent_remaining * 100.0


@dataclass(frozen=True)
class BatteryCapacity:
    capacity_kwh: float
    meta: Meta = EMPTY_META


@dataclass(frozen=True)
class AvailableCapacity:
    capacity_kwh: float
    description: str | None
    """``{ENGINE_TYPE}:{TRIM}``, e.g. ``BEV:Extended Range``."""


@dataclass(frozen=True)
class NominalCapacity:
    """The nominal capacity, or None with ``url`` when the owner must choose one."""

    capacity_kwh: float | None
    source: str | None
    available: tuple[AvailableCapacity, ...]
    url: str | None
    meta: Meta = EMPTY_META


@dataclass(frozen=True)
class ChargeStatus:
    is_plugged_in: bool
    state: ChargeState
    meta: Meta = EMPTY_META


@dataclass(frozen=True)
class ChargeLimit:
    limit: float
    """0..1."""
    meta: Meta = EMPTY_META


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    meta: Meta = EMPTY_META


@dataclass(frozen=True)
class CommandResult:
    """A command's answer. ``already`` is True when the vehicle was already in the asked
    state (START while charging, STOP while idle), which we treat as success."""

    status: str
    message: str | None
    already: bool = False
    meta: Meta = EMPTY_META


BatchValue = (
    VehicleAttributes
    | Vin
    | Battery
    | BatteryCapacity
    | NominalCapacity
    | ChargeStatus
    | ChargeLimit
    | Location
)


@dataclass(frozen=True)
class BatchItem:
    """One answer inside a batch: ``value`` (parsed like the single call) or ``error``."""

    path: str
    code: int
    value: BatchValue | None
    error: SmartcarError | None
    meta: Meta = EMPTY_META

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class BatchResult:
    items: tuple[BatchItem, ...]
    meta: Meta = EMPTY_META

    def item(self, path: str) -> BatchItem:
        for item in self.items:
            if item.path == path:
                return item
        raise KeyError(path)


@dataclass(frozen=True)
class VehicleSnapshot:
    """What plug-and-charge reads together: one batch (v2) or a few signals (v3). A part
    that failed is None and its error is in ``errors`` (by part name)."""

    battery: Battery | None
    charge: ChargeStatus | None
    errors: dict[str, SmartcarError] = field(default_factory=dict)
