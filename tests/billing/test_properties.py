"""Properties of the billing core, checked on generated sessions (hypothesis)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billing import (
    MeterReading,
    Tariff,
    from_minor_units,
    price_session,
    round_amount,
    session_energy,
    to_minor_units,
)
from tests.billing.conftest import (
    B,
    E,
    P,
    at,
    component,
    element,
    reading,
    session,
    tariff,
)

START = at(10)
CURRENCIES = st.sampled_from(["EUR", "USD", "JPY", "KWD", "GBP"])
AMOUNTS = st.decimals(min_value=Decimal(0), max_value=Decimal(100000), places=6)


@st.composite
def meter_readings(draw: st.DrawFn) -> list[MeterReading]:
    """Anything a charger might send: units, contexts, phases, resets, junk, signed data."""
    count = draw(st.integers(min_value=0, max_value=12))
    readings = []
    for _ in range(count):
        minute = draw(st.integers(min_value=-5, max_value=125))
        value = draw(st.decimals(min_value=Decimal(0), max_value=Decimal(10**7), places=3))
        readings.append(
            reading(
                str(value),
                START + timedelta(minutes=minute),
                context=draw(
                    st.sampled_from(
                        [
                            None,
                            "Transaction.Begin",
                            "Sample.Periodic",
                            "Sample.Clock",
                            "Transaction.End",
                            "Interruption.Begin",
                            "Trigger",
                        ]
                    )
                ),
                unit=draw(st.sampled_from([None, "Wh", "kWh", "W"])),
                phase=draw(st.sampled_from([None, None, "L1", "L2", "L3"])),
                fmt=draw(st.sampled_from([None, "Raw", "SignedData"])),
            )
        )
    return readings


@settings(max_examples=200, deadline=None)
@given(
    readings=meter_readings(),
    meter_start=st.none() | st.integers(min_value=0, max_value=10**7),
    meter_stop=st.none() | st.integers(min_value=0, max_value=10**7),
)
def test_energy_is_never_negative(
    readings: list[MeterReading], meter_start: int | None, meter_stop: int | None
) -> None:
    used = session(START, at(12), *readings, meter_start=meter_start, meter_stop=meter_stop)
    energy = session_energy(used)
    assert energy.energy_wh >= 0
    cumulative = [p.energy_wh for p in energy.points]
    assert cumulative == sorted(cumulative)
    priced = price_session(TARIFFS[0], used)
    assert sum((p.energy_wh for p in priced.periods), Decimal(0)) == energy.energy_wh
    assert priced.charging_time_s + priced.parking_time_s == 2 * 3600
    assert priced.billed_energy_wh >= priced.energy_wh >= 0
    assert priced.total >= 0


# Tariffs whose price can only grow with energy and time: no power or current
# restrictions (more energy in the same time is more power, which may be cheaper), and
# step sizes only where one element prices the dimension (OCPI rounds the session total
# at the last component's price, which is not monotonic across elements with different
# prices: see test_step_on_the_total_is_not_monotonic_across_prices).
TARIFFS: list[Tariff] = [
    tariff(
        element(component("FLAT", "0.50", "20")),
        element(component("ENERGY", "0.25", "10", step=100)),
        element(component("PARKING_TIME", "2.00", "20", step=900)),
    ),
    tariff(
        element(component("ENERGY", "0.20", "19"), max_kwh="10"),
        element(component("ENERGY", "0.35", "19")),
        element(component("TIME", "1.00", "19")),
        element(
            component("PARKING_TIME", "6.00", "19", step=300), start_time="09:00", end_time="18:00"
        ),
        max_price={"excl_vat": "30.00", "incl_vat": "35.70"},
    ),
    tariff(
        element(component("FLAT", "1.00", "7")),
        element(component("ENERGY", "0.00", "7"), max_duration=1800),
        element(component("ENERGY", "0.40", "7")),
        min_price={"excl_vat": "3.00", "incl_vat": "3.21"},
    ),
]


def _priced(tariff_index: int, wh: int, charge_min: int, park_min: int) -> Decimal:
    charge_end = START + timedelta(minutes=charge_min)
    end = charge_end + timedelta(minutes=park_min)
    used = session(
        START, end, B("1000000", START), P(str(1000000 + wh), charge_end), E(str(1000000 + wh), end)
    )
    return price_session(TARIFFS[tariff_index], used).invoice.incl_vat or Decimal(0)


@settings(max_examples=150, deadline=None)
@given(
    tariff_index=st.integers(min_value=0, max_value=len(TARIFFS) - 1),
    wh=st.integers(min_value=1, max_value=80000),
    more=st.integers(min_value=0, max_value=40000),
    charge_min=st.integers(min_value=1, max_value=240),
    park_min=st.integers(min_value=0, max_value=120),
)
def test_price_is_monotonic_in_energy(
    tariff_index: int, wh: int, more: int, charge_min: int, park_min: int
) -> None:
    assert _priced(tariff_index, wh + more, charge_min, park_min) >= _priced(
        tariff_index, wh, charge_min, park_min
    )


@settings(max_examples=150, deadline=None)
@given(
    tariff_index=st.integers(min_value=0, max_value=len(TARIFFS) - 1),
    wh=st.integers(min_value=1, max_value=80000),
    charge_min=st.integers(min_value=1, max_value=240),
    park_min=st.integers(min_value=0, max_value=120),
    longer=st.integers(min_value=0, max_value=300),
)
def test_price_is_monotonic_in_parking_time(
    tariff_index: int, wh: int, charge_min: int, park_min: int, longer: int
) -> None:
    assert _priced(tariff_index, wh, charge_min, park_min + longer) >= _priced(
        tariff_index, wh, charge_min, park_min
    )


@settings(max_examples=150, deadline=None)
@given(
    wh=st.integers(min_value=1, max_value=80000),
    charge_min=st.integers(min_value=1, max_value=240),
    longer=st.integers(min_value=0, max_value=300),
)
def test_price_is_monotonic_in_charging_time(wh: int, charge_min: int, longer: int) -> None:
    """TIME-priced charging: the same energy over a longer time never costs less."""
    timed = 1
    assert _priced(timed, wh, charge_min + longer, 0) >= _priced(timed, wh, charge_min, 0)


@given(amount=AMOUNTS, currency=CURRENCIES)
def test_rounding_is_stable(amount: Decimal, currency: str) -> None:
    once = round_amount(amount, currency)
    assert round_amount(once, currency) == once
    quantum = from_minor_units(1, currency)
    assert abs(once - amount) <= quantum / 2
    assert to_minor_units(amount, currency) == to_minor_units(once, currency)


@given(minor=st.integers(min_value=0, max_value=10**12), currency=CURRENCIES)
def test_minor_units_round_trip(minor: int, currency: str) -> None:
    assert to_minor_units(from_minor_units(minor, currency), currency) == minor


@given(amount=AMOUNTS, currency=CURRENCIES)
def test_minor_units_of_an_amount_round_trip(amount: Decimal, currency: str) -> None:
    assert from_minor_units(to_minor_units(amount, currency), currency) == round_amount(
        amount, currency
    )


@settings(max_examples=100, deadline=None)
@given(
    tariff_index=st.integers(min_value=0, max_value=len(TARIFFS) - 1),
    wh=st.integers(min_value=0, max_value=80000),
    charge_min=st.integers(min_value=0, max_value=240),
    park_min=st.integers(min_value=0, max_value=120),
)
def test_total_is_the_incl_vat_total_rounded_once(
    tariff_index: int, wh: int, charge_min: int, park_min: int
) -> None:
    charge_end = START + timedelta(minutes=charge_min)
    end = charge_end + timedelta(minutes=park_min)
    used = session(START, end, B("0", START), P(str(wh), charge_end), E(str(wh), end))
    priced = price_session(TARIFFS[tariff_index], used)
    assert priced.invoice.incl_vat is not None
    assert priced.total == round_amount(priced.invoice.incl_vat, "EUR")
    assert priced.total_minor == to_minor_units(priced.invoice.incl_vat, "EUR")
    assert sum(v.gross_minor for v in priced.invoice.vat_amounts) in (0, priced.total_minor)
    # Pricing is pure: the same inputs give the same bill.
    assert price_session(TARIFFS[tariff_index], used) == priced


def test_step_on_the_total_is_not_monotonic_across_prices() -> None:
    """Pinned OCPI behaviour: 1 Wh more, moved into the free first half hour, leaves a
    smaller step remainder to bill at the paid price, so the bill drops by 0.0004."""
    free_then_paid = tariff(
        element(component("ENERGY", "0.00", "0"), max_duration=1800),
        element(component("ENERGY", "0.40", "0", step=500)),
    )

    def bill(wh: int) -> Decimal:
        end = START + timedelta(minutes=166)
        used = session(START, end, B("0", START), E(str(wh), end))
        return price_session(free_then_paid, used).invoice.excl_vat

    assert bill(5502) < bill(5501)
    assert bill(5501) - bill(5502) < Decimal("0.001")
