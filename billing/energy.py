"""Session energy from meter readings as chargers really send them.

The algorithm (billing-domain.md section 2.4):

1. Keep Energy.Active.Import.Register readings (or no measurand) at the Outlet (or no
   location), format Raw, with a billable context (Transaction.Begin/End,
   Sample.Periodic/Clock, Trigger). Signed readings are kept aside for the receipt and
   never enter the arithmetic.
2. Normalise to Wh ``Decimal`` (kWh x 1000; no unit means Wh). De-duplicate on
   (time, phase, context). Per (time, context) use the total, else the sum of phases.
3. Start value: the first Transaction.Begin reading, else ``meterStart``. End value: the
   last Transaction.End reading, else ``meterStop`` (unless below the last reading).
4. Walk the series in time order: positive deltas count; a fall below ``JITTER_WH`` is
   ignored; a fall from near a register's maximum is a rollover; any other fall is a
   reset (the unknown energy across it is not billed); a value about 1000x off its
   neighbour is a unit bug and is dropped; a jump faster than the rated power is dropped.

Every correction is a ``Flag`` on the result.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from billing.model import Flag, MeterReading, SessionInput, elapsed_seconds

__all__ = ["ENERGY_REGISTER", "EnergyPoint", "SessionEnergy", "session_energy"]

ENERGY_REGISTER = "Energy.Active.Import.Register"
BEGIN = "Transaction.Begin"
END = "Transaction.End"
_MIDDLE_CONTEXTS = frozenset({"Sample.Periodic", "Sample.Clock", "Trigger"})
_UNIT_FACTORS = {"wh": Decimal(1), "kwh": Decimal(1000)}
_PHASE_SETS = (("L1", "L2", "L3"), ("L1-N", "L2-N", "L3-N"))

JITTER_WH = Decimal(10)
SPIKE_MARGIN = Decimal("1.1")
# A value this many times off its neighbour is a Wh/kWh mix-up, not energy.
_UNIT_BUG_RATIO = (Decimal(900), Decimal(1100))
_LIFETIME_WH = Decimal(100_000)
# Register sizes considered for rollovers: n-digit Wh registers and 32 bits.
_MODULI = tuple(sorted([Decimal(10) ** n for n in range(5, 13)] + [Decimal(2**32)]))
_ROLLOVER_SHARE = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class EnergyPoint:
    """Cumulative counted energy of the session at a moment (starts at 0)."""

    at: datetime
    energy_wh: Decimal


@dataclass(frozen=True, slots=True)
class SessionEnergy:
    energy_wh: Decimal
    points: tuple[EnergyPoint, ...]
    flags: tuple[Flag, ...]
    signed: tuple[MeterReading, ...]


@dataclass(frozen=True, slots=True)
class _Value:
    at: datetime
    wh: Decimal


class _Flags:
    def __init__(self) -> None:
        self._seen: dict[Flag, None] = {}

    def add(self, flag: Flag) -> None:
        self._seen.setdefault(flag, None)

    def all(self) -> tuple[Flag, ...]:
        return tuple(self._seen)


def _register_readings(
    readings: tuple[MeterReading, ...], flags: _Flags
) -> tuple[list[tuple[MeterReading, Decimal]], list[MeterReading]]:
    """Billable register readings with their value in Wh, and the signed ones."""
    kept: list[tuple[MeterReading, Decimal]] = []
    signed: list[MeterReading] = []
    latest: datetime | None = None
    for reading in readings:
        if (reading.measurand or ENERGY_REGISTER) != ENERGY_REGISTER:
            continue
        if (reading.format or "Raw") != "Raw":
            signed.append(reading)
            flags.add(Flag.IGNORED_SIGNED)
            continue
        if (reading.location or "Outlet") != "Outlet":
            flags.add(Flag.IGNORED_LOCATION)
            continue
        context = reading.context or "Sample.Periodic"
        if context not in _MIDDLE_CONTEXTS and context not in (BEGIN, END):
            flags.add(Flag.IGNORED_CONTEXT)
            continue
        factor = _UNIT_FACTORS.get((reading.unit or "Wh").lower())
        if factor is None:
            flags.add(Flag.UNIT_UNKNOWN)
            continue
        if reading.value is None or not reading.value.is_finite():
            flags.add(Flag.UNPARSEABLE_VALUE)
            continue
        if reading.value < 0:
            flags.add(Flag.NEGATIVE_REGISTER)
            continue
        if latest is not None and reading.at < latest:
            flags.add(Flag.OUT_OF_ORDER)
        latest = reading.at if latest is None else max(latest, reading.at)
        kept.append((reading, reading.value * factor))
    return kept, signed


def _combine(kept: list[tuple[MeterReading, Decimal]], flags: _Flags) -> dict[str, list[_Value]]:
    """One value per (time, context): de-duplicated, total preferred over phase sums."""
    unique: dict[tuple[datetime, str, str], Decimal] = {}
    for reading, wh in kept:
        key = (reading.at, reading.context or "Sample.Periodic", reading.phase or "")
        if key in unique:
            flags.add(Flag.DUPLICATE_SAMPLE if unique[key] == wh else Flag.CONFLICTING_DUPLICATE)
            continue
        unique[key] = wh
    by_instant: dict[tuple[datetime, str], dict[str, Decimal]] = defaultdict(dict)
    for (at, context, phase), wh in unique.items():
        by_instant[(at, context)][phase] = wh
    result: dict[str, list[_Value]] = defaultdict(list)
    for (at, context), phases in by_instant.items():
        value = phases.get("")
        if value is None:
            for names in _PHASE_SETS:
                present = [phases[name] for name in names if name in phases]
                if present:
                    value = sum(present, Decimal(0))
                    flags.add(Flag.PHASE_SUM)
                    break
        if value is not None:
            group = context if context in (BEGIN, END) else "middle"
            result[group].append(_Value(at, value))
    for values in result.values():
        values.sort(key=lambda v: (v.at, v.wh))
    return result


def _start(
    session: SessionInput, begins: list[_Value], middle: list[_Value], flags: _Flags
) -> _Value | None:
    """The first Transaction.Begin reading, else meterStart, else the first reading."""
    if len(begins) > 1:
        flags.add(Flag.REPEATED_BEGIN)  # Growatt repeats Begin in every MeterValues
    if begins:
        if session.meter_start_wh is not None and session.meter_start_wh != begins[0].wh:
            flags.add(Flag.METER_START_MISMATCH)
        return begins[0]
    if session.meter_start_wh is not None:
        flags.add(Flag.USED_METER_START)
        return _Value(session.start, Decimal(session.meter_start_wh))
    if middle:
        flags.add(Flag.NO_START_VALUE)
        return middle.pop(0)
    return None


def _end(
    session: SessionInput, ends: list[_Value], middle: list[_Value], flags: _Flags
) -> _Value | None:
    """The last Transaction.End reading, else meterStop unless below the last reading.

    ``None`` means the series simply ends with its last reading.
    """
    if len(ends) > 1:
        flags.add(Flag.REPEATED_END)
    if ends:
        if session.meter_stop_wh is not None and session.meter_stop_wh != ends[-1].wh:
            flags.add(Flag.METER_STOP_MISMATCH)
        return ends[-1]
    if session.meter_stop_wh is not None:
        flags.add(Flag.USED_METER_STOP)
        stop = _Value(session.end, Decimal(session.meter_stop_wh))
        before = [v for v in middle if v.at <= stop.at]
        if before and before[-1].wh > stop.wh:
            flags.add(Flag.STOP_LT_LAST)
            return None
        return stop
    if middle:
        flags.add(Flag.NO_STOP_VALUE)
    return None


def _endpoints(
    session: SessionInput, groups: dict[str, list[_Value]], flags: _Flags
) -> list[_Value]:
    """The start value, the readings in between, and the end value, in time order."""
    middle = groups.get("middle", [])
    start = _start(session, groups.get(BEGIN, []), middle, flags)
    end = _end(session, groups.get(END, []), middle, flags)
    if start is None:
        if end is None:
            return []
        flags.add(Flag.NO_START_VALUE)
        start, end = end, None
    high = end.at if end is not None else session.end
    inside = [v for v in middle if start.at <= v.at <= high]
    if len(inside) < len(middle):
        flags.add(Flag.OUTSIDE_SESSION)
    return [start, *inside, *([end] if end is not None else [])]


def _unit_bug(previous: Decimal, value: Decimal) -> bool:
    # Only a lifetime register is big enough to be told apart from its kWh reading;
    # small per-transaction registers legitimately grow 1000-fold early in a session.
    if previous <= 0 or value <= 0 or max(previous, value) < _LIFETIME_WH:
        return False
    low, high = _UNIT_BUG_RATIO
    ratio = max(previous, value) / min(previous, value)
    return low <= ratio <= high


def _rollover(previous: Decimal, value: Decimal) -> Decimal | None:
    """The delta across a register rollover, or None when the fall is not one."""
    for modulus in _MODULI:
        if modulus > previous:
            near_top = previous >= modulus * (1 - _ROLLOVER_SHARE)
            if near_top and value < modulus * _ROLLOVER_SHARE:
                return value + modulus - previous
            return None
    return None


def _too_fast(session: SessionInput, delta: Decimal, since: datetime, at: datetime) -> bool:
    if session.max_power_kw is None:
        return False
    seconds = elapsed_seconds(since, at)
    limit_wh = session.max_power_kw * 1000 * seconds / 3600 * SPIKE_MARGIN
    return delta > limit_wh


def _walk(session: SessionInput, series: list[_Value], flags: _Flags) -> list[EnergyPoint]:
    first = series[0]
    points = [EnergyPoint(first.at, Decimal(0))]
    reference, since, total = first.wh, first.at, Decimal(0)
    for value in series[1:]:
        if _unit_bug(reference, value.wh):
            flags.add(Flag.UNIT_SUSPECT)
            continue
        delta = value.wh - reference
        if delta < 0 and -delta <= JITTER_WH:
            flags.add(Flag.JITTER_IGNORED)
            points.append(EnergyPoint(value.at, total))
            continue
        if delta < 0:
            rolled = _rollover(reference, value.wh)
            if rolled is None:
                flags.add(Flag.REGISTER_RESET)
                delta = Decimal(0)
            else:
                flags.add(Flag.REGISTER_ROLLOVER)
                delta = rolled
        if _too_fast(session, delta, since, value.at):
            flags.add(Flag.SPIKE_DROPPED)
            delta = Decimal(0)
        total += delta
        reference, since = value.wh, value.at
        points.append(EnergyPoint(value.at, total))
    return points


def session_energy(session: SessionInput) -> SessionEnergy:
    """The session's metered energy (exact Wh), its cumulative points and flags."""
    flags = _Flags()
    kept, signed = _register_readings(session.readings, flags)
    series = _endpoints(session, _combine(kept, flags), flags)
    if not series:
        flags.add(Flag.NO_METER_DATA)
        return SessionEnergy(Decimal(0), (), flags.all(), tuple(signed))
    points = _walk(session, series, flags)
    return SessionEnergy(points[-1].energy_wh, tuple(points), flags.all(), tuple(signed))
