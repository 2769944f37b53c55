"""Quantities over the course of a session, addressed by seconds since the session start.

- ``EnergySeries``: cumulative counted energy, linear between meter points (the OCPI CDR
  rules allow interpolating the moment a threshold is crossed); power is the average
  power of the meter interval around an instant.
- ``StepSeries``: a value that holds from one sample until the next (the current summed
  over phases, the connector status).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Generic, TypeVar

from billing.energy import EnergyPoint
from billing.model import ConnectorStatusChange, MeterReading, elapsed_seconds

__all__ = ["CURRENT_IMPORT", "EnergySeries", "StepSeries", "current_series", "status_series"]

CURRENT_IMPORT = "Current.Import"
_WH_PER_S_TO_KW = Decimal("3.6")
_PHASES = (("L1", "L2", "L3"), ("L1-N", "L2-N", "L3-N"))
_V = TypeVar("_V")
_ZERO = Decimal(0)
_RESOLUTION = Decimal("0.000001")


class EnergySeries:
    """Cumulative session energy (Wh) as a function of seconds since the session start.

    Meter points outside the session (a Begin stamped a little before the start, an End
    a little after the end) are moved onto its edges, so the energy over the session is
    the whole metered energy. Interpolated values are exact to 1 uWh and crossing times
    to 1 us, which keeps sums of period volumes exact.
    """

    def __init__(self, start: datetime, end: datetime, points: Iterable[EnergyPoint]) -> None:
        total = elapsed_seconds(start, end)
        pairs = [
            (min(max(elapsed_seconds(start, p.at), _ZERO), total), p.energy_wh) for p in points
        ]
        self._t = [t for t, _ in pairs]
        self._e = [e for _, e in pairs]

    @property
    def offsets(self) -> list[Decimal]:
        """The offsets of the meter points (where power can change)."""
        return list(self._t)

    def energy_at(self, offset: Decimal) -> Decimal:
        if not self._t or offset < self._t[0]:
            return Decimal(0)
        i = bisect_right(self._t, offset) - 1
        if i >= len(self._t) - 1:
            return self._e[-1]
        t0, t1, e0, e1 = self._t[i], self._t[i + 1], self._e[i], self._e[i + 1]
        return (e0 + (e1 - e0) * (offset - t0) / (t1 - t0)).quantize(_RESOLUTION)

    def power_kw_at(self, offset: Decimal) -> Decimal:
        """Average power of the meter interval that contains ``offset`` (0 outside)."""
        if not self._t or offset < self._t[0]:
            return Decimal(0)
        i = bisect_right(self._t, offset) - 1
        if i >= len(self._t) - 1:
            return Decimal(0)
        seconds = self._t[i + 1] - self._t[i]
        return (self._e[i + 1] - self._e[i]) / seconds * _WH_PER_S_TO_KW

    def crossing(self, energy_wh: Decimal) -> Decimal | None:
        """The first offset at which the cumulative energy reaches ``energy_wh``."""
        if energy_wh <= 0:
            return None
        for i in range(len(self._t) - 1):
            e0, e1 = self._e[i], self._e[i + 1]
            if e0 < energy_wh <= e1:
                t0, t1 = self._t[i], self._t[i + 1]
                return (t0 + (energy_wh - e0) / (e1 - e0) * (t1 - t0)).quantize(_RESOLUTION)
        return None

    def flowing_seconds(self) -> Decimal:
        """Seconds during which the register rose (energy flowed)."""
        return sum(
            (
                self._t[i + 1] - self._t[i]
                for i in range(len(self._t) - 1)
                if self._e[i + 1] > self._e[i]
            ),
            Decimal(0),
        )

    def last_rise(self) -> Decimal | None:
        """The offset at which energy last flowed, or None when it never did."""
        for i in range(len(self._t) - 1, 0, -1):
            if self._e[i] > self._e[i - 1]:
                return self._t[i]
        return None


class StepSeries(Generic[_V]):
    """A value that holds from its sample until the next one."""

    def __init__(self, start: datetime, samples: Iterable[tuple[datetime, _V]]) -> None:
        ordered = sorted(samples, key=lambda pair: pair[0])
        self._t = [elapsed_seconds(start, at) for at, _ in ordered]
        self._v = [value for _, value in ordered]

    @property
    def offsets(self) -> list[Decimal]:
        return list(self._t)

    def __bool__(self) -> bool:
        return bool(self._t)

    def at(self, offset: Decimal, *, backfill: bool = False) -> _V | None:
        """The latest value at or before ``offset``; before the first sample ``None``,
        or the first value when ``backfill`` is set."""
        i = bisect_right(self._t, offset) - 1
        if i < 0:
            return self._v[0] if backfill and self._v else None
        return self._v[i]


def current_series(start: datetime, readings: Iterable[MeterReading]) -> StepSeries[Decimal]:
    """Current.Import at the outlet, summed over phases (a total wins over phase values)."""
    by_instant: dict[datetime, dict[str, Decimal]] = defaultdict(dict)
    for reading in readings:
        if reading.measurand != CURRENT_IMPORT or reading.value is None:
            continue
        if (reading.location or "Outlet") != "Outlet" or (reading.format or "Raw") != "Raw":
            continue
        if (reading.unit or "A") != "A" or not reading.value.is_finite():
            continue
        by_instant[reading.at].setdefault(reading.phase or "", reading.value)
    samples: list[tuple[datetime, Decimal]] = []
    for at, phases in by_instant.items():
        total = phases.get("")
        for names in _PHASES:
            if total is not None:
                break
            present = [phases[name] for name in names if name in phases]
            if present:
                total = sum(present, Decimal(0))
        if total is not None:
            samples.append((at, total))
    return StepSeries(start, samples)


def status_series(start: datetime, changes: Iterable[ConnectorStatusChange]) -> StepSeries[str]:
    return StepSeries(start, ((change.at, change.status) for change in changes))
