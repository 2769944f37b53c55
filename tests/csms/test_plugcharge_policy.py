"""The pure part of plug-and-charge: the hold size, the SoC estimate, the guard's timing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import billing
from csms.config import load_settings
from csms.plugcharge.policy import (
    PncConfig,
    TariffRates,
    energy_to_target_wh,
    estimated_soc,
    guard_due,
    hold_minor,
    tariff_rates,
)

TARIFF = billing.parse_tariff(
    {
        "country_code": "DE",
        "party_id": "CPO",
        "id": "T1",
        "currency": "EUR",
        "elements": [
            {"price_components": [{"type": "FLAT", "price": 0.50, "vat": 20.0, "step_size": 1}]},
            {
                "price_components": [
                    {"type": "ENERGY", "price": 0.50, "vat": 20.0, "step_size": 1},
                    {"type": "TIME", "price": 1.00, "vat": 20.0, "step_size": 1},
                ]
            },
            {"price_components": [{"type": "ENERGY", "price": 0.40, "vat": 20.0, "step_size": 1}]},
        ],
    }
)


def test_tariff_rates_take_the_dearest_component_gross() -> None:
    rates = tariff_rates(TARIFF)
    assert rates == TariffRates("EUR", Decimal("0.6"), Decimal("0.6"), Decimal("1.2"), None)


def test_hold_covers_the_soc_gap_at_the_worst_efficiency() -> None:
    rates = TariffRates("EUR", Decimal("0.59"), Decimal("0.60"), Decimal(0), None)
    # 20% -> 80% of 77 kWh at eta 0.72 is 64.17 kWh: 37.86 + 0.60 = 38.46, up to 40.00.
    amount = hold_minor(
        rates,
        soc_now_percent=Decimal(20),
        target_percent=80,
        capacity_kwh=Decimal(77),
        spending_cap_minor=None,
        exponent=2,
    )
    assert amount == 4000


def test_hold_without_soc_is_the_ceiling_and_a_cap_lowers_it() -> None:
    rates = TariffRates("EUR", Decimal("0.59"), Decimal(0), Decimal(0), None)
    unknown = hold_minor(
        rates,
        soc_now_percent=None,
        target_percent=80,
        capacity_kwh=None,
        spending_cap_minor=None,
        exponent=2,
    )
    assert unknown == 10_000
    capped = hold_minor(
        rates,
        soc_now_percent=None,
        target_percent=80,
        capacity_kwh=None,
        spending_cap_minor=2_000,
        exponent=2,
    )
    assert capped == 2_200  # the cap plus the 10% that flows until the stop lands


def test_hold_has_a_floor_when_the_car_is_nearly_full() -> None:
    rates = TariffRates("EUR", Decimal("0.59"), Decimal(0), Decimal(0), None)
    amount = hold_minor(
        rates,
        soc_now_percent=Decimal(79),
        target_percent=80,
        capacity_kwh=Decimal(50),
        spending_cap_minor=None,
        exponent=2,
    )
    assert amount == 1_000


def test_soc_estimate_and_the_energy_to_the_target_agree() -> None:
    capacity, eta = Decimal(50), Decimal("0.9")
    needed = energy_to_target_wh(Decimal(40), 80, capacity, eta)
    assert needed == 22_223  # 20 kWh into the battery is 22.2 kWh from the charger
    assert estimated_soc(Decimal(40), needed, capacity, eta) >= 80
    assert estimated_soc(Decimal(40), needed - 100, capacity, eta) < 80
    assert energy_to_target_wh(Decimal(85), 80, capacity, eta) == 0


def test_guard_is_due_after_the_energy_or_the_time_whichever_first() -> None:
    config = PncConfig.from_settings(load_settings({}))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert not guard_due(start, start + timedelta(minutes=9), 999, config)
    assert guard_due(start, start + timedelta(minutes=9), 1_000, config)
    assert guard_due(start, start + timedelta(minutes=10), 0, config)


def test_settings_make_the_match_budget() -> None:
    config = PncConfig.from_settings(load_settings({}, pnc_poll_budget_calls=12))
    assert config.match.poll_budget_calls == 12
    assert config.match.calls_per_vehicle == 6  # /battery, /charge, /location twice
    assert config.match.max_vehicles == 2
