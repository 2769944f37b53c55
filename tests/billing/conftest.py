"""Builders for the pure billing tests: readings, sessions and tariffs in a few words.

Meter readings are written like the reference's worked examples: ``B("1000000", at)`` is
a Transaction.Begin sample, ``P`` a periodic one, ``C`` a clock-aligned one, ``E`` the
Transaction.End sample. Values are strings, as OCPP 1.6 sends them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from billing import (
    ConnectorStatusChange,
    CurrentType,
    MeterReading,
    SessionInput,
    SocPoll,
    Tariff,
    parse_tariff,
)

BERLIN = ZoneInfo("Europe/Berlin")


def at(hour: int, minute: int = 0, second: int = 0, *, day: int = 4) -> datetime:
    """A UTC instant in June 2024 (the 3rd is a Monday, the 4th a Tuesday, the 8th a Saturday)."""
    return datetime(2024, 6, day, hour, minute, second, tzinfo=UTC)


def reading(
    value: str,
    moment: datetime,
    *,
    context: str | None = None,
    unit: str | None = None,
    phase: str | None = None,
    fmt: str | None = None,
    measurand: str | None = None,
    location: str | None = None,
) -> MeterReading:
    numeric = None if fmt == "SignedData" else Decimal(value)
    return MeterReading(
        moment,
        numeric,
        measurand=measurand,
        phase=phase,
        location=location,
        context=context,
        format=fmt,
        unit=unit,
        text=value,
    )


def B(value: str, moment: datetime, **kw: Any) -> MeterReading:
    return reading(value, moment, context="Transaction.Begin", **kw)


def P(value: str, moment: datetime, **kw: Any) -> MeterReading:
    return reading(value, moment, context="Sample.Periodic", **kw)


def C(value: str, moment: datetime, **kw: Any) -> MeterReading:
    return reading(value, moment, context="Sample.Clock", **kw)


def E(value: str, moment: datetime, **kw: Any) -> MeterReading:
    return reading(value, moment, context="Transaction.End", **kw)


def current(amps: str, moment: datetime, phase: str | None = None) -> MeterReading:
    return reading(amps, moment, measurand="Current.Import", unit="A", phase=phase)


def soc(
    fraction: str,
    recorded: datetime,
    *,
    fetched: datetime | None = None,
    plugged: bool | None = None,
    state: str | None = None,
    distance_m: str | None = None,
    odometer_km: str | None = None,
) -> SocPoll:
    return SocPoll(
        fetched or recorded,
        Decimal(fraction),
        data_age=recorded,
        is_plugged_in=plugged,
        state=state,
        distance_m=None if distance_m is None else Decimal(distance_m),
        odometer_km=None if odometer_km is None else Decimal(odometer_km),
    )


def session(
    start: datetime,
    end: datetime,
    *readings: MeterReading,
    current_type: str = "AC",
    zone: ZoneInfo = BERLIN,
    meter_start: int | None = None,
    meter_stop: int | None = None,
    status: tuple[tuple[datetime, str], ...] = (),
    polls: tuple[SocPoll, ...] = (),
    capacity: str | None = None,
    capacity_source: str | None = "SMARTCAR",
    max_power_kw: str | None = None,
) -> SessionInput:
    return SessionInput(
        start,
        end,
        zone,
        CurrentType(current_type),
        readings=readings,
        meter_start_wh=meter_start,
        meter_stop_wh=meter_stop,
        connector_status=tuple(ConnectorStatusChange(t, s) for t, s in status),
        soc_polls=polls,
        battery_capacity_kwh=None if capacity is None else Decimal(capacity),
        capacity_source=capacity_source,
        max_power_kw=None if max_power_kw is None else Decimal(max_power_kw),
    )


def component(kind: str, price: str, vat: str | None = None, step: int = 1) -> dict[str, Any]:
    doc: dict[str, Any] = {"type": kind, "price": price, "step_size": step}
    if vat is not None:
        doc["vat"] = vat
    return doc


def element(*components: dict[str, Any], **restrictions: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"price_components": list(components)}
    if restrictions:
        doc["restrictions"] = restrictions
    return doc


def tariff_doc(*elements: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"currency": "EUR", "elements": list(elements), **extra}


def tariff(*elements: dict[str, Any], **extra: Any) -> Tariff:
    return parse_tariff(tariff_doc(*elements, **extra))


# The reference's tariffs (billing-domain.md section 7).
T1 = tariff(element(component("ENERGY", "0.25", "10")))
T2 = tariff(element(component("FLAT", "0.50", "20")), element(component("ENERGY", "0.25", "10")))
T3 = tariff(
    element(component("ENERGY", "0.25", "10")),
    min_price={"excl_vat": "0.50", "incl_vat": "0.55"},
)
T4 = tariff(
    element(component("FLAT", "0.50", "20")),
    element(component("ENERGY", "0.25", "10")),
    max_price={"excl_vat": "10.00", "incl_vat": "11.00"},
)
T5 = tariff(
    element(component("FLAT", "0.50", "20")),
    element(component("ENERGY", "0.25", "10", step=100)),
)
WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]
# OCPI 2.2.1's complex tariff example.
COMPLEX = tariff(
    element(component("FLAT", "2.50", "15")),
    element(component("TIME", "1.00", "20", step=900), max_current="32.00"),
    element(component("TIME", "2.00", "20", step=600), min_current="32.00", day_of_week=WEEKDAYS),
    element(
        component("TIME", "1.25", "20", step=600),
        min_current="32.00",
        day_of_week=["SATURDAY", "SUNDAY"],
    ),
    element(
        component("PARKING_TIME", "5.00", "10", step=300),
        start_time="09:00",
        end_time="18:00",
        day_of_week=WEEKDAYS,
    ),
    element(
        component("PARKING_TIME", "6.00", "10", step=300),
        start_time="10:00",
        end_time="17:00",
        day_of_week=["SATURDAY"],
    ),
)
