"""Step size, min/max price, VAT per component, rounding once, minor units."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing import Flag, from_minor_units, hold_amount, price_session, to_minor_units
from billing.invoice import MAX_PRICE, MIN_PRICE
from billing.money import allocate_minor_units, ceil_to_step, minor_unit_exponent, round_amount
from tests.billing.conftest import T2, B, E, P, at, component, element, session, tariff


def charged(wh: int, minutes: int = 60) -> object:
    end = at(10 + minutes // 60, minutes % 60)
    return session(at(10), end, B("0", at(10)), E(str(wh), end))


@pytest.mark.parametrize(
    ("volume", "step", "expected"),
    [
        ("115.2", 1, "116"),
        ("115.2", 25, "125"),
        ("115.2", 500, "500"),
        ("20450", 100, "20500"),
        ("20500", 100, "20500"),
        ("0", 300, "0"),
        ("7103", 300, "7200"),
    ],
)
def test_ceil_to_step(volume: str, step: int, expected: str) -> None:
    assert ceil_to_step(Decimal(volume), step) == Decimal(expected)


STEP = {
    "energy step 1 Wh": (component("ENERGY", "0.25", "0", 1), 20450, "5.1125"),
    "energy step 100 Wh": (component("ENERGY", "0.25", "0", 100), 20450, "5.125"),
    "energy step 1000 Wh": (component("ENERGY", "0.25", "0", 1000), 20450, "5.25"),
    "time step 900 s": (component("TIME", "2.00", "0", 900), 1000, "2.50"),  # 70 min -> 75
}


@pytest.mark.parametrize(("priced", "wh", "excl"), STEP.values(), ids=STEP.keys())
def test_step_size(priced: dict[str, object], wh: int, excl: str) -> None:
    result = price_session(tariff(element(priced)), charged(wh, 70))  # type: ignore[arg-type]
    assert result.invoice.excl_vat == Decimal(excl)


def test_vat_per_component() -> None:
    """Energy at 10 %, parking at 20 %, flat fee at 19 %: each line carries its own rate."""
    mixed = tariff(
        element(component("FLAT", "1.00", "19")),
        element(component("ENERGY", "0.30", "10")),
        element(component("PARKING_TIME", "6.00", "20")),
    )
    used = session(at(10), at(11, 30), B("0", at(10)), P("10000", at(11)), E("10000", at(11, 30)))
    priced = price_session(mixed, used)
    lines = {line.kind: (line.excl_vat, line.incl_vat) for line in priced.invoice.lines}
    assert lines == {
        "FLAT": (Decimal("1.00"), Decimal("1.19")),
        "ENERGY": (Decimal("3.00"), Decimal("3.30")),
        "PARKING_TIME": (Decimal("3.00"), Decimal("3.60")),
    }
    assert priced.total == Decimal("8.09")
    rates = {v.rate: (v.net_minor, v.vat_minor, v.gross_minor) for v in priced.invoice.vat_amounts}
    assert rates == {
        Decimal(10): (300, 30, 330),
        Decimal(19): (100, 19, 119),
        Decimal(20): (300, 60, 360),
    }


def test_missing_vat_means_unknown_not_zero() -> None:
    no_vat = tariff(element(component("ENERGY", "0.25")))
    priced = price_session(no_vat, charged(20000))
    assert priced.invoice.incl_vat is None
    assert Flag.VAT_UNKNOWN in priced.flags
    assert priced.total == Decimal("5.00")
    assert priced.to_json()["cost"] == {"excl_vat": "5.00", "incl_vat": None}


def test_rounding_happens_once_on_the_total_incl_vat() -> None:
    """Three lines of 0.3333 incl. VAT: rounding each gives 0.99, rounding once 1.00."""
    thirds = tariff(
        element(component("FLAT", "0.30303", "10")),
        element(component("ENERGY", "0.30303", "10")),
        element(component("PARKING_TIME", "0.30303", "10")),
    )
    used = session(at(10), at(12), B("0", at(10)), P("1000", at(11)), E("1000", at(12)))
    priced = price_session(thirds, used)
    per_line = sum(
        round_amount(line.incl_vat or Decimal(0), "EUR") for line in priced.invoice.lines
    )
    assert per_line == Decimal("0.99")
    assert priced.invoice.incl_vat == Decimal("0.999999")
    assert priced.total == Decimal("1.00")
    assert sum(v.gross_minor for v in priced.invoice.vat_amounts) == priced.total_minor == 100


@pytest.mark.parametrize(
    ("limits", "wh", "excl", "incl", "kind"),
    [
        ({"min_price": {"excl_vat": "2.00", "incl_vat": "2.40"}}, 1000, "2.00", "2.40", MIN_PRICE),
        ({"min_price": {"excl_vat": "2.00", "incl_vat": "2.40"}}, 20000, "5.50", "6.10", None),
        ({"max_price": {"excl_vat": "4.00", "incl_vat": "4.50"}}, 20000, "4.00", "4.50", MAX_PRICE),
        # The limits bite on the excl and incl totals separately.
        ({"max_price": {"excl_vat": "6.00", "incl_vat": "6.00"}}, 20000, "5.50", "6.00", MAX_PRICE),
        # Without incl_vat the incl total follows the excl total.
        ({"max_price": {"excl_vat": "2.75"}}, 20000, "2.75", "3.05", MAX_PRICE),
    ],
)
def test_min_and_max_price(
    limits: dict[str, object], wh: int, excl: str, incl: str, kind: str | None
) -> None:
    limited = tariff(
        element(component("FLAT", "0.50", "20")),
        element(component("ENERGY", "0.25", "10")),
        **limits,
    )
    priced = price_session(limited, charged(wh))
    assert priced.invoice.excl_vat == Decimal(excl)
    assert priced.invoice.incl_vat == Decimal(incl)
    adjustments = [
        line.kind for line in priced.invoice.lines if line.kind in (MIN_PRICE, MAX_PRICE)
    ]
    assert adjustments == ([kind] if kind else [])


def test_no_min_price_when_no_energy_flowed() -> None:
    minimum = tariff(element(component("ENERGY", "0.25", "10")), min_price={"excl_vat": "0.50"})
    priced = price_session(minimum, charged(0))
    assert priced.total == 0
    assert Flag.NO_ENERGY_NO_MIN_PRICE in priced.flags


def test_no_flat_fee_when_no_energy_flowed() -> None:
    priced = price_session(T2, charged(0))
    assert priced.total == 0
    assert priced.invoice.lines == ()
    assert Flag.NO_ENERGY_NO_FLAT in priced.flags


@pytest.mark.parametrize(
    ("currency", "amount", "minor"),
    [
        ("EUR", "6.2375", 624),
        ("EUR", "5.625", 563),
        ("EUR", "0.005", 1),
        ("JPY", "1234.5", 1235),
        ("KWD", "1.2345", 1235),
        ("BHD", "0.0004", 0),
    ],
)
def test_minor_units(currency: str, amount: str, minor: int) -> None:
    assert to_minor_units(Decimal(amount), currency) == minor
    assert from_minor_units(minor, currency) == round_amount(Decimal(amount), currency)


def test_minor_unit_exponents() -> None:
    assert [minor_unit_exponent(c) for c in ("EUR", "USD", "GBP", "JPY", "KRW", "CLP", "VND")] == [
        2,
        2,
        2,
        0,
        0,
        0,
        0,
    ]
    assert [minor_unit_exponent(c) for c in ("BHD", "KWD", "JOD", "OMR", "TND")] == [3] * 5


def test_japanese_yen_totals_have_no_decimals() -> None:
    yen = tariff(element(component("ENERGY", "45.5", "10")), currency="JPY")
    priced = price_session(yen, charged(1000))
    assert priced.total == Decimal("50")
    assert priced.total_minor == 50
    assert priced.to_json()["total"] == "50"


def test_largest_remainder_adds_up() -> None:
    assert allocate_minor_units(100, [Decimal(1), Decimal(1), Decimal(1)]) == [34, 33, 33]
    # 412.5 and 287.5 tie on the remainder: the earlier share gets the cent.
    assert allocate_minor_units(1030, [Decimal("4.125"), Decimal("2.875"), Decimal("3.30")]) == [
        413,
        287,
        330,
    ]
    assert allocate_minor_units(5, []) == []


def test_hold_sizing_worked_example() -> None:
    """20% -> 80% on 77 kWh DC at 0.59/kWh gross + 0.60 start fee = 32.67 -> hold 35.00."""
    amount = hold_amount(
        soc_now=Decimal("0.20"),
        target_soc=Decimal("0.80"),
        capacity_kwh=Decimal(77),
        eta_min=Decimal("0.85"),
        gross_price_per_kwh=Decimal("0.59"),
        flat_fees_gross=Decimal("0.60"),
    )
    assert amount == Decimal("35.00")
    small = hold_amount(
        soc_now=Decimal("0.70"),
        target_soc=Decimal("0.80"),
        capacity_kwh=Decimal(40),
        eta_min=Decimal("0.85"),
        gross_price_per_kwh=Decimal("0.59"),
    )
    assert small == Decimal(10)  # at least 10
    capped = hold_amount(
        soc_now=Decimal("0.0"),
        target_soc=Decimal("1.0"),
        capacity_kwh=Decimal(100),
        eta_min=Decimal("0.72"),
        gross_price_per_kwh=Decimal("0.79"),
        max_price_gross=Decimal(60),
    )
    assert capped == Decimal(60)
