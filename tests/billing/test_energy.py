"""Session energy from meter readings as chargers really send them (section 2.3)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing import Flag, MeterReading, session_energy
from tests.billing.conftest import B, C, E, P, at, reading, session


def energy(*readings: MeterReading, **kw: object) -> tuple[Decimal, set[Flag]]:
    result = session_energy(session(at(10), at(11), *readings, **kw))  # type: ignore[arg-type]
    return result.energy_wh, set(result.flags)


CASES = {
    "Wh register": (
        [B("1000000", at(10)), P("1004000", at(10, 30)), E("1010000", at(11))],
        {},
        "10000",
        set(),
    ),
    "kWh register": (
        [
            B("1000.000", at(10), unit="kWh"),
            P("1004.000", at(10, 30), unit="kWh"),
            E("1010.000", at(11), unit="kWh"),
        ],
        {},
        "10000",
        set(),
    ),
    "missing unit means Wh": (
        [B("1000", at(10)), E("3000", at(11))],
        {},
        "2000",
        set(),
    ),
    "clock-aligned samples count": (
        [B("0", at(10)), C("400", at(10, 15)), E("900", at(11))],
        {},
        "900",
        set(),
    ),
    "per-phase registers only are summed": (
        [
            B("100", at(10), phase="L1"),
            B("200", at(10), phase="L2"),
            B("300", at(10), phase="L3"),
            E("1100", at(11), phase="L1"),
            E("1200", at(11), phase="L2"),
            E("1300", at(11), phase="L3"),
        ],
        {},
        "3000",
        {Flag.PHASE_SUM},
    ),
    "total wins over phases, never both": (
        [
            B("600", at(10)),
            B("100", at(10), phase="L1"),
            B("200", at(10), phase="L2"),
            B("300", at(10), phase="L3"),
            E("3600", at(11)),
            E("1100", at(11), phase="L1"),
            E("1200", at(11), phase="L2"),
            E("1300", at(11), phase="L3"),
        ],
        {},
        "3000",
        set(),
    ),
    "duplicates count once": (
        [B("0", at(10)), P("500", at(10, 30)), P("500", at(10, 30)), E("900", at(11))],
        {},
        "900",
        {Flag.DUPLICATE_SAMPLE},
    ),
    "out-of-order arrival is sorted": (
        [E("900", at(11)), P("700", at(10, 45)), B("0", at(10)), P("300", at(10, 15))],
        {},
        "900",
        {Flag.OUT_OF_ORDER},
    ),
    "register reset starts a new segment, the gap is not billed": (
        [B("5000", at(10)), P("8000", at(10, 20)), P("100", at(10, 40)), E("1100", at(11))],
        {},
        "4000",
        {Flag.REGISTER_RESET},
    ),
    "rollover of a 6-digit register adds the modulus": (
        [B("999000", at(10)), P("999990", at(10, 20)), E("20", at(11))],
        {},
        "1020",
        {Flag.REGISTER_ROLLOVER},
    ),
    "a small fall is jitter and ignored": (
        [B("1000", at(10)), P("1500", at(10, 20)), P("1495", at(10, 40)), E("2000", at(11))],
        {},
        "1000",
        {Flag.JITTER_IGNORED},
    ),
    "missing Transaction.Begin falls back to meterStart": (
        [P("7000", at(10, 30)), E("9000", at(11))],
        {"meter_start": 5000},
        "4000",
        {Flag.USED_METER_START},
    ),
    "Begin wins over a different meterStart": (
        [B("5010", at(10)), E("9000", at(11))],
        {"meter_start": 5000},
        "3990",
        {Flag.METER_START_MISMATCH},
    ),
    "missing Transaction.End falls back to meterStop": (
        [B("5000", at(10)), P("7000", at(10, 30))],
        {"meter_stop": 9000},
        "4000",
        {Flag.USED_METER_STOP},
    ),
    "meterStop below the last periodic value is not trusted": (
        [B("5000", at(10)), P("7000", at(10, 30))],
        {"meter_stop": 6000},
        "2000",
        {Flag.STOP_LT_LAST},
    ),
    "meterStart and meterStop alone": (
        [],
        {"meter_start": 5000, "meter_stop": 12345},
        "7345",
        {Flag.USED_METER_START, Flag.USED_METER_STOP},
    ),
    "signed values are kept but left out of the arithmetic": (
        [
            B("2114135.6", at(10)),
            B("2114.1", at(10), fmt="SignedData"),
            E("2124135.6", at(11)),
            E("2124.1", at(11), fmt="SignedData"),
        ],
        {},
        "10000",
        {Flag.IGNORED_SIGNED},
    ),
    "Growatt repeats the Begin value in every message": (
        [
            B("1000", at(10)),
            B("1000", at(10, 30)),
            P("4000", at(10, 30)),
            B("1000", at(11)),
            E("7000", at(11)),
        ],
        {},
        "6000",
        {Flag.REPEATED_BEGIN},
    ),
    "a kWh value labelled Wh is a unit bug, not a reset": (
        [B("1000000", at(10)), P("1005.5", at(10, 30)), E("1010000", at(11))],
        {},
        "10000",
        {Flag.UNIT_SUSPECT},
    ),
    "inlet, interval and other measurands are not the register": (
        [
            B("0", at(10)),
            P("99999", at(10, 30), location="Inlet"),
            P("500", at(10, 30), measurand="Energy.Active.Import.Interval"),
            P("7000", at(10, 30), measurand="Power.Active.Import", unit="W"),
            reading("50000", at(10, 30), context="Interruption.Begin"),
            E("900", at(11)),
        ],
        {},
        "900",
        {Flag.IGNORED_LOCATION, Flag.IGNORED_CONTEXT},
    ),
    "samples after the end are left out": (
        [B("0", at(10)), E("900", at(10, 50)), P("5000", at(10, 55))],
        {},
        "900",
        {Flag.OUTSIDE_SESSION},
    ),
    "unknown units and unparseable values are flagged": (
        [
            B("0", at(10)),
            P("300", at(10, 20), unit="W"),
            MeterReading(at(10, 30), None, text="n/a"),
            E("900", at(11)),
        ],
        {},
        "900",
        {Flag.UNIT_UNKNOWN, Flag.UNPARSEABLE_VALUE},
    ),
    "no meter data at all": ([], {}, "0", {Flag.NO_METER_DATA}),
}


@pytest.mark.parametrize(
    ("readings", "extra", "expected", "flags"), CASES.values(), ids=CASES.keys()
)
def test_session_energy(
    readings: list[MeterReading], extra: dict[str, int], expected: str, flags: set[Flag]
) -> None:
    wh, found = energy(*readings, **extra)
    assert wh == Decimal(expected)
    assert flags <= found, found


def test_flags_are_only_raised_when_something_was_corrected() -> None:
    _, found = energy(B("0", at(10)), P("400", at(10, 30)), E("900", at(11)))
    assert found == set()


def test_impossible_jump_is_dropped_with_rated_power() -> None:
    """meterStart 0 next to a lifetime register: the first delta would be huge."""
    wh, found = energy(
        P("2114000", at(10, 10)),
        P("2115000", at(10, 20)),
        E("2116000", at(11)),
        meter_start=0,
        max_power_kw="22",
    )
    assert wh == Decimal(2000)
    assert Flag.SPIKE_DROPPED in found


def test_without_rated_power_no_jump_is_judged() -> None:
    wh, _ = energy(B("0", at(10)), E("20000", at(11)))
    assert wh == Decimal(20000)


def test_signed_readings_are_kept_verbatim() -> None:
    result = session_energy(
        session(at(10), at(11), B("0", at(10)), E("OCMF|{...}|{...}", at(11), fmt="SignedData"))
    )
    assert [r.text for r in result.signed] == ["OCMF|{...}|{...}"]


def test_points_are_cumulative_from_zero() -> None:
    result = session_energy(
        session(at(10), at(11), B("1000", at(10)), P("1500", at(10, 30)), E("2500", at(11)))
    )
    assert [p.energy_wh for p in result.points] == [0, 500, 1500]
    assert [p.at for p in result.points] == [at(10), at(10, 30), at(11)]


def test_a_small_per_transaction_register_may_grow_1000_fold() -> None:
    wh, found = energy(B("0", at(10)), P("7", at(10, 1)), P("7000", at(10, 31)), E("14000", at(11)))
    assert wh == Decimal(14000)
    assert Flag.UNIT_SUSPECT not in found


def test_a_unit_bug_on_the_last_reading_does_not_bill_it() -> None:
    wh, found = energy(B("1000000", at(10)), P("1004000", at(10, 30)), E("1010.000", at(11)))
    assert wh == Decimal(4000)
    assert Flag.UNIT_SUSPECT in found
