"""The pricing preview: a tariff and a session document in, the bill as JSON out.

It runs the same ``billing.price_session`` as the real bill. The session document holds
OCPP 1.6 ``MeterValue`` objects exactly as a charger sends them (camelCase keys, string
values), the charger's time zone, AC/DC, optional meterStart/meterStop, connector status
changes, Smartcar SoC polls and the battery capacity. Bad input raises ``InvalidInput``
naming the field (``session.meter_values[0].sampledValue[1].unit``, ``tariff.currency``).

``reading_from_sample`` turns a stored ``csms.events.MeterSample`` into the billing core's
``MeterReading``, for the real bill.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

import billing
from csms.errors import InvalidInput
from csms.events import MeterSample
from csms.translate import parse_timestamp

__all__ = ["preview", "reading_from_sample", "session_from_document"]

Context = Literal[
    "Interruption.Begin",
    "Interruption.End",
    "Other",
    "Sample.Clock",
    "Sample.Periodic",
    "Transaction.Begin",
    "Transaction.End",
    "Trigger",
]
Format = Literal["Raw", "SignedData"]
Location = Literal["Body", "Cable", "EV", "Inlet", "Outlet"]
Phase = Literal["L1", "L2", "L3", "N", "L1-N", "L2-N", "L3-N", "L1-L2", "L2-L3", "L3-L1"]
Unit = Literal[
    "Wh",
    "kWh",
    "varh",
    "kvarh",
    "W",
    "kW",
    "VA",
    "kVA",
    "var",
    "kvar",
    "A",
    "V",
    "K",
    "Celcius",
    "Celsius",
    "Fahrenheit",
    "Percent",
]
Measurand = Literal[
    "Current.Export",
    "Current.Import",
    "Current.Offered",
    "Energy.Active.Export.Register",
    "Energy.Active.Import.Register",
    "Energy.Reactive.Export.Register",
    "Energy.Reactive.Import.Register",
    "Energy.Active.Export.Interval",
    "Energy.Active.Import.Interval",
    "Energy.Reactive.Export.Interval",
    "Energy.Reactive.Import.Interval",
    "Frequency",
    "Power.Active.Export",
    "Power.Active.Import",
    "Power.Factor",
    "Power.Offered",
    "Power.Reactive.Export",
    "Power.Reactive.Import",
    "RPM",
    "SoC",
    "Temperature",
    "Voltage",
]


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _moment(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date-time string")  # noqa: TRY004 - pydantic wants ValueError
    try:
        return parse_timestamp(value)
    except ValueError:
        raise ValueError("must be an ISO 8601 date-time") from None


class SampledValue(_Document):
    value: str
    context: Context | None = None
    format: Format | None = None
    measurand: Measurand | None = None
    phase: Phase | None = None
    location: Location | None = None
    unit: Unit | None = None


class MeterValue(_Document):
    timestamp: datetime
    sampled_value: list[SampledValue] = Field(alias="sampledValue", min_length=1)

    _timestamp = field_validator("timestamp", mode="before")(_moment)


class StatusChange(_Document):
    at: datetime
    status: str = Field(min_length=1)

    _at = field_validator("at", mode="before")(_moment)


class SocPollDocument(_Document):
    at: datetime
    data_age: datetime | None = None
    percent_remaining: Decimal | None = Field(default=None, ge=0, le=1)
    is_plugged_in: bool | None = None
    state: str | None = None
    distance_m: Decimal | None = Field(default=None, ge=0)
    odometer_km: Decimal | None = Field(default=None, ge=0)

    _at = field_validator("at", mode="before")(_moment)

    @field_validator("data_age", mode="before")
    @classmethod
    def _data_age(cls, value: object) -> datetime | None:
        return None if value is None else _moment(value)


class SessionDocument(_Document):
    time_zone: str
    current_type: Literal["AC", "DC"]
    start: datetime
    end: datetime
    meter_start_wh: int | None = Field(default=None, ge=0)
    meter_stop_wh: int | None = Field(default=None, ge=0)
    meter_values: list[MeterValue] = Field(default_factory=list)
    connector_status: list[StatusChange] = Field(default_factory=list)
    soc: list[SocPollDocument] = Field(default_factory=list)
    battery_capacity_kwh: Decimal | None = Field(default=None, gt=0)
    capacity_source: str | None = None
    max_power_kw: Decimal | None = Field(default=None, gt=0)

    _start = field_validator("start", "end", mode="before")(_moment)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone such as Europe/Berlin") from None
        return value


def _numeric(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip())
    except ArithmeticError:
        return None
    return value if value.is_finite() else None


def _readings(meter_values: list[MeterValue]) -> tuple[billing.MeterReading, ...]:
    readings = []
    for meter_value in meter_values:
        for sampled in meter_value.sampled_value:
            signed = sampled.format == "SignedData"
            readings.append(
                billing.MeterReading(
                    meter_value.timestamp,
                    None if signed else _numeric(sampled.value),
                    measurand=sampled.measurand,
                    phase=sampled.phase,
                    location=sampled.location,
                    context=sampled.context,
                    format=sampled.format,
                    unit=sampled.unit,
                    text=sampled.value,
                )
            )
    return tuple(readings)


def _path(location: tuple[int | str, ...]) -> str:
    path = "session"
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def session_from_document(doc: object) -> billing.SessionInput:
    """The preview's session document as the billing core's ``SessionInput``."""
    if not isinstance(doc, Mapping):
        raise InvalidInput("the session must be a JSON object", field="session")
    try:
        parsed = SessionDocument.model_validate(doc)
    except ValidationError as error:
        first = error.errors()[0]
        field = _path(tuple(first["loc"]))
        raise InvalidInput(f"{field}: {first['msg']}", field=field) from None
    try:
        return billing.SessionInput(
            parsed.start,
            parsed.end,
            ZoneInfo(parsed.time_zone),
            billing.CurrentType(parsed.current_type),
            readings=_readings(parsed.meter_values),
            meter_start_wh=parsed.meter_start_wh,
            meter_stop_wh=parsed.meter_stop_wh,
            connector_status=tuple(
                billing.ConnectorStatusChange(c.at, c.status) for c in parsed.connector_status
            ),
            soc_polls=tuple(
                billing.SocPoll(
                    p.at,
                    p.percent_remaining,
                    data_age=p.data_age,
                    is_plugged_in=p.is_plugged_in,
                    state=p.state,
                    distance_m=p.distance_m,
                    odometer_km=p.odometer_km,
                )
                for p in parsed.soc
            ),
            battery_capacity_kwh=parsed.battery_capacity_kwh,
            capacity_source=parsed.capacity_source,
            max_power_kw=parsed.max_power_kw,
        )
    except billing.SessionError as error:
        field = _path((error.path or "",)) if error.path else "session"
        field = field.replace("soc_polls", "soc")
        raise InvalidInput(f"{field}: {error.message}", field=field) from None


def preview(
    tariff_doc: dict[str, Any],
    session_doc: dict[str, Any],
    *,
    crosscheck_config: billing.CrosscheckConfig | None = None,
) -> dict[str, Any]:
    """Price a session document with a tariff document; the answer of the preview.

    Raises ``InvalidInput`` (with ``field`` = ``tariff.<path>`` or ``session.<path>``).
    """
    try:
        tariff = billing.parse_tariff(tariff_doc)
    except billing.TariffError as error:
        field = f"tariff.{error.path}" if error.path and error.path != "tariff" else "tariff"
        raise InvalidInput(f"{field}: {error.message}", field=field) from None
    session = session_from_document(session_doc)
    try:
        priced = billing.price_session(
            tariff, session, crosscheck_config=crosscheck_config or billing.CrosscheckConfig()
        )
    except billing.TariffNotApplicable as error:
        field = f"tariff.{error.path}" if error.path else "tariff"
        raise InvalidInput(error.message, field=field) from None
    return priced.to_json()


def reading_from_sample(sample: MeterSample) -> billing.MeterReading:
    """A stored meter sample (defaults already applied by ``translate``) for billing."""
    return billing.MeterReading(
        sample.sampled_at,
        sample.value_numeric,
        measurand=sample.measurand,
        phase=sample.phase or None,
        location=sample.location,
        context=sample.context,
        format=sample.format,
        unit=sample.unit,
        text=sample.value,
    )
