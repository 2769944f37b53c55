"""Charging periods: the session split wherever the active tariff elements can change.

The session is cut at every instant where a restriction may flip (local times of day and
midnights in the charger's zone, duration thresholds, the moments the cumulative energy
crosses a kWh threshold, meter points where the power changes, current samples, connector
status changes). Each piece is evaluated at its midpoint: which element is active for
each dimension (the first in list order whose restrictions all hold), and whether the car
was charging. Adjacent pieces with the same elements and the same charging state merge
into one ``ChargingPeriod``.

Charging versus parking: where the connector status is known, ``Charging`` is charging and
a status that means no delivery (SuspendedEV, Finishing, ...) is parking; elsewhere the
meter decides (energy flowing is charging). Volumes are exact (Wh and seconds); step
rounding is applied once per session in ``billing.invoice``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import pairwise

from billing.energy import SessionEnergy
from billing.model import Flag, SessionInput, at_offset, elapsed_seconds
from billing.restrictions import (
    Moment,
    duration_thresholds,
    energy_thresholds_wh,
    local_boundaries,
    matches,
    uses_current,
)
from billing.series import EnergySeries, current_series, status_series
from billing.tariff import DimensionType, PriceComponent, Tariff

__all__ = [
    "CHARGING",
    "NOT_CHARGING",
    "ChargingPeriod",
    "PeriodSplit",
    "PricedDimension",
    "split_periods",
]

CHARGING = "Charging"
# Statuses (OCPP 1.6) and charging states (2.0.1) that mean no energy is being delivered.
# Any other status, such as 2.0.1's Occupied, says nothing: the meter decides there.
NOT_CHARGING = frozenset(
    {
        "Available",
        "Preparing",
        "SuspendedEV",
        "SuspendedEVSE",
        "Finishing",
        "Reserved",
        "Unavailable",
        "Faulted",
        "EVConnected",
        "Idle",
    }
)
_PER_UNIT = {
    DimensionType.ENERGY: Decimal(1000),  # price per kWh, volume in Wh
    DimensionType.TIME: Decimal(3600),  # price per hour, volume in seconds
    DimensionType.PARKING_TIME: Decimal(3600),
    DimensionType.FLAT: Decimal(1),
}
_TIMED = (DimensionType.ENERGY, DimensionType.TIME, DimensionType.PARKING_TIME)


@dataclass(frozen=True, slots=True)
class PricedDimension:
    """A volume of one dimension priced by one component of one tariff element.

    ``volume`` is in Wh (ENERGY), seconds (TIME, PARKING_TIME) or sessions (FLAT).
    """

    type: DimensionType
    volume: Decimal
    element: int
    component: int
    price: Decimal
    vat: Decimal | None
    step_size: int

    @classmethod
    def of(
        cls, volume: Decimal, element: int, component: int, price: PriceComponent
    ) -> PricedDimension:
        return cls(price.type, volume, element, component, price.price, price.vat, price.step_size)

    @property
    def excl_vat(self) -> Decimal:
        return self.volume * self.price / _PER_UNIT[self.type]

    @property
    def incl_vat(self) -> Decimal | None:
        if self.vat is None:
            return None
        return self.excl_vat * (1 + self.vat / 100)


@dataclass(frozen=True, slots=True)
class ChargingPeriod:
    start: datetime
    end: datetime
    charging: bool
    energy_wh: Decimal
    duration_s: Decimal
    elements: tuple[int | None, int | None, int | None]  # ENERGY, TIME, PARKING_TIME
    dimensions: tuple[PricedDimension, ...]


@dataclass(frozen=True, slots=True)
class PeriodSplit:
    periods: tuple[ChargingPeriod, ...]
    flat: tuple[PricedDimension, ...]
    charging_s: Decimal
    parking_s: Decimal
    flags: tuple[Flag, ...]


def _cuts(
    tariff: Tariff, session: SessionInput, series: EnergySeries, extra: list[Decimal]
) -> list[Decimal]:
    total = elapsed_seconds(session.start, session.end)
    cuts = {Decimal(0), total}
    for instant in local_boundaries(tariff, session.start, session.end, session.time_zone):
        cuts.add(elapsed_seconds(session.start, instant))
    cuts.update(Decimal(seconds) for seconds in duration_thresholds(tariff))
    for threshold in energy_thresholds_wh(tariff):
        crossing = series.crossing(threshold)
        if crossing is not None:
            cuts.add(crossing)
    cuts.update(series.offsets)
    cuts.update(extra)
    return sorted(cut for cut in cuts if 0 <= cut <= total)


def _active(tariff: Tariff, dimension: DimensionType, moment: Moment) -> int | None:
    for index, element in enumerate(tariff.elements):
        if element.components(dimension) and matches(element.restrictions, moment):
            return index
    return None


def _priced(
    tariff: Tariff, dimension: DimensionType, element: int | None, volume: Decimal
) -> list[PricedDimension]:
    if element is None or volume == 0:
        return []
    return [
        PricedDimension.of(volume, element, i, component)
        for i, component in enumerate(tariff.elements[element].price_components)
        if component.type is dimension
    ]


def split_periods(tariff: Tariff, session: SessionInput, energy: SessionEnergy) -> PeriodSplit:
    """Split the session into priced periods, and find the FLAT components that apply."""
    start = session.start
    series = EnergySeries(start, session.end, energy.points)
    current = current_series(start, session.readings)
    status = status_series(start, session.connector_status)
    flags: list[Flag] = []
    if uses_current(tariff) and not current:
        flags.append(Flag.CURRENT_UNKNOWN)
    cuts = _cuts(tariff, session, series, current.offsets + status.offsets)
    pieces = list(pairwise(cuts)) or [(cuts[0], cuts[0])]

    merged: list[tuple[Decimal, Decimal, bool, tuple[int | None, int | None, int | None]]] = []
    flat_element: int | None = None
    for low, high in pieces:
        middle = (low + high) / 2
        moment = Moment(
            local=at_offset(start, middle).astimezone(session.time_zone),
            elapsed_s=middle,
            energy_wh=series.energy_at(middle),
            power_kw=series.power_kw_at(middle),
            current_a=current.at(middle, backfill=True),
        )
        known = status.at(middle)
        if known == CHARGING or known in NOT_CHARGING:
            charging = known == CHARGING
        else:
            charging = moment.power_kw > 0
        active = (
            _active(tariff, DimensionType.ENERGY, moment),
            _active(tariff, DimensionType.TIME, moment),
            _active(tariff, DimensionType.PARKING_TIME, moment),
        )
        if flat_element is None:
            flat_element = _active(tariff, DimensionType.FLAT, moment)
        if merged and merged[-1][2:] == (charging, active):
            merged[-1] = (merged[-1][0], high, charging, active)
        else:
            merged.append((low, high, charging, active))

    periods: list[ChargingPeriod] = []
    charging_s = parking_s = Decimal(0)
    for low, high, charging, active in merged:
        # At the very start nothing has been consumed yet, even when the first readings
        # jump at that instant (right-continuous energy_at would include the jump).
        energy_wh = series.energy_at(high) - (series.energy_at(low) if low > 0 else Decimal(0))
        duration = high - low
        energy_element, time_element, parking_element = active
        dimensions = _priced(tariff, DimensionType.ENERGY, energy_element, energy_wh)
        if charging:
            charging_s += duration
            dimensions += _priced(tariff, DimensionType.TIME, time_element, duration)
        else:
            parking_s += duration
            dimensions += _priced(tariff, DimensionType.PARKING_TIME, parking_element, duration)
        periods.append(
            ChargingPeriod(
                start=at_offset(start, low),
                end=at_offset(start, high),
                charging=charging,
                energy_wh=energy_wh,
                duration_s=duration,
                elements=active,
                dimensions=tuple(dimensions),
            )
        )

    flat: list[PricedDimension] = _priced(tariff, DimensionType.FLAT, flat_element, Decimal(1))
    if flat and energy.energy_wh == 0:
        # Never charge a FLAT fee when no energy flowed (drivers re-plugging).
        flags.append(Flag.NO_ENERGY_NO_FLAT)
        flat = []
    return PeriodSplit(tuple(periods), tuple(flat), charging_s, parking_s, tuple(flags))
