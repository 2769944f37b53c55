"""Invoice lines, step rounding, min/max price, VAT and the one rounding to minor units.

Rules (billing-domain.md sections 1.5 and 6):

- One line per price component used (FLAT, ENERGY, TIME, PARKING_TIME), volumes summed
  over the periods, amounts unrounded.
- ``step_size`` is applied once per session to the total of a dimension, with the step of
  the last component used; the rounded-up remainder is billed at that component's price.
  ENERGY is rounded on its own. Of the time dimensions, only the total parking time is
  rounded when the session had priced parking; otherwise the total charging time is.
- ``min_price``/``max_price`` are compared with the excl-VAT and the incl-VAT totals
  separately, before rounding, and show up as an adjustment line. A limit without
  ``incl_vat`` scales the incl-VAT total along with the excl-VAT one.
- No ``min_price`` when no energy flowed (as no FLAT fee: drivers re-plugging).
- The payable total is the incl-VAT total (the excl-VAT total when a component has no
  VAT information) rounded once, ROUND_HALF_UP, to the currency's minor unit.
- Per VAT rate, the payable total is split over the rates' gross amounts by largest
  remainder; net = gross / (1 + rate) rounded half up, VAT = gross - net.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from billing.model import Flag
from billing.money import allocate_minor_units, ceil_to_step, round_amount, to_minor_units
from billing.periods import PeriodSplit, PricedDimension
from billing.tariff import DimensionType, Price, Tariff

__all__ = ["MAX_PRICE", "MIN_PRICE", "Invoice", "InvoiceLine", "VatAmount", "build_invoice"]

MIN_PRICE = "MIN_PRICE"
MAX_PRICE = "MAX_PRICE"
_ORDER = {
    DimensionType.FLAT: 0,
    DimensionType.ENERGY: 1,
    DimensionType.TIME: 2,
    DimensionType.PARKING_TIME: 3,
}


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """``kind`` is a dimension (FLAT, ENERGY, TIME, PARKING_TIME) or MIN_PRICE/MAX_PRICE.

    ``volume`` is what is billed (after step rounding) in Wh, seconds or sessions;
    ``metered_volume`` what was measured. Limit adjustments have no volume or price.
    """

    kind: str
    volume: Decimal
    metered_volume: Decimal
    price: Decimal | None
    vat: Decimal | None
    excl_vat: Decimal
    incl_vat: Decimal | None
    element: int | None = None
    component: int | None = None


@dataclass(frozen=True, slots=True)
class VatAmount:
    """Per VAT rate, in minor units: taxable amount, VAT, and gross (sums to the total)."""

    rate: Decimal
    net_minor: int
    vat_minor: int
    gross_minor: int


@dataclass(frozen=True, slots=True)
class Invoice:
    currency: str
    lines: tuple[InvoiceLine, ...]
    excl_vat: Decimal
    incl_vat: Decimal | None
    total: Decimal
    total_minor: int
    vat_amounts: tuple[VatAmount, ...]
    billed_energy_wh: int
    flags: tuple[Flag, ...]


def _key(dimension: PricedDimension) -> tuple[DimensionType, int, int]:
    return (dimension.type, dimension.element, dimension.component)


def _aggregate(split: PeriodSplit) -> dict[tuple[DimensionType, int, int], PricedDimension]:
    lines: dict[tuple[DimensionType, int, int], PricedDimension] = {}
    for dimension in split.flat + tuple(d for p in split.periods for d in p.dimensions):
        key = _key(dimension)
        if key in lines:
            lines[key] = replace(lines[key], volume=lines[key].volume + dimension.volume)
        else:
            lines[key] = dimension
    return lines


def _step_extras(split: PeriodSplit) -> dict[tuple[DimensionType, int, int], Decimal]:
    """The rounded-up remainder per dimension, keyed by the last component used."""
    totals: dict[DimensionType, Decimal] = {}
    last: dict[DimensionType, PricedDimension] = {}
    for period in split.periods:
        for dimension in period.dimensions:
            totals[dimension.type] = totals.get(dimension.type, Decimal(0)) + dimension.volume
            last[dimension.type] = dimension
    rounded = [DimensionType.ENERGY]
    rounded.append(
        DimensionType.PARKING_TIME if DimensionType.PARKING_TIME in last else DimensionType.TIME
    )
    extras: dict[tuple[DimensionType, int, int], Decimal] = {}
    for kind in rounded:
        if kind in last:
            extra = ceil_to_step(totals[kind], last[kind].step_size) - totals[kind]
            if extra:
                extras[_key(last[kind])] = extra
    return extras


def _line(dimension: PricedDimension, extra: Decimal) -> InvoiceLine:
    billed = replace(dimension, volume=dimension.volume + extra)
    return InvoiceLine(
        kind=dimension.type.value,
        volume=billed.volume,
        metered_volume=dimension.volume,
        price=dimension.price,
        vat=dimension.vat,
        excl_vat=billed.excl_vat,
        incl_vat=billed.incl_vat,
        element=dimension.element,
        component=dimension.component,
    )


def _highest_rate(tariff: Tariff) -> Decimal | None:
    rates = [c.vat for e in tariff.elements for c in e.price_components if c.vat is not None]
    return max(rates) if rates else None


def _limit_incl(
    limit: Price, excl_raw: Decimal, incl_raw: Decimal, top: Decimal | None
) -> Decimal | None:
    """The incl-VAT side of a limit: as given, or following the excl-VAT side."""
    if limit.incl_vat is not None:
        return limit.incl_vat
    if excl_raw > 0:
        return incl_raw * limit.excl_vat / excl_raw
    return None if top is None else limit.excl_vat * (1 + top / 100)


def _apply_limits(
    tariff: Tariff, excl_raw: Decimal, incl_raw: Decimal | None, *, energy_flowed: bool
) -> tuple[Decimal, Decimal | None, list[Flag]]:
    excl, incl, flags = excl_raw, incl_raw, []
    top = _highest_rate(tariff)
    if tariff.min_price is not None and not energy_flowed:
        flags.append(Flag.NO_ENERGY_NO_MIN_PRICE)
    elif tariff.min_price is not None:
        limit = tariff.min_price
        excl = max(excl, limit.excl_vat)
        if incl_raw is not None:
            floor = _limit_incl(limit, excl_raw, incl_raw, top)
            incl = incl_raw if floor is None else max(incl_raw, floor)
        if (excl, incl) != (excl_raw, incl_raw):
            flags.append(Flag.MIN_PRICE_APPLIED)
    if tariff.max_price is not None:
        limit = tariff.max_price
        before = (excl, incl)
        excl = min(excl, limit.excl_vat)
        if incl is not None and incl_raw is not None:
            cap = _limit_incl(limit, excl_raw, incl_raw, top)
            incl = incl if cap is None else min(incl, cap)
        if (excl, incl) != before:
            flags.append(Flag.MAX_PRICE_APPLIED)
    return excl, incl, flags


def _vat_amounts(
    lines: list[InvoiceLine], incl_raw: Decimal, incl: Decimal, total_minor: int
) -> tuple[VatAmount, ...]:
    gross: dict[Decimal, Decimal] = {}
    for line in lines:
        if line.vat is not None and line.incl_vat is not None:
            rate = Decimal(format(line.vat.normalize(), "f"))  # 20.0 and 20 are one rate
            gross[rate] = gross.get(rate, Decimal(0)) + line.incl_vat
    if not gross:
        return ()
    factor = incl / incl_raw if incl_raw else Decimal(1)
    rates = sorted(gross)
    parts = allocate_minor_units(total_minor, [gross[r] * factor for r in rates])
    result = []
    for rate, part in zip(rates, parts, strict=True):
        net = int((Decimal(part) / (1 + rate / 100)).to_integral_value(ROUND_HALF_UP))
        result.append(VatAmount(rate, net, part - net, part))
    return tuple(result)


def build_invoice(tariff: Tariff, split: PeriodSplit, *, energy_wh: Decimal) -> Invoice:
    """Lines, limits, VAT and the payable total of a split, priced session."""
    extras = _step_extras(split)
    dimensions = sorted(_aggregate(split).items(), key=lambda kv: (_ORDER[kv[0][0]], kv[0][1:]))
    lines = [_line(d, extras.get(key, Decimal(0))) for key, d in dimensions]
    flags: list[Flag] = []
    excl_raw = sum((line.excl_vat for line in lines), Decimal(0))
    incl_parts = [line.incl_vat for line in lines]
    incl_raw: Decimal | None = None
    if all(part is not None for part in incl_parts):
        incl_raw = sum((part for part in incl_parts if part is not None), Decimal(0))
    else:
        flags.append(Flag.VAT_UNKNOWN)
    excl, incl, limit_flags = _apply_limits(tariff, excl_raw, incl_raw, energy_flowed=energy_wh > 0)
    flags += limit_flags
    adjustments = []
    if excl != excl_raw or incl != incl_raw:
        kind = MIN_PRICE if Flag.MIN_PRICE_APPLIED in limit_flags else MAX_PRICE
        incl_delta = None if incl is None or incl_raw is None else incl - incl_raw
        adjustments.append(
            InvoiceLine(kind, Decimal(0), Decimal(0), None, None, excl - excl_raw, incl_delta)
        )
    payable = incl if incl is not None else excl
    total = round_amount(payable, tariff.currency)
    total_minor = to_minor_units(payable, tariff.currency)
    vat_amounts = (
        _vat_amounts(lines, incl_raw, incl, total_minor)
        if incl is not None and incl_raw is not None
        else ()
    )
    billed_energy = energy_wh + sum(
        (extra for (kind, _, _), extra in extras.items() if kind is DimensionType.ENERGY),
        Decimal(0),
    )
    return Invoice(
        currency=tariff.currency,
        lines=tuple(lines + adjustments),
        excl_vat=excl,
        incl_vat=incl,
        total=total,
        total_minor=total_minor,
        vat_amounts=vat_amounts,
        billed_energy_wh=int(billed_energy.to_integral_value(ROUND_CEILING)),
        flags=tuple(flags),
    )
