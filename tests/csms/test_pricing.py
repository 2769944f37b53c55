"""The pricing preview: a tariff and a session document in, the bill out.

It must give exactly what the real bill gives: the preview parses OCPP 1.6 MeterValue
objects as a charger sends them, the real bill goes through ``csms.translate`` and
``reading_from_sample``; both end in ``billing.price_session``.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import billing
from csms.errors import InvalidInput
from csms.pricing import preview, reading_from_sample, session_from_document
from csms.translate import samples_from_v16

T5 = {
    "country_code": "DE",
    "party_id": "CPO",
    "id": "T5",
    "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "FLAT", "price": 0.50, "vat": 20.0, "step_size": 1}]},
        {"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 100}]},
    ],
}

# V08 of billing-domain.md: step 100 Wh, signed kWh values without a unit mixed in.
V08 = {
    "time_zone": "Europe/Berlin",
    "current_type": "AC",
    "start": "2024-06-04T10:00:00Z",
    "end": "2024-06-04T11:52:00Z",
    "meter_values": [
        {
            "timestamp": "2024-06-04T10:00:00Z",
            "sampledValue": [
                {
                    "value": "1000000",
                    "context": "Transaction.Begin",
                    "measurand": "Energy.Active.Import.Register",
                    "location": "Outlet",
                    "unit": "Wh",
                },
                {"value": "1000.000", "context": "Transaction.Begin", "format": "SignedData"},
            ],
        },
        {"timestamp": "2024-06-04T11:00:00Z", "sampledValue": [{"value": "1011000"}]},
        {
            "timestamp": "2024-06-04T11:52:00Z",
            "sampledValue": [
                {"value": "1020450", "context": "Transaction.End"},
                {"value": "1020.450", "context": "Transaction.End", "format": "SignedData"},
            ],
        },
    ],
    "connector_status": [{"at": "2024-06-04T10:00:00Z", "status": "Charging"}],
    "soc": [
        {
            "at": "2024-06-04T10:00:30Z",
            "data_age": "2024-06-04T10:00:00Z",
            "percent_remaining": 0.40,
            "is_plugged_in": True,
            "state": "CHARGING",
        },
        {
            "at": "2024-06-04T11:53:20Z",
            "data_age": "2024-06-04T11:53:00Z",
            "percent_remaining": 0.70,
            "is_plugged_in": True,
            "state": "NOT_CHARGING",
            "distance_m": 3,
        },
    ],
    "battery_capacity_kwh": 64,
    "capacity_source": "SMARTCAR",
}

V08_ANSWER = {
    "currency": "EUR",
    "energy_wh": 20450,
    "billed_energy_wh": 20500,
    "charging_time_s": 6720,
    "parking_time_s": 0,
    "flags": ["ignored_signed"],
    "periods": [
        {
            "start": "2024-06-04T10:00:00Z",
            "end": "2024-06-04T11:52:00Z",
            "charging": True,
            "energy_wh": "20450",
            "duration_s": "6720",
            "dimensions": [
                {
                    "type": "ENERGY",
                    "volume": "20450",
                    "unit": "Wh",
                    "price": "0.25",
                    "vat": "10.0",
                    "tariff_element": 1,
                    "excl_vat": "5.1125",
                    "incl_vat": "5.62375",
                }
            ],
        }
    ],
    "lines": [
        {
            "kind": "FLAT",
            "volume": "1",
            "metered_volume": "1",
            "unit": "session",
            "price": "0.5",
            "vat": "20.0",
            "tariff_element": 0,
            "excl_vat": "0.50",
            "incl_vat": "0.60",
        },
        {
            "kind": "ENERGY",
            "volume": "20500",
            "metered_volume": "20450",
            "unit": "Wh",
            "price": "0.25",
            "vat": "10.0",
            "tariff_element": 1,
            "excl_vat": "5.125",
            "incl_vat": "5.6375",
        },
    ],
    "cost": {"excl_vat": "5.625", "incl_vat": "6.2375"},
    "total": "6.24",
    "total_minor_units": 624,
    "vat": [
        {"rate": "10", "net": "5.13", "vat": "0.51", "gross": "5.64"},
        {"rate": "20", "net": "0.50", "vat": "0.10", "gross": "0.60"},
    ],
    "crosscheck": {
        "verdict": "OK",
        "meter_band_kwh": ["18.367", "25.905"],
        "metered_kwh": "20.450",
        "soc_delta_pp": "30",
        "reasons": [
            "metered 20.450 kWh, band [18.367, 25.905] kWh for a SoC gain of 30 pp (q=1.0)"
        ],
    },
    "signed_values": [
        {"at": "2024-06-04T10:00:00Z", "context": "Transaction.Begin", "value": "1000.000"},
        {"at": "2024-06-04T11:52:00Z", "context": "Transaction.End", "value": "1020.450"},
    ],
}


def test_a_good_document_gives_the_exact_answer() -> None:
    answer = preview(T5, V08)
    assert answer == V08_ANSWER
    assert json.loads(json.dumps(answer)) == answer


def test_numbers_parsed_as_decimal_give_the_same_answer() -> None:
    """A CLI may load the documents with parse_float=Decimal; nothing changes."""
    tariff = json.loads(json.dumps(T5), parse_float=Decimal)
    session = json.loads(json.dumps(V08), parse_float=Decimal)
    assert preview(tariff, session) == V08_ANSWER


def test_v03_meter_start_and_stop_with_a_stale_poll() -> None:
    doc = {
        "time_zone": "Europe/Berlin",
        "current_type": "AC",
        "start": "2024-06-04T10:00:00Z",
        "end": "2024-06-04T11:00:00Z",
        "meter_start_wh": 5000,
        "meter_stop_wh": 12345,
        "meter_values": [
            {"timestamp": "2024-06-04T10:15:00Z", "sampledValue": [{"value": "11000"}]},
            {"timestamp": "2024-06-04T10:05:00Z", "sampledValue": [{"value": "7000"}]},
            {"timestamp": "2024-06-04T10:10:00Z", "sampledValue": [{"value": "9000"}]},
            {"timestamp": "2024-06-04T10:10:00Z", "sampledValue": [{"value": "9000"}]},
        ],
        "soc": [
            {
                "at": "2024-06-04T09:00:00Z",
                "data_age": "2024-06-04T08:58:00Z",
                "percent_remaining": 0.58,
                "odometer_km": 12000,
            },
            {"at": "2024-06-04T10:00:00Z", "percent_remaining": 0.50, "odometer_km": 12003},
            {
                "at": "2024-06-04T11:05:00Z",
                "data_age": "2024-06-04T11:04:00Z",
                "percent_remaining": 0.61,
            },
        ],
        "battery_capacity_kwh": 60,
        "capacity_source": "SMARTCAR",
    }
    tariff = {
        "currency": "EUR",
        "elements": [
            {"price_components": [{"type": "ENERGY", "price": "0.25", "vat": "10", "step_size": 1}]}
        ],
    }
    answer = preview(tariff, doc)
    assert answer["energy_wh"] == 7345
    assert answer["cost"] == {"excl_vat": "1.83625", "incl_vat": "2.019875"}
    assert answer["total"] == "2.02"
    assert set(answer["flags"]) >= {"used_meterStart", "out_of_order", "duplicate_sample"}
    assert answer["crosscheck"]["verdict"] == "OK"
    assert answer["crosscheck"]["meter_band_kwh"] == ["5.938", "9.720"]


def _with(change: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(V08)
    for path, value in change.items():
        target: Any = doc
        *parents, last = path.split("/")
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if value is _DELETE:
            del target[last]
        elif isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
    return doc


_DELETE = object()

BAD_SESSIONS = {
    "missing time zone": ({"time_zone": _DELETE}, "session.time_zone"),
    "unknown time zone": ({"time_zone": "Mars/Olympus"}, "session.time_zone"),
    "bad current type": ({"current_type": "3-phase"}, "session.current_type"),
    "missing start": ({"start": _DELETE}, "session.start"),
    "bad end": ({"end": "yesterday"}, "session.end"),
    "end before start": ({"end": "2024-06-04T09:00:00Z"}, "session.end"),
    "bad meter timestamp": (
        {"meter_values/1/timestamp": "11 o'clock"},
        "session.meter_values[1].timestamp",
    ),
    "numeric timestamp": (
        {"meter_values/1/timestamp": 1717495200},
        "session.meter_values[1].timestamp",
    ),
    "no sampled values": (
        {"meter_values/1/sampledValue": []},
        "session.meter_values[1].sampledValue",
    ),
    "value is not a string": (
        {"meter_values/1/sampledValue/0/value": 1011000},
        "session.meter_values[1].sampledValue[0].value",
    ),
    "bad unit": (
        {"meter_values/0/sampledValue/0/unit": "MWh"},
        "session.meter_values[0].sampledValue[0].unit",
    ),
    "bad context": (
        {"meter_values/0/sampledValue/0/context": "Begin"},
        "session.meter_values[0].sampledValue[0].context",
    ),
    "snake_case sampled_value": (
        {
            "meter_values/1": {
                "timestamp": "2024-06-04T11:00:00Z",
                "sampled_value": [{"value": "1"}],
            }
        },
        "session.meter_values[1].sampledValue",
    ),
    "negative meter start": ({"meter_start_wh": -1}, "session.meter_start_wh"),
    "SoC as a percentage": ({"soc/0/percent_remaining": 40}, "session.soc[0].percent_remaining"),
    "bad data age": ({"soc/1/data_age": "now"}, "session.soc[1].data_age"),
    "zero capacity": ({"battery_capacity_kwh": 0}, "session.battery_capacity_kwh"),
    "unknown field": ({"meter_start": 5}, "session.meter_start"),
    "bad status time": ({"connector_status/0/at": "soon"}, "session.connector_status[0].at"),
}


@pytest.mark.parametrize(("change", "field"), BAD_SESSIONS.values(), ids=BAD_SESSIONS.keys())
def test_bad_session_documents_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        preview(T5, _with(change))
    assert raised.value.field == field
    assert raised.value.message.startswith(field)


def test_a_session_that_is_not_an_object() -> None:
    with pytest.raises(InvalidInput) as raised:
        preview(T5, [])  # type: ignore[arg-type]
    assert raised.value.field == "session"


@pytest.mark.parametrize(
    ("tariff", "field"),
    [
        ({**T5, "currency": "eur"}, "tariff.currency"),
        ({**T5, "elements": []}, "tariff.elements"),
        (
            {**T5, "elements": [{"price_components": [{"type": "ENERGY", "price": "x"}]}]},
            "tariff.elements[0].price_components[0].price",
        ),
        ({**T5, "start_date_time": "2024-07-01T00:00:00Z"}, "tariff.start_date_time"),
        ("not a tariff", "tariff"),
    ],
)
def test_bad_tariffs_name_the_field(tariff: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        preview(tariff, V08)
    assert raised.value.field == field


def test_crosscheck_settings_reach_the_verdict() -> None:
    strict = billing.CrosscheckConfig(min_informative_soc_pp=Decimal(50))
    answer = preview(T5, V08, crosscheck_config=strict)
    assert answer["crosscheck"]["verdict"] == "INCONCLUSIVE"
    assert answer["total"] == "6.24"


def _snake(meter_values: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same MeterValue objects as the ocpp library hands them to a handler."""
    return [{"timestamp": m["timestamp"], "sampled_value": m["sampledValue"]} for m in meter_values]


def _real_bill(tariff_doc: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    """The path of the real bill: translate the 1.6 payload, then price the samples."""
    samples = samples_from_v16(_snake(doc["meter_values"]))
    base = session_from_document({**doc, "meter_values": []})
    session = billing.SessionInput(
        datetime.fromisoformat(doc["start"]),
        datetime.fromisoformat(doc["end"]),
        ZoneInfo(doc["time_zone"]),
        billing.CurrentType(doc["current_type"]),
        readings=tuple(reading_from_sample(s) for s in samples),
        meter_start_wh=doc.get("meter_start_wh"),
        meter_stop_wh=doc.get("meter_stop_wh"),
        connector_status=base.connector_status,
        soc_polls=base.soc_polls,
        battery_capacity_kwh=base.battery_capacity_kwh,
        capacity_source=base.capacity_source,
    )
    return billing.price_session(billing.parse_tariff(tariff_doc), session).to_json()


def test_preview_and_real_bill_agree_on_v08() -> None:
    assert _real_bill(T5, V08) == preview(T5, V08)


START = datetime(2024, 6, 4, 10, tzinfo=UTC)


@st.composite
def meter_value_documents(draw: st.DrawFn) -> list[dict[str, Any]]:
    values = []
    for _ in range(draw(st.integers(min_value=0, max_value=8))):
        minute = draw(st.integers(min_value=0, max_value=120))
        sampled = []
        for _ in range(draw(st.integers(min_value=1, max_value=3))):
            item: dict[str, Any] = {
                "value": str(draw(st.decimals(min_value=0, max_value=10**6, places=3)))
            }
            for key, options in (
                (
                    "context",
                    ["Transaction.Begin", "Sample.Periodic", "Sample.Clock", "Transaction.End"],
                ),
                ("unit", ["Wh", "kWh"]),
                ("phase", ["L1", "L2", "L3"]),
                ("format", ["Raw", "SignedData"]),
                ("measurand", ["Energy.Active.Import.Register", "Current.Import"]),
            ):
                if draw(st.booleans()):
                    item[key] = draw(st.sampled_from(options))
            if item.get("measurand") == "Current.Import":
                item["unit"] = "A"
            sampled.append(item)
        stamp = (START + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")
        values.append({"timestamp": stamp, "sampledValue": sampled})
    return values


COMPLEX = {
    "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "FLAT", "price": "2.50", "vat": "15"}]},
        {
            "price_components": [{"type": "TIME", "price": "1.00", "vat": "20", "step_size": 900}],
            "restrictions": {"max_current": 32},
        },
        {
            "price_components": [
                {"type": "ENERGY", "price": "0.30", "vat": "20", "step_size": 100}
            ],
            "restrictions": {"max_power": 11},
        },
        {"price_components": [{"type": "ENERGY", "price": "0.45", "vat": "20"}]},
        {
            "price_components": [
                {"type": "PARKING_TIME", "price": "5.00", "vat": "10", "step_size": 300}
            ],
            "restrictions": {"start_time": "09:00", "end_time": "18:00"},
        },
    ],
}


@settings(max_examples=75, deadline=None)
@given(
    meter_values=meter_value_documents(),
    meter_start=st.none() | st.integers(min_value=0, max_value=10**6),
    meter_stop=st.none() | st.integers(min_value=0, max_value=10**6),
    tariff=st.sampled_from([T5, COMPLEX]),
)
def test_preview_and_real_bill_are_identical(
    meter_values: list[dict[str, Any]],
    meter_start: int | None,
    meter_stop: int | None,
    tariff: dict[str, Any],
) -> None:
    doc = {
        "time_zone": "Europe/Berlin",
        "current_type": "AC",
        "start": "2024-06-04T10:00:00+00:00",
        "end": "2024-06-04T12:00:00+00:00",
        "meter_values": meter_values,
        "soc": V08["soc"],
        "battery_capacity_kwh": 64,
        "capacity_source": "SMARTCAR",
    }
    if meter_start is not None:
        doc["meter_start_wh"] = meter_start
    if meter_stop is not None:
        doc["meter_stop_wh"] = meter_stop
    assert preview(tariff, doc) == _real_bill(tariff, doc)
