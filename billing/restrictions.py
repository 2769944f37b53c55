"""OCPI tariff restrictions: whether an element is active at a moment, and where that can change.

A ``Moment`` is what the restrictions look at: the charger's local wall time, the session
duration so far (parking included), the energy consumed so far, the power and the current
(summed over phases) at that instant. Semantics (OCPI 2.2.1):

- ``start_time`` .. ``end_time``: local time of day, start inclusive, end exclusive;
  ``end_time`` before ``start_time`` wraps past midnight and ``00:00`` means end of day.
- ``start_date`` inclusive, ``end_date`` exclusive (local dates); ``day_of_week`` local.
- ``min_*`` is active at >= value, ``max_*`` at < value (kWh, A, kW, seconds).
- A restriction on current is not met while the current is unknown.
- ``reservation`` elements price reservations, which these sessions never have.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from decimal import Decimal

from billing.tariff import DayOfWeek, Restrictions, Tariff

__all__ = [
    "Moment",
    "duration_thresholds",
    "energy_thresholds_wh",
    "local_boundaries",
    "matches",
    "uses_current",
]

_DAY_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class Moment:
    """The state of a session at one instant, as restrictions see it."""

    local: datetime
    elapsed_s: Decimal
    energy_wh: Decimal
    power_kw: Decimal
    current_a: Decimal | None


def _seconds_of_day(moment: datetime) -> Decimal:
    whole = moment.hour * 3600 + moment.minute * 60 + moment.second
    return Decimal(whole) + Decimal(moment.microsecond).scaleb(-6)


def _clock(value: time) -> int:
    return value.hour * 3600 + value.minute * 60


def _time_of_day_matches(r: Restrictions, local: datetime) -> bool:
    if r.start_time is None and r.end_time is None:
        return True
    now = _seconds_of_day(local)
    start = 0 if r.start_time is None else _clock(r.start_time)
    end = _DAY_SECONDS if r.end_time is None else _clock(r.end_time) or _DAY_SECONDS
    if start < end:
        return start <= now < end
    # Wraps past midnight (22:00-06:00), or start == end: the whole day.
    return now >= start or now < end


def _at_least(value: Decimal | None, minimum: Decimal | None) -> bool:
    return minimum is None or (value is not None and value >= minimum)


def _below(value: Decimal | None, maximum: Decimal | None) -> bool:
    return maximum is None or (value is not None and value < maximum)


def matches(restrictions: Restrictions | None, moment: Moment) -> bool:
    """Whether every restriction holds at ``moment`` (no restrictions: always)."""
    r = restrictions
    if r is None:
        return True
    if r.reservation is not None:
        return False
    local_date = moment.local.date()
    kwh = moment.energy_wh / 1000
    duration = moment.elapsed_s
    return (
        _time_of_day_matches(r, moment.local)
        and (r.start_date is None or local_date >= r.start_date)
        and (r.end_date is None or local_date < r.end_date)
        and (not r.day_of_week or DayOfWeek.of(local_date) in r.day_of_week)
        and _at_least(kwh, r.min_kwh)
        and _below(kwh, r.max_kwh)
        and _at_least(moment.current_a, r.min_current)
        and _below(moment.current_a, r.max_current)
        and _at_least(moment.power_kw, r.min_power)
        and _below(moment.power_kw, r.max_power)
        and _at_least(duration, None if r.min_duration is None else Decimal(r.min_duration))
        and _below(duration, None if r.max_duration is None else Decimal(r.max_duration))
    )


def _all_restrictions(tariff: Tariff) -> Iterable[Restrictions]:
    return (e.restrictions for e in tariff.elements if e.restrictions is not None)


def _offset_changes(start: datetime, end: datetime, zone: tzinfo) -> set[datetime]:
    """Instants in (start, end) where the zone's UTC offset changes (DST)."""
    found: set[datetime] = set()
    step = timedelta(minutes=15)
    before = start.astimezone(UTC)
    while before < end:
        after = min(before + step, end)
        if before.astimezone(zone).utcoffset() != after.astimezone(zone).utcoffset():
            low, high = before, after
            while high - low > timedelta(microseconds=1):
                middle = low + (high - low) / 2
                if low.astimezone(zone).utcoffset() == middle.astimezone(zone).utcoffset():
                    low = middle
                else:
                    high = middle
            change = high.replace(microsecond=0)  # zones change on whole seconds
            if start < change < end:
                found.add(change)
        before = after
    return found


def local_boundaries(
    tariff: Tariff, start: datetime, end: datetime, zone: tzinfo
) -> list[datetime]:
    """UTC instants strictly inside (start, end) where a local-time restriction can flip.

    These are every local occurrence of a restriction's ``start_time``/``end_time``, every
    local midnight (dates and days of the week change there) and every change of the UTC
    offset (the wall clock jumps there).
    """
    clocks = {time(0, 0)}
    for r in _all_restrictions(tariff):
        clocks.update(t for t in (r.start_time, r.end_time) if t is not None)
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    found = _offset_changes(start, end, zone)
    day = first
    while day <= last:
        for clock in clocks:
            for fold in (0, 1):  # a wall time happens twice when clocks go back
                local = datetime.combine(day, clock, tzinfo=zone).replace(fold=fold)
                instant = local.astimezone(UTC)
                if start < instant < end:
                    found.add(instant)
        day += timedelta(days=1)
    return sorted(found)


def duration_thresholds(tariff: Tariff) -> set[int]:
    """Session durations (s) at which a duration restriction flips."""
    return {
        value
        for r in _all_restrictions(tariff)
        for value in (r.min_duration, r.max_duration)
        if value is not None
    }


def energy_thresholds_wh(tariff: Tariff) -> set[Decimal]:
    """Session energies (Wh) at which a kWh restriction flips."""
    return {
        value * 1000
        for r in _all_restrictions(tariff)
        for value in (r.min_kwh, r.max_kwh)
        if value is not None
    }


def uses_current(tariff: Tariff) -> bool:
    return any(
        r.min_current is not None or r.max_current is not None for r in _all_restrictions(tariff)
    )
