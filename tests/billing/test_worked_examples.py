"""Every worked example of billing-domain.md, recomputed through ``price_session``.

Section 7 (V01-V08: meter, price and cross-check together) and section 1.8 plus the
step-size examples of sections 1.2 and 1.5 (the OCPI spec's tariffs, recomputed).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

import pytest

from billing import CrosscheckConfig, Flag, SessionInput, Tariff, Verdict, price_session
from billing.money import round_amount
from tests.billing.conftest import (
    COMPLEX,
    T1,
    T2,
    T3,
    T4,
    T5,
    B,
    E,
    P,
    at,
    component,
    current,
    element,
    session,
    soc,
    tariff,
)


@dataclass(frozen=True)
class Vector:
    tariff: Tariff
    session: SessionInput
    energy_wh: int
    excl: str
    incl: str | None
    total: str
    verdict: Verdict = Verdict.INCONCLUSIVE
    band: tuple[str, str] | None = None
    flags: frozenset[Flag] = frozenset()
    billed_energy_wh: int | None = None


SECTION_7 = {
    "V01 T1 Tue 10:00-11:49": Vector(
        T1,
        session(
            at(10),
            at(11, 49),
            B("1000000", at(10)),
            P("1005500", at(10, 30)),
            P("1011000", at(11)),
            E("1020000", at(11, 49)),
            polls=(soc("0.30", at(10)), soc("0.60", at(11, 50))),
            capacity="58",
        ),
        20000,
        "5.00",
        "5.50",
        "5.50",
        Verdict.OK,
        ("16.645", "23.523"),
    ),
    "V02 T2 DC kWh units": Vector(
        T2,
        session(
            at(10),
            at(10, 24),
            B("1234.567", at(10), unit="kWh"),
            P("1243.000", at(10, 8), unit="kWh"),
            P("1251.400", at(10, 16), unit="kWh"),
            E("1254.567", at(10, 24), unit="kWh"),
            current_type="DC",
            polls=(soc("0.20", at(10)), soc("0.45", at(10, 25))),
            capacity="77",
        ),
        20000,
        "5.50",
        "6.10",
        "6.10",
        Verdict.OK,
        ("17.914", "25.231"),
    ),
    "V03 T1 no Begin, duplicate and out-of-order, stale SoC": Vector(
        T1,
        session(
            at(10),
            at(11),
            P("11000", at(10, 15)),  # arrives before 10:05
            P("7000", at(10, 5)),
            P("9000", at(10, 10)),
            P("9000", at(10, 10)),  # sent twice
            meter_start=5000,
            meter_stop=12345,
            polls=(
                soc("0.58", at(8, 58), fetched=at(9), odometer_km="12000"),
                soc("0.50", at(10), odometer_km="12003"),
                soc("0.61", at(11, 4)),
            ),
            capacity="60",
        ),
        7345,
        "1.83625",
        "2.019875",
        "2.02",
        Verdict.OK,
        ("5.938", "9.720"),
        frozenset({Flag.USED_METER_START, Flag.OUT_OF_ORDER, Flag.DUPLICATE_SAMPLE}),
    ),
    "V04 T3 short top-up, min price": Vector(
        T3,
        session(
            at(10),
            at(10, 10),
            B("300000", at(10)),
            E("301200", at(10, 10)),
            polls=(soc("0.80", at(10)), soc("0.82", at(10, 11))),
            capacity="58",
        ),
        1200,
        "0.50",
        "0.55",
        "0.55",
        Verdict.INCONCLUSIVE,
        ("0.574", "2.728"),
        frozenset({Flag.MIN_PRICE_APPLIED}),
    ),
    "V05 T2 car already full, no energy no FLAT": Vector(
        T2,
        session(
            at(10),
            at(10, 5),
            B("42000", at(10)),
            E("42000", at(10, 5)),
            polls=(soc("0.80", at(10)), soc("0.80", at(10, 6), state="FULLY_CHARGED")),
            capacity="58",
        ),
        0,
        "0.00",
        "0.00",
        "0.00",
        Verdict.INCONCLUSIVE,
        ("0.000", "1.346"),
        frozenset({Flag.NO_ENERGY_NO_FLAT}),
    ),
    "V06 T4 cap reached": Vector(
        T4,
        session(
            at(10),
            at(10, 45),
            B("0", at(10)),
            P("30000", at(10, 30)),
            E("50000", at(10, 45)),
            current_type="DC",
            polls=(soc("0.10", at(10)), soc("0.70", at(10, 46))),
            capacity="77",
        ),
        50000,
        "10.00",
        "11.00",
        "11.00",
        Verdict.OK,
        ("44.039", "58.522"),
        frozenset({Flag.MAX_PRICE_APPLIED}),
    ),
    "V07 T4 cap not reached, meter low": Vector(
        T4,
        session(
            at(10),
            at(10, 30),
            B("100000", at(10)),
            E("130000", at(10, 30)),
            current_type="DC",
            polls=(soc("0.10", at(10)), soc("0.60", at(10, 31))),
            capacity="77",
        ),
        30000,
        "8.00",
        "8.85",
        "8.85",
        Verdict.METER_LOW,
        ("36.575", "49.010"),
    ),
    "V08 T5 step 100 Wh, signed samples ignored": Vector(
        T5,
        session(
            at(10),
            at(11, 52),
            B("1000000", at(10)),
            B("1000.000", at(10), fmt="SignedData"),
            P("1011000", at(11)),
            E("1020450", at(11, 52)),
            E("1020.450", at(11, 52), fmt="SignedData"),
            polls=(soc("0.40", at(10)), soc("0.70", at(11, 53))),
            capacity="64",
        ),
        20450,
        "5.625",
        "6.2375",
        "6.24",
        Verdict.OK,
        ("18.367", "25.905"),
        frozenset({Flag.IGNORED_SIGNED}),
        billed_energy_wh=20500,
    ),
}


def _charge(start: tuple[int, int], end: tuple[int, int], wh: int) -> SessionInput:
    """A session that charges ``wh`` evenly from start to end."""
    return session(at(*start), at(*end), B("0", at(*start)), E(str(wh), at(*end)))


FLAT_ENERGY_PARKING = tariff(
    element(component("FLAT", "0.50", "20")),
    element(component("ENERGY", "0.25", "10")),
    element(component("PARKING_TIME", "2.00", "20", step=900)),
)
TIME_PARKING = tariff(
    element(component("TIME", "3.00", "10", step=60)),
    element(component("PARKING_TIME", "5.00", "20", step=300)),
)
MAX_POWER = tariff(
    element(component("ENERGY", "0.20", "20"), max_power="16.00"),
    element(component("ENERGY", "0.35", "20"), max_power="32.00"),
    element(component("ENERGY", "0.50", "20")),
)
MAX_DURATION = tariff(
    element(component("ENERGY", "0.00", "20"), max_duration=1800),
    element(component("ENERGY", "0.25", "20"), max_duration=3600),
    element(component("ENERGY", "0.40", "20")),
)

SECTION_1_8 = {
    "OCPI 0.25/kWh 10% 20 kWh": Vector(
        T1, _charge((10, 0), (12, 0), 20000), 20000, "5.00", "5.50", "5.50"
    ),
    "OCPI start fee 0.50 at 20%": Vector(
        T2, _charge((10, 0), (12, 0), 20000), 20000, "5.50", "6.10", "6.10"
    ),
    "OCPI min price under 2 kWh": Vector(
        T3, _charge((10, 0), (10, 20), 1500), 1500, "0.50", "0.55", "0.55"
    ),
    "OCPI max price 50 kWh": Vector(
        T4, _charge((10, 0), (11, 0), 50000), 50000, "10.00", "11.00", "11.00"
    ),
    "OCPI max price 30 kWh": Vector(
        T4, _charge((10, 0), (11, 0), 30000), 30000, "8.00", "8.85", "8.85"
    ),
    "OCPI step 100 Wh 20.45 kWh": Vector(
        T5,
        _charge((10, 0), (12, 0), 20450),
        20450,
        "5.625",
        "6.2375",
        "6.24",
        billed_energy_wh=20500,
    ),
    "OCPI parking 2.00/h step 900: 20 kWh + 40 min": Vector(
        FLAT_ENERGY_PARKING,
        session(at(10), at(12, 40), B("0", at(10)), P("20000", at(12)), E("20000", at(12, 40))),
        20000,
        "7.00",
        "7.90",
        "7.90",
    ),
    "OCPI TIME 2.00/h step 60: 2.5 h": Vector(
        tariff(element(component("TIME", "2.00", "10", step=60))),
        _charge((10, 0), (12, 30), 25000),
        25000,
        "5.00",
        "5.50",
        "5.50",
    ),
    "OCPI TIME 3.00 + parking 5.00: 150 min + 42 min": Vector(
        TIME_PARKING,
        session(at(10), at(13, 12), B("0", at(10)), P("30000", at(12, 30)), E("30000", at(13, 12))),
        30000,
        "11.25",
        "12.75",
        "12.75",
    ),
    "OCPI example CDR: TIME 2.00/h step 300, 7103 s": Vector(
        tariff(element(component("TIME", "2.00", "10", step=300))),
        session(at(21, 39, 9), at(23, 37, 32), B("0", at(21, 39, 9)), E("15342", at(23, 37, 32))),
        15342,
        "4.00",
        "4.40",
        "4.40",
    ),
    "OCPI complex tariff Monday 09:30, 165 min at 16 A + 42 min parking": Vector(
        COMPLEX,
        session(
            at(7, 30, day=3),  # 09:30 in Berlin (CEST)
            at(10, 57, day=3),
            B("0", at(7, 30, day=3)),
            current("16", at(7, 30, day=3)),
            P("30360", at(10, 15, day=3)),
            current("0", at(10, 15, day=3)),
            E("30360", at(10, 57, day=3)),
        ),
        30360,
        "9.00",
        "10.30",
        "10.30",
    ),
    "OCPI complex tariff Saturday 13:30, 114 min at 43 A + 71 min parking": Vector(
        COMPLEX,
        session(
            at(11, 30, day=8),  # 13:30 in Berlin
            at(14, 35, day=8),
            B("0", at(11, 30, day=8)),
            current("14.33", at(11, 30, day=8), phase="L1"),
            current("14.33", at(11, 30, day=8), phase="L2"),
            current("14.34", at(11, 30, day=8), phase="L3"),
            P("56000", at(13, 24, day=8)),
            current("0", at(13, 24, day=8)),
            E("56000", at(14, 35, day=8)),
        ),
        56000,
        "12.375",
        "13.975",
        "13.98",
    ),
    "OCPI max_power: 1 kWh at 6 kW, 40 at 48 kW, 0.5 at 4 kW": Vector(
        MAX_POWER,
        session(
            at(10),
            at(11, 7, 30),
            B("0", at(10)),
            P("1000", at(10, 10)),
            P("41000", at(11)),
            E("41500", at(11, 7, 30)),
        ),
        41500,
        "20.30",
        "24.36",
        "24.36",
    ),
    "OCPI max_duration: 40 min, 5 kWh then 1.2 kWh": Vector(
        MAX_DURATION,
        session(at(10), at(10, 40), B("0", at(10)), P("5000", at(10, 30)), E("6200", at(10, 40))),
        6200,
        "0.30",
        "0.36",
        "0.36",
    ),
}


def _check(vector: Vector) -> None:
    priced = price_session(vector.tariff, vector.session)
    assert priced.energy_wh == vector.energy_wh
    assert priced.billed_energy_wh == (vector.billed_energy_wh or vector.energy_wh)
    assert priced.invoice.excl_vat == Decimal(vector.excl)
    expected_incl = None if vector.incl is None else Decimal(vector.incl)
    assert priced.invoice.incl_vat == expected_incl
    assert priced.total == Decimal(vector.total)
    assert str(priced.total) == vector.total
    assert priced.total_minor == int(Decimal(vector.total) * 100)
    assert vector.flags <= set(priced.flags), priced.flags


@pytest.mark.parametrize("vector", SECTION_7.values(), ids=SECTION_7.keys())
def test_section_7_vectors(vector: Vector) -> None:
    _check(vector)
    check = price_session(vector.tariff, vector.session).crosscheck
    assert check.verdict is vector.verdict, check.reasons
    assert check.meter_band_kwh is not None
    band = tuple(str(b.quantize(Decimal("0.001"))) for b in check.meter_band_kwh)
    assert band == vector.band


@pytest.mark.parametrize("vector", SECTION_1_8.values(), ids=SECTION_1_8.keys())
def test_section_1_8_ocpi_examples(vector: Vector) -> None:
    _check(vector)


def test_v01_stripe_amount_is_550() -> None:
    assert (
        price_session(
            SECTION_7["V01 T1 Tue 10:00-11:49"].tariff, SECTION_7["V01 T1 Tue 10:00-11:49"].session
        ).total_minor
        == 550
    )


def test_v03_with_the_stale_poll_kept_gives_a_false_high() -> None:
    vector = SECTION_7["V03 T1 no Begin, duplicate and out-of-order, stale SoC"]
    lax = CrosscheckConfig(max_soc_staleness=CrosscheckConfig().max_soc_staleness * 10)
    check = price_session(vector.tariff, vector.session, crosscheck_config=lax).crosscheck
    assert check.soc_delta_pp == 3
    assert check.verdict is Verdict.METER_HIGH


def test_v03_stale_poll_is_kept_when_the_car_did_not_move() -> None:
    vector = SECTION_7["V03 T1 no Begin, duplicate and out-of-order, stale SoC"]
    polls = (
        soc("0.58", at(8, 58), odometer_km="12000"),
        soc("0.58", at(10), odometer_km="12000"),
        soc("0.61", at(11, 4)),
    )
    parked = session(
        vector.session.start,
        vector.session.end,
        *vector.session.readings,
        meter_start=5000,
        meter_stop=12345,
        polls=polls,
        capacity="60",
    )
    check = price_session(T1, parked).crosscheck
    assert check.soc_delta_pp == 3
    assert any("has not moved" in reason for reason in check.reasons)


def test_v07_reports_the_meter_to_battery_ratio() -> None:
    vector = SECTION_7["V07 T4 cap not reached, meter low"]
    reasons = price_session(vector.tariff, vector.session).crosscheck.reasons
    assert any("ratio 0.78" in reason for reason in reasons)


def test_v08_half_up_not_half_even() -> None:
    vector = SECTION_7["V08 T5 step 100 Wh, signed samples ignored"]
    priced = price_session(vector.tariff, vector.session)
    assert round_amount(priced.invoice.excl_vat, "EUR") == Decimal("5.63")
    assert priced.invoice.excl_vat.quantize(Decimal("0.01"), ROUND_HALF_EVEN) == Decimal("5.62")
    assert [r.text for r in priced.energy.signed] == ["1000.000", "1020.450"]


def test_complex_monday_rounding_each_line_would_give_10_31() -> None:
    vector = SECTION_1_8["OCPI complex tariff Monday 09:30, 165 min at 16 A + 42 min parking"]
    priced = price_session(vector.tariff, vector.session)
    per_line = [round_amount(line.incl_vat or Decimal(0), "EUR") for line in priced.invoice.lines]
    assert sorted(per_line) == [Decimal("2.88"), Decimal("3.30"), Decimal("4.13")]
    assert sum(per_line) == Decimal("10.31")
    assert priced.total == Decimal("10.30")


def test_section_1_2_step_size_on_115_2_wh() -> None:
    used = session(at(10), at(10, 1), B("0", at(10)), E("0.1152", at(10, 1), unit="kWh"))
    for step, expected in ((1, "0.029"), (25, "0.03125"), (500, "0.125")):
        priced = price_session(tariff(element(component("ENERGY", "0.25", "0", step))), used)
        assert priced.invoice.excl_vat == Decimal(expected), step


def test_section_1_5_energy_step_remainder_at_the_last_price() -> None:
    """4.3 kWh before 17:00 + 1.1 kWh after, step 500 Wh: 5.5 kWh, 1.2 at the late price."""
    evening = tariff(
        element(component("ENERGY", "0.30", "0", step=500), start_time="17:00", end_time="00:00"),
        element(component("ENERGY", "0.20", "0", step=500)),
    )
    used = session(
        at(14),  # 16:00 in Berlin
        at(16),
        B("0", at(14)),
        P("4300", at(15)),
        E("5400", at(16)),
    )
    priced = price_session(evening, used)
    assert priced.invoice.excl_vat == Decimal("4.3") * Decimal("0.20") + Decimal("1.2") * Decimal(
        "0.30"
    )
    assert priced.billed_energy_wh == 5500


def test_section_1_5_only_parking_is_rounded() -> None:
    """21 min charging + 16 min parking, both steps 10 min: 21 min + 20 min are billed."""
    timed = tariff(
        element(component("TIME", "1.20", "0", step=600)),
        element(component("PARKING_TIME", "3.00", "0", step=600)),
    )
    used = session(at(10), at(10, 37), B("0", at(10)), P("3500", at(10, 21)), E("3500", at(10, 37)))
    priced = price_session(timed, used)
    billed = {line.kind: line.volume for line in priced.invoice.lines}
    assert billed == {"TIME": Decimal(21 * 60), "PARKING_TIME": Decimal(20 * 60)}
    assert priced.invoice.excl_vat == Decimal("0.42") + Decimal("1.00")
