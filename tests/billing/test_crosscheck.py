"""The meter against the car's SoC: verdicts, bands, stale polls and settings."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing import CrosscheckConfig, SessionInput, SocPoll, Verdict, price_session
from billing.crosscheck import Crosscheck
from tests.billing.conftest import T1, B, E, P, at, session, soc


def check(
    wh: int,
    *polls: SocPoll,
    current_type: str = "AC",
    minutes: int = 60,
    capacity: str | None = "60",
    capacity_source: str | None = "SMARTCAR",
    config: CrosscheckConfig | None = None,
) -> Crosscheck:
    end = at(10 + minutes // 60, minutes % 60)
    used: SessionInput = session(
        at(10),
        end,
        B("0", at(10)),
        E(str(wh), end),
        polls=polls,
        current_type=current_type,
        capacity=capacity,
        capacity_source=capacity_source,
    )
    return price_session(T1, used, crosscheck_config=config or CrosscheckConfig()).crosscheck


def band(result: Crosscheck) -> tuple[str, str]:
    assert result.meter_band_kwh is not None
    low, high = result.meter_band_kwh
    return (str(low.quantize(Decimal("0.001"))), str(high.quantize(Decimal("0.001"))))


START = soc("0.30", at(10), plugged=True)
END = soc("0.50", at(11, 1))

VERDICTS = {
    "OK: 20 pp on 60 kWh, 14 kWh metered": (14000, (START, END), Verdict.OK),
    "METER_HIGH: far more than the car gained": (30000, (START, END), Verdict.METER_HIGH),
    "METER_LOW: far less than the car gained": (5000, (START, END), Verdict.METER_LOW),
    "INCONCLUSIVE: 2 pp is too small": (
        1200,
        (START, soc("0.32", at(11, 1))),
        Verdict.INCONCLUSIVE,
    ),
    "INCONCLUSIVE: nothing happened": (50, (START, soc("0.30", at(11, 1))), Verdict.INCONCLUSIVE),
    "INCONCLUSIVE: one poll": (11000, (START,), Verdict.INCONCLUSIVE),
    "INCONCLUSIVE: no polls": (11000, (), Verdict.INCONCLUSIVE),
    "VEHICLE_MISMATCH: unplugged at every poll": (
        11000,
        (soc("0.30", at(10), plugged=False), soc("0.30", at(10, 30), plugged=False), END),
        Verdict.VEHICLE_MISMATCH,
    ),
    "VEHICLE_MISMATCH: more than 2 km away": (
        11000,
        (soc("0.30", at(10), distance_m="5400"), END),
        Verdict.VEHICLE_MISMATCH,
    ),
    "VEHICLE_MISMATCH: meter rose, car gained nothing": (
        11000,
        (START, soc("0.30", at(11, 1))),
        Verdict.VEHICLE_MISMATCH,
    ),
}


@pytest.mark.parametrize(("wh", "polls", "verdict"), VERDICTS.values(), ids=VERDICTS.keys())
def test_verdicts(wh: int, polls: tuple[SocPoll, ...], verdict: Verdict) -> None:
    result = check(wh, *polls)
    assert result.verdict is verdict, result.reasons
    assert result.reasons


def test_unplugged_after_the_session_is_no_mismatch() -> None:
    """The end poll comes after unplugging: only in-session polls count."""
    result = check(14000, START, soc("0.50", at(11, 5), plugged=False))
    assert result.verdict is Verdict.OK


def test_distance_after_the_session_is_no_mismatch() -> None:
    assert check(14000, START, soc("0.50", at(11, 5), distance_m="9000")).verdict is Verdict.OK


def test_mismatch_needs_at_least_1_kwh() -> None:
    result = check(800, soc("0.30", at(10), plugged=False), soc("0.31", at(10, 30), plugged=False))
    assert result.verdict is Verdict.INCONCLUSIVE


def test_no_capacity_is_inconclusive() -> None:
    result = check(11000, START, END, capacity=None)
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.meter_band_kwh is None
    assert "battery capacity unknown" in result.reasons


@pytest.mark.parametrize(
    ("current_type", "wh", "minutes", "expected"),
    [
        # DC 0.85-0.98: E_lo = 19/100*60*0.95 = 10.83, E_hi = 21/100*60*1.05 = 13.23
        ("DC", 11000, 15, ("11.051", "16.065")),
        # AC >= 7 kW 0.82-0.96
        ("AC", 11000, 60, ("11.281", "16.634")),
        # AC < 7 kW 0.72-0.95
        ("AC", 11000, 120, ("11.400", "18.875")),
    ],
)
def test_efficiency_band_by_charger_type_and_power(
    current_type: str, wh: int, minutes: int, expected: tuple[str, str]
) -> None:
    end = soc("0.50", at(10 + (minutes + 1) // 60, (minutes + 1) % 60))
    assert band(check(wh, START, end, current_type=current_type, minutes=minutes)) == expected


def test_capacity_source_sets_the_uncertainty() -> None:
    trusted = band(check(11000, START, END, capacity_source="USER_SELECTED"))
    guessed = band(check(11000, START, END, capacity_source=None))
    # u = 0.10: E_lo = 19/100*60*0.90 = 10.26 -> /0.96 = 10.688
    assert trusted == ("11.281", "16.634")
    assert guessed == ("10.688", "17.402")


def test_fine_soc_uses_a_smaller_quantum() -> None:
    fine = check(11000, soc("0.305", at(10)), soc("0.505", at(11, 1)))
    # q = 0.2 pp: E_lo = 19.8/100*60*0.95 = 11.286 -> /0.96 = 11.756
    assert band(fine)[0] == "11.756"


def test_meter_is_compared_between_the_two_data_age_instants() -> None:
    """Polls at 10:30 and 11:00 see only the second half of the energy."""
    used = session(
        at(10),
        at(11),
        B("0", at(10)),
        P("5500", at(10, 30)),
        E("11000", at(11)),
        polls=(soc("0.30", at(10, 30)), soc("0.40", at(11))),
        capacity="60",
    )
    result = price_session(T1, used).crosscheck
    assert result.metered_kwh == Decimal("5.5")
    assert result.verdict is Verdict.OK


def test_end_poll_before_energy_stopped_is_noted() -> None:
    result = check(11000, START, soc("0.45", at(10, 45)))
    assert any("before energy stopped" in reason for reason in result.reasons)


def test_late_poll_is_discarded() -> None:
    result = check(14000, START, END, soc("0.90", at(13)))
    assert result.verdict is Verdict.OK
    assert any("long after the session end" in reason for reason in result.reasons)


def test_settings_change_the_thresholds() -> None:
    strict = CrosscheckConfig(efficiency_ac_fast=(Decimal("0.60"), Decimal("0.70")))
    assert check(14000, START, END).verdict is Verdict.OK
    assert check(14000, START, END, config=strict).verdict is Verdict.METER_LOW
    lenient = CrosscheckConfig(min_informative_soc_pp=Decimal(1))
    two_pp = (START, soc("0.32", at(11, 1)))
    assert check(1200, *two_pp).verdict is Verdict.INCONCLUSIVE
    assert check(1200, *two_pp, config=lenient).verdict is Verdict.OK


def test_the_verdict_never_changes_the_bill() -> None:
    normal = price_session(T1, session(at(10), at(11), B("0", at(10)), E("30000", at(11))))
    high = price_session(
        T1,
        session(
            at(10), at(11), B("0", at(10)), E("30000", at(11)), polls=(START, END), capacity="60"
        ),
    )
    assert high.crosscheck.verdict is Verdict.METER_HIGH
    assert high.total == normal.total == Decimal("8.25")
