"""Money: Decimal amounts, ISO 4217 minor units, and the one rounding step.

Amounts stay unrounded ``Decimal`` through the whole computation. The payable amount is
the session total incl. VAT rounded **once**, ROUND_HALF_UP, to the currency's minor unit
(this reproduces the OCPI examples: 5.625 -> 5.63, where banker's rounding gives 5.62).
Storage and APIs use integer minor units plus the currency code.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

__all__ = [
    "allocate_minor_units",
    "ceil_to_step",
    "from_minor_units",
    "minor_unit_exponent",
    "round_amount",
    "to_minor_units",
]

# ISO 4217 exponents that differ from the usual 2 (the ones the reference lists, plus
# the other common zero- and three-decimal currencies).
_EXPONENTS: dict[str, int] = {
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
}


def minor_unit_exponent(currency: str) -> int:
    """Number of decimals of the currency's minor unit (2 unless listed otherwise)."""
    return _EXPONENTS.get(currency.upper(), 2)


def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_unit_exponent(currency))


def round_amount(amount: Decimal, currency: str) -> Decimal:
    """The amount rounded ROUND_HALF_UP to the currency's minor unit."""
    return amount.quantize(_quantum(currency), rounding=ROUND_HALF_UP)


def to_minor_units(amount: Decimal, currency: str) -> int:
    """Integer minor units of the amount, rounded once (ROUND_HALF_UP)."""
    return int(round_amount(amount, currency).scaleb(minor_unit_exponent(currency)))


def from_minor_units(minor: int, currency: str) -> Decimal:
    """The amount an integer of minor units stands for, at the currency's precision."""
    return Decimal(minor).scaleb(-minor_unit_exponent(currency))


def ceil_to_step(volume: Decimal, step: int) -> Decimal:
    """``volume`` rounded up to a whole multiple of ``step`` (OCPI step_size)."""
    if step <= 1:
        return volume.to_integral_value(rounding=ROUND_CEILING)
    steps = (volume / step).to_integral_value(rounding=ROUND_CEILING)
    return steps * step


def allocate_minor_units(total_minor: int, shares: Sequence[Decimal]) -> list[int]:
    """Split ``total_minor`` over ``shares`` in proportion, largest remainder first.

    The parts add up to ``total_minor`` exactly. Ties go to the earlier share, so the
    result is deterministic. Shares are expected to have the same sign as the total.
    """
    weight = sum(shares, Decimal(0))
    if not shares:
        return []
    if weight == 0:
        return [total_minor] + [0] * (len(shares) - 1)
    exact = [Decimal(total_minor) * share / weight for share in shares]
    floors = [int(value.to_integral_value(rounding=ROUND_FLOOR)) for value in exact]
    left = total_minor - sum(floors)
    order = sorted(range(len(shares)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return floors
