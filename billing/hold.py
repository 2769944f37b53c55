"""Sizing the card hold from the car's SoC gap (billing-domain.md section 5.2).

``hold = kWh_needed x gross price per kWh + flat fees + parking cap``, where
``kWh_needed = (target - SoC now) x usable capacity / eta_min``; rounded up to a whole
multiple of ``round_up_to`` and clamped to ``[minimum, min(maximum, max_price)]``.
Worked example: 20% -> 80% on 77 kWh DC (eta_min 0.85) at 0.59/kWh gross plus a 0.60
start fee is 32.67, so the hold is 35.00.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

__all__ = ["HoldPolicy", "hold_amount"]


@dataclass(frozen=True, slots=True)
class HoldPolicy:
    round_up_to: Decimal = Decimal(5)
    minimum: Decimal = Decimal(10)
    maximum: Decimal = Decimal(100)


def hold_amount(
    *,
    soc_now: Decimal,
    target_soc: Decimal,
    capacity_kwh: Decimal,
    eta_min: Decimal,
    gross_price_per_kwh: Decimal,
    flat_fees_gross: Decimal = Decimal(0),
    parking_cap_gross: Decimal = Decimal(0),
    max_price_gross: Decimal | None = None,
    policy: HoldPolicy = HoldPolicy(),
) -> Decimal:
    """The amount to hold, in currency units. SoC values are 0..1 fractions."""
    needed_kwh = max(Decimal(0), target_soc - soc_now) * capacity_kwh / eta_min
    raw = needed_kwh * gross_price_per_kwh + flat_fees_gross + parking_cap_gross
    steps = (raw / policy.round_up_to).to_integral_value(rounding=ROUND_CEILING)
    ceiling = policy.maximum if max_price_gross is None else min(policy.maximum, max_price_gross)
    return min(max(steps * policy.round_up_to, policy.minimum), ceiling)
