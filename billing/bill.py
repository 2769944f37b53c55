"""``price_session``: the one path from a session and a tariff to a bill.

The real bill and the pricing preview both call it, so a preview shows exactly what the
driver will pay. ``PricedSession.to_json`` is the preview's answer document (Decimals as
strings, times as ISO 8601 UTC).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from billing.crosscheck import Crosscheck, CrosscheckConfig, crosscheck
from billing.energy import SessionEnergy, session_energy
from billing.errors import TariffNotApplicable
from billing.invoice import Invoice, InvoiceLine, build_invoice
from billing.model import Flag, SessionInput
from billing.money import minor_unit_exponent
from billing.periods import ChargingPeriod, PeriodSplit, PricedDimension, split_periods
from billing.series import EnergySeries
from billing.tariff import DimensionType, Tariff

__all__ = ["PricedSession", "price_session"]

_UNITS = {
    DimensionType.ENERGY.value: "Wh",
    DimensionType.TIME.value: "s",
    DimensionType.PARKING_TIME.value: "s",
    DimensionType.FLAT.value: "session",
}


def _whole(value: Decimal) -> int:
    return int(value.to_integral_value(ROUND_HALF_UP))


def _number(value: Decimal) -> str:
    """A Decimal as a plain string without exponent or trailing zeros."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class PricedSession:
    """A priced session: energy with its corrections, periods, invoice and cross-check."""

    currency: str
    energy: SessionEnergy
    split: PeriodSplit
    invoice: Invoice
    crosscheck: Crosscheck
    flags: tuple[Flag, ...]

    @property
    def energy_wh(self) -> int:
        return _whole(self.energy.energy_wh)

    @property
    def billed_energy_wh(self) -> int:
        return self.invoice.billed_energy_wh

    @property
    def charging_time_s(self) -> int:
        return _whole(self.split.charging_s)

    @property
    def parking_time_s(self) -> int:
        return _whole(self.split.parking_s)

    @property
    def periods(self) -> tuple[ChargingPeriod, ...]:
        return self.split.periods

    @property
    def total(self) -> Decimal:
        """The amount to pay, rounded once to the currency's minor unit."""
        return self.invoice.total

    @property
    def total_minor(self) -> int:
        return self.invoice.total_minor

    def _amount(self, value: Decimal) -> str:
        """An unrounded amount, shown with at least the currency's decimals."""
        decimals = minor_unit_exponent(self.currency)
        normal = value.normalize()
        exponent = normal.as_tuple().exponent
        if isinstance(exponent, int) and -exponent < decimals:
            normal = normal.quantize(Decimal(1).scaleb(-decimals))
        return format(normal, "f")

    def _optional_amount(self, value: Decimal | None) -> str | None:
        return None if value is None else self._amount(value)

    def _dimension(self, dimension: PricedDimension) -> dict[str, Any]:
        return {
            "type": dimension.type.value,
            "volume": _number(dimension.volume),
            "unit": _UNITS[dimension.type.value],
            "price": format(dimension.price, "f"),
            "vat": None if dimension.vat is None else format(dimension.vat, "f"),
            "tariff_element": dimension.element,
            "excl_vat": self._amount(dimension.excl_vat),
            "incl_vat": self._optional_amount(dimension.incl_vat),
        }

    def _period(self, period: ChargingPeriod) -> dict[str, Any]:
        return {
            "start": _timestamp(period.start),
            "end": _timestamp(period.end),
            "charging": period.charging,
            "energy_wh": _number(period.energy_wh),
            "duration_s": _number(period.duration_s),
            "dimensions": [self._dimension(d) for d in period.dimensions],
        }

    def _line(self, line: InvoiceLine) -> dict[str, Any]:
        return {
            "kind": line.kind,
            "volume": _number(line.volume),
            "metered_volume": _number(line.metered_volume),
            "unit": _UNITS.get(line.kind),
            "price": None if line.price is None else format(line.price, "f"),
            "vat": None if line.vat is None else format(line.vat, "f"),
            "tariff_element": line.element,
            "excl_vat": self._amount(line.excl_vat),
            "incl_vat": self._optional_amount(line.incl_vat),
        }

    def to_json(self) -> dict[str, Any]:
        """The pricing answer: JSON-ready, Decimals as strings."""
        check = self.crosscheck
        band = check.meter_band_kwh
        exponent = minor_unit_exponent(self.currency)
        return {
            "currency": self.currency,
            "energy_wh": self.energy_wh,
            "billed_energy_wh": self.billed_energy_wh,
            "charging_time_s": self.charging_time_s,
            "parking_time_s": self.parking_time_s,
            "flags": [flag.value for flag in self.flags],
            "periods": [self._period(p) for p in self.periods],
            "lines": [self._line(line) for line in self.invoice.lines],
            "cost": {
                "excl_vat": self._amount(self.invoice.excl_vat),
                "incl_vat": self._optional_amount(self.invoice.incl_vat),
            },
            "total": format(self.total, "f"),
            "total_minor_units": self.total_minor,
            "vat": [
                {
                    "rate": _number(v.rate),
                    "net": format(Decimal(v.net_minor).scaleb(-exponent), "f"),
                    "vat": format(Decimal(v.vat_minor).scaleb(-exponent), "f"),
                    "gross": format(Decimal(v.gross_minor).scaleb(-exponent), "f"),
                }
                for v in self.invoice.vat_amounts
            ],
            "crosscheck": {
                "verdict": check.verdict.value,
                "meter_band_kwh": None
                if band is None
                else [str(b.quantize(Decimal("0.001"), ROUND_HALF_UP)) for b in band],
                "metered_kwh": str(check.metered_kwh.quantize(Decimal("0.001"), ROUND_HALF_UP)),
                "soc_delta_pp": None if check.soc_delta_pp is None else _number(check.soc_delta_pp),
                "reasons": list(check.reasons),
            },
            "signed_values": [
                {"at": _timestamp(r.at), "context": r.context or "Sample.Periodic", "value": r.text}
                for r in self.energy.signed
            ],
        }


def _check_validity(tariff: Tariff, session: SessionInput) -> None:
    if tariff.start_date_time is not None and session.start < tariff.start_date_time:
        raise TariffNotApplicable(
            "the tariff is not yet valid at the session start", path="start_date_time"
        )
    if tariff.end_date_time is not None and session.start >= tariff.end_date_time:
        raise TariffNotApplicable(
            "the tariff is no longer valid at the session start", path="end_date_time"
        )


def price_session(
    tariff: Tariff,
    session: SessionInput,
    *,
    crosscheck_config: CrosscheckConfig = CrosscheckConfig(),  # noqa: B008 - frozen, never mutated
) -> PricedSession:
    """Price one session with the tariff valid at its start, and cross-check the meter.

    Pure: the same inputs always give the same bill. Raises ``TariffNotApplicable`` when
    the tariff's validity window does not cover the session start.
    """
    _check_validity(tariff, session)
    energy = session_energy(session)
    split = split_periods(tariff, session, energy)
    invoice = build_invoice(tariff, split, energy_wh=energy.energy_wh)
    series = EnergySeries(session.start, session.end, energy.points)
    check = crosscheck(session, series, crosscheck_config)
    flags = tuple(dict.fromkeys(energy.flags + split.flags + invoice.flags))
    return PricedSession(tariff.currency, energy, split, invoice, check, flags)
