"""The cross-check of metered energy against the car's state of charge (section 3.4).

The meter is what we bill; the car's SoC only checks it. ``M`` is the metered energy
between the data-age instants of the first and the last usable SoC poll (the meter
interpolated at both). From the SoC gain and the battery capacity:

- ``E_lo = max(0, dSoC - q)/100 x C x (1 - u)``, ``E_hi = (dSoC + q)/100 x C x (1 + u)``
- plausible meter band ``[E_lo / eta_max, E_hi / eta_min + A]``

Verdict, first match wins:

1. VEHICLE_MISMATCH: a check during the session found the car not charging while the meter
   rose (``SessionInput.vehicle_mismatch``), or ``M >= 1 kWh`` and the car said unplugged at
   every in-session poll, or it was more than 2 km away.
2. INCONCLUSIVE: ``M < 0.1 kWh`` and ``dSoC <= q`` (nothing happened).
3. METER_HIGH: ``M > M_hi`` (VEHICLE_MISMATCH instead when ``dSoC <= q``: the car did not
   charge at all, section 3.5).
4. METER_LOW: ``M < M_lo``.
5. INCONCLUSIVE: ``dSoC < 3 pp``.
6. OK.

Without two usable polls or a capacity the verdict is INCONCLUSIVE. A poll recorded more
than 15 min before the start is stale unless the car provably stood still (same odometer
as the next poll); one recorded more than 15 min after the end is stale too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from billing.model import CurrentType, SessionInput, SocPoll, elapsed_seconds
from billing.series import EnergySeries

__all__ = ["Crosscheck", "CrosscheckConfig", "Verdict", "crosscheck"]

_KWH = Decimal(1000)
_PP = Decimal(100)
_SHOW = Decimal("0.001")


class Verdict(StrEnum):
    OK = "OK"
    INCONCLUSIVE = "INCONCLUSIVE"
    METER_LOW = "METER_LOW"
    METER_HIGH = "METER_HIGH"
    VEHICLE_MISMATCH = "VEHICLE_MISMATCH"


@dataclass(frozen=True, slots=True)
class CrosscheckConfig:
    """The cross-check's parameters; the defaults are the reference's v1 values."""

    soc_quantum_integer_pp: Decimal = Decimal("1.0")
    soc_quantum_fine_pp: Decimal = Decimal("0.2")
    capacity_uncertainty_trusted: Decimal = Decimal("0.05")
    capacity_uncertainty_other: Decimal = Decimal("0.10")
    trusted_capacity_sources: frozenset[str] = field(
        default_factory=lambda: frozenset({"SMARTCAR", "USER_SELECTED"})
    )
    efficiency_dc: tuple[Decimal, Decimal] = (Decimal("0.85"), Decimal("0.98"))
    efficiency_ac_fast: tuple[Decimal, Decimal] = (Decimal("0.82"), Decimal("0.96"))
    efficiency_ac_slow: tuple[Decimal, Decimal] = (Decimal("0.72"), Decimal("0.95"))
    ac_fast_min_kw: Decimal = Decimal("7")
    aux_allowance_kwh: Decimal = Decimal("0.5")
    min_informative_soc_pp: Decimal = Decimal("3")
    mismatch_min_kwh: Decimal = Decimal("1")
    mismatch_distance_m: Decimal = Decimal("2000")
    idle_max_kwh: Decimal = Decimal("0.1")
    max_soc_staleness: timedelta = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Crosscheck:
    """The verdict with what it rests on. Energies in kWh, SoC gain in percentage points."""

    verdict: Verdict
    meter_band_kwh: tuple[Decimal, Decimal] | None
    metered_kwh: Decimal
    soc_delta_pp: Decimal | None
    reasons: tuple[str, ...]


def _show(value: Decimal) -> str:
    return str(value.quantize(_SHOW, rounding=ROUND_HALF_UP))


def _usable_polls(
    session: SessionInput, config: CrosscheckConfig, reasons: list[str]
) -> list[SocPoll]:
    polls = sorted(
        (p for p in session.soc_polls if p.percent_remaining is not None),
        key=lambda p: p.recorded_at,
    )
    earliest = session.start - config.max_soc_staleness
    latest = session.end + config.max_soc_staleness
    fresh = [p for p in polls if earliest <= p.recorded_at <= latest]
    kept: list[SocPoll] = []
    for poll in polls:
        when = poll.recorded_at.isoformat()
        if poll.recorded_at > latest:
            reasons.append(f"SoC recorded at {when} is long after the session end: discarded")
        elif poll.recorded_at < earliest:
            later = fresh[0] if fresh else None
            idle = (
                poll.odometer_km is not None
                and later is not None
                and later.odometer_km == poll.odometer_km
            )
            if idle:
                reasons.append(f"SoC recorded at {when} is old but the car has not moved: kept")
                kept.append(poll)
            else:
                reasons.append(
                    f"SoC recorded at {when} is stale and the car may have moved: discarded"
                )
        else:
            kept.append(poll)
    return kept


def _mismatch(
    session: SessionInput, polls: list[SocPoll], metered_kwh: Decimal, config: CrosscheckConfig
) -> str | None:
    if metered_kwh < config.mismatch_min_kwh:
        return None
    inside = [p for p in polls if session.start <= p.recorded_at <= session.end]
    plugged = [p.is_plugged_in for p in inside if p.is_plugged_in is not None]
    if plugged and not any(plugged):
        return "the car reported itself unplugged at every poll during the session"
    near = [p for p in polls if p.recorded_at <= session.end and p.distance_m is not None]
    for poll in near:
        assert poll.distance_m is not None
        if poll.distance_m > config.mismatch_distance_m:
            return f"the car was {poll.distance_m} m from the charger"
    return None


def _efficiency(
    session: SessionInput, average_kw: Decimal, config: CrosscheckConfig
) -> tuple[Decimal, Decimal]:
    if session.current_type is CurrentType.DC:
        return config.efficiency_dc
    if average_kw >= config.ac_fast_min_kw:
        return config.efficiency_ac_fast
    return config.efficiency_ac_slow


def _band(
    session: SessionInput,
    series: EnergySeries,
    start_soc: Decimal,
    end_soc: Decimal,
    capacity: Decimal,
    config: CrosscheckConfig,
) -> tuple[tuple[Decimal, Decimal], Decimal]:
    """The plausible meter band (kWh) and the SoC quantisation ``q`` used for it."""
    delta = (end_soc - start_soc) * _PP
    integral = all((s * _PP) == (s * _PP).to_integral_value() for s in (start_soc, end_soc))
    q = config.soc_quantum_integer_pp if integral else config.soc_quantum_fine_pp
    trusted = (session.capacity_source or "").upper() in config.trusted_capacity_sources
    u = config.capacity_uncertainty_trusted if trusted else config.capacity_uncertainty_other
    flowing = series.flowing_seconds()
    total_kwh = series.energy_at(elapsed_seconds(session.start, session.end)) / _KWH
    average_kw = total_kwh * 3600 / flowing if flowing else Decimal(0)
    eta_min, eta_max = _efficiency(session, average_kw, config)
    e_lo = max(Decimal(0), delta - q) / _PP * capacity * (1 - u)
    e_hi = max(Decimal(0), delta + q) / _PP * capacity * (1 + u)
    return (e_lo / eta_max, e_hi / eta_min + config.aux_allowance_kwh), q


def crosscheck(session: SessionInput, series: EnergySeries, config: CrosscheckConfig) -> Crosscheck:
    """Check the metered energy against the SoC polls; never changes the bill itself."""
    reasons: list[str] = []
    polls = _usable_polls(session, config, reasons)
    first, last = (polls[0], polls[-1]) if polls else (None, None)
    start_soc = end_soc = delta = None
    if first is not None and last is not None and first.recorded_at < last.recorded_at:
        start_soc, end_soc = first.percent_remaining, last.percent_remaining
        since = elapsed_seconds(session.start, first.recorded_at)
        until = elapsed_seconds(session.start, last.recorded_at)
        before = series.energy_at(since) if since > 0 else Decimal(0)
        metered = (series.energy_at(until) - before) / _KWH
        rise = series.last_rise()
        if rise is not None and until < rise:
            reasons.append("the last SoC was recorded before energy stopped flowing")
    else:
        metered = series.energy_at(elapsed_seconds(session.start, session.end)) / _KWH
    if start_soc is not None and end_soc is not None:
        delta = (end_soc - start_soc) * _PP

    def result(verdict: Verdict, band: tuple[Decimal, Decimal] | None = None) -> Crosscheck:
        return Crosscheck(verdict, band, metered, delta, tuple(reasons))

    mismatch = session.vehicle_mismatch or _mismatch(session, polls, metered, config)
    if mismatch is not None:
        reasons.append(mismatch)
        return result(Verdict.VEHICLE_MISMATCH)
    if start_soc is None or end_soc is None or delta is None:
        reasons.append("fewer than two usable SoC polls")
        return result(Verdict.INCONCLUSIVE)
    capacity = session.battery_capacity_kwh
    if capacity is None:
        reasons.append("battery capacity unknown")
        return result(Verdict.INCONCLUSIVE)
    band, q = _band(session, series, start_soc, end_soc, capacity, config)
    shown = f"metered {_show(metered)} kWh, band [{_show(band[0])}, {_show(band[1])}] kWh"
    reasons.append(f"{shown} for a SoC gain of {delta.normalize():f} pp (q={q:f})")

    if last is not None and last.state == "FULLY_CHARGED":
        reasons.append("the car reports FULLY_CHARGED (charge limit reached)")
    if metered < config.idle_max_kwh and delta <= q:
        reasons.append("nothing happened: no energy and no SoC gain")
        return result(Verdict.INCONCLUSIVE, band)
    if metered > band[1]:
        if delta <= q:
            reasons.append("the meter rose but the car gained no charge")
            return result(Verdict.VEHICLE_MISMATCH, band)
        return result(Verdict.METER_HIGH, band)
    if metered < band[0]:
        ratio = metered / (delta / _PP * capacity)
        shown_ratio = ratio.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        reasons.append(f"meter/battery ratio {shown_ratio}: the meter may under-register")
        return result(Verdict.METER_LOW, band)
    if delta < config.min_informative_soc_pp:
        reasons.append(f"a SoC gain below {config.min_informative_soc_pp} pp proves nothing")
        return result(Verdict.INCONCLUSIVE, band)
    return result(Verdict.OK, band)
