"""Tariff documents: the OCPI 2.2.1 shape, validated with errors that name the field."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

import pytest

from billing import DimensionType, TariffError, TariffNotApplicable, parse_tariff, price_session
from tests.billing.conftest import B, E, at, component, element, session, tariff_doc

OCPI_EXAMPLE = {
    "country_code": "DE",
    "party_id": "ALL",
    "id": "12",
    "currency": "EUR",
    "type": "REGULAR",
    "tariff_alt_text": [{"language": "en", "text": "0.25 euro per kWh"}],
    "elements": [
        {
            "price_components": [
                {"type": "FLAT", "price": 0.50, "vat": 20.0, "step_size": 1},
                {"type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1},
            ],
            "restrictions": {"start_time": "13:30", "end_time": "00:00", "max_kwh": 20.0},
        }
    ],
    "min_price": {"excl_vat": 0.50, "incl_vat": 0.55},
    "start_date_time": "2024-01-01T00:00:00Z",
    "last_updated": "2024-01-01T00:00:00Z",
}


def test_parses_the_ocpi_shape_with_exact_decimals() -> None:
    parsed = parse_tariff(OCPI_EXAMPLE)
    assert parsed.currency == "EUR"
    assert parsed.id == "12"
    flat, energy = parsed.elements[0].price_components
    assert (flat.type, flat.price, flat.vat) == (DimensionType.FLAT, Decimal("0.5"), Decimal(20))
    assert energy.price == Decimal("0.25")  # never Decimal(0.25) from a float
    restrictions = parsed.elements[0].restrictions
    assert restrictions is not None
    assert restrictions.start_time == time(13, 30)
    assert restrictions.end_time == time(0, 0)
    assert restrictions.max_kwh == Decimal(20)
    assert parsed.min_price is not None
    assert parsed.min_price.incl_vat == Decimal("0.55")
    assert parsed.start_date_time == datetime(2024, 1, 1, tzinfo=UTC)


def test_numbers_may_be_strings_and_step_size_defaults_to_1() -> None:
    parsed = parse_tariff(tariff_doc({"price_components": [{"type": "ENERGY", "price": "0.2349"}]}))
    only = parsed.elements[0].price_components[0]
    assert (only.price, only.vat, only.step_size) == (Decimal("0.2349"), None, 1)


def _bad(change: dict[str, Any], *, restrictions: dict[str, Any] | None = None) -> dict[str, Any]:
    doc = tariff_doc(element(component("ENERGY", "0.25", "10")))
    if restrictions is not None:
        doc["elements"][0]["restrictions"] = restrictions
    doc.update(change)
    return doc


BAD = {
    "not an object": ([], "tariff"),
    "no currency": ({"elements": []}, "currency"),
    "bad currency": (_bad({"currency": "euro"}), "currency"),
    "no elements": (_bad({"elements": []}), "elements"),
    "elements not a list": (_bad({"elements": {}}), "elements"),
    "no price components": (
        _bad({"elements": [{"price_components": []}]}),
        "elements[0].price_components",
    ),
    "unknown dimension": (
        _bad({"elements": [element(component("KWH", "0.25"))]}),
        "elements[0].price_components[0].type",
    ),
    "negative price": (
        _bad({"elements": [element(component("ENERGY", "-0.25"))]}),
        "elements[0].price_components[0].price",
    ),
    "price not a number": (
        _bad({"elements": [element({"type": "ENERGY", "price": "cheap"})]}),
        "elements[0].price_components[0].price",
    ),
    "price is a boolean": (
        _bad({"elements": [element({"type": "ENERGY", "price": True})]}),
        "elements[0].price_components[0].price",
    ),
    "step size zero": (
        _bad({"elements": [element(component("ENERGY", "0.25", step=0))]}),
        "elements[0].price_components[0].step_size",
    ),
    "step size fractional": (
        _bad({"elements": [element({"type": "TIME", "price": 1, "step_size": 1.5})]}),
        "elements[0].price_components[0].step_size",
    ),
    "unknown component field (typo)": (
        _bad({"elements": [element({"type": "ENERGY", "price": 1, "vat_rate": 19})]}),
        "elements[0].price_components[0].vat_rate",
    ),
    "bad start_time": (
        _bad({}, restrictions={"start_time": "25:00"}),
        "elements[0].restrictions.start_time",
    ),
    "bad end_time": (
        _bad({}, restrictions={"end_time": "7pm"}),
        "elements[0].restrictions.end_time",
    ),
    "bad date": (
        _bad({}, restrictions={"start_date": "2024-02-30"}),
        "elements[0].restrictions.start_date",
    ),
    "end_date not after start_date": (
        _bad({}, restrictions={"start_date": "2024-06-04", "end_date": "2024-06-04"}),
        "elements[0].restrictions.end_date",
    ),
    "bad day of week": (
        _bad({}, restrictions={"day_of_week": ["MON"]}),
        "elements[0].restrictions.day_of_week[0]",
    ),
    "duplicate day of week": (
        _bad({}, restrictions={"day_of_week": ["MONDAY", "MONDAY"]}),
        "elements[0].restrictions.day_of_week[1]",
    ),
    "max_kwh below min_kwh": (
        _bad({}, restrictions={"min_kwh": 10, "max_kwh": 5}),
        "elements[0].restrictions.max_kwh",
    ),
    "max_power equal to min_power": (
        _bad({}, restrictions={"min_power": 11, "max_power": 11}),
        "elements[0].restrictions.max_power",
    ),
    "negative current": (
        _bad({}, restrictions={"min_current": -1}),
        "elements[0].restrictions.min_current",
    ),
    "duration not an integer": (
        _bad({}, restrictions={"max_duration": "1h"}),
        "elements[0].restrictions.max_duration",
    ),
    "unknown restriction (typo)": (
        _bad({}, restrictions={"max_kw": 11}),
        "elements[0].restrictions.max_kw",
    ),
    "reservation element with ENERGY": (
        _bad({}, restrictions={"reservation": "RESERVATION"}),
        "elements[0].price_components[0].type",
    ),
    "bad reservation": (
        _bad({}, restrictions={"reservation": "YES"}),
        "elements[0].restrictions.reservation",
    ),
    "min_price without excl_vat": (_bad({"min_price": {"incl_vat": 1}}), "min_price.excl_vat"),
    "max_price below min_price": (
        _bad({"min_price": {"excl_vat": 5}, "max_price": {"excl_vat": 4}}),
        "max_price.excl_vat",
    ),
    "bad tariff type": (_bad({"type": "CHEAP"}), "type"),
    "id too long": (_bad({"id": "x" * 37}), "id"),
    "bad start_date_time": (_bad({"start_date_time": "soon"}), "start_date_time"),
    "end_date_time before start_date_time": (
        _bad({"start_date_time": "2024-06-02T00:00:00Z", "end_date_time": "2024-06-01T00:00:00Z"}),
        "end_date_time",
    ),
}


@pytest.mark.parametrize(("doc", "path"), BAD.values(), ids=BAD.keys())
def test_invalid_tariffs_name_the_field(doc: object, path: str) -> None:
    with pytest.raises(TariffError) as raised:
        parse_tariff(doc)
    assert raised.value.path == path
    assert str(raised.value).startswith(path)


def test_the_tariff_valid_at_session_start_applies() -> None:
    used = session(at(10), at(11), B("0", at(10)), E("1000", at(11)))
    later = parse_tariff(_bad({"start_date_time": "2024-06-04T10:30:00Z"}))
    with pytest.raises(TariffNotApplicable) as raised:
        price_session(later, used)
    assert raised.value.path == "start_date_time"
    expired = parse_tariff(_bad({"end_date_time": "2024-06-04T10:00:00Z"}))
    with pytest.raises(TariffNotApplicable):
        price_session(expired, used)
    # Valid at the start: applies to the whole session even if it ends meanwhile.
    ending = parse_tariff(_bad({"end_date_time": "2024-06-04T10:30:00Z"}))
    assert price_session(ending, used).invoice.excl_vat == Decimal("0.25")
