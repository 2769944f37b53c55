"""Pure translation of OCPP 1.6 payloads into version-neutral events.

Units, measurand and context defaults, and timestamps are normalised here and nowhere
else: energy becomes integer Wh, times become timezone-aware UTC. Input is the payload as
the ``ocpp`` library hands it to a handler (snake_case keys, nested plain dicts), already
validated against the official schema.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from csms.events import (
    ChargerBooted,
    ConnectorStatus,
    MeterSample,
    StatusChanged,
    TransactionEnded,
    TransactionStarted,
)

__all__ = [
    "DEFAULT_MEASURAND",
    "ENERGY_MEASURANDS",
    "boot_from_v16",
    "format_timestamp",
    "make_sample",
    "parse_timestamp",
    "samples_from_v16",
    "start_from_v16",
    "status_from_v16",
    "stop_from_v16",
]

DEFAULT_MEASURAND = "Energy.Active.Import.Register"
ENERGY_MEASURANDS = frozenset(
    {
        "Energy.Active.Import.Register",
        "Energy.Active.Export.Register",
        "Energy.Reactive.Import.Register",
        "Energy.Reactive.Export.Register",
        "Energy.Active.Import.Interval",
        "Energy.Active.Export.Interval",
        "Energy.Reactive.Import.Interval",
        "Energy.Reactive.Export.Interval",
    }
)
# Multipliers from a unit to its base (Wh, varh) for energy measurands.
_ENERGY_UNITS = {"Wh": Decimal(1), "kWh": Decimal(1000), "varh": Decimal(1), "kvarh": Decimal(1000)}
_V16_STATUS = {s.value: s for s in ConnectorStatus if s is not ConnectorStatus.OCCUPIED}


def parse_timestamp(value: str) -> datetime:
    """Parse an OCPP timestamp into aware UTC.

    A timestamp without an offset is taken as UTC (OCPP requires UTC; some chargers omit
    the ``Z``). Raises ValueError when it is not a date-time at all.
    """
    text = value.strip()
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_timestamp(moment: datetime) -> str:
    """An aware datetime as OCPP writes it: ISO 8601 in UTC with a ``Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def boot_from_v16(payload: Mapping[str, Any]) -> ChargerBooted:
    return ChargerBooted(
        vendor=payload["charge_point_vendor"],
        model=payload["charge_point_model"],
        serial_number=payload.get("charge_point_serial_number")
        or payload.get("charge_box_serial_number"),
        firmware_version=payload.get("firmware_version"),
        details={k: v for k, v in payload.items() if v is not None},
    )


def status_from_v16(payload: Mapping[str, Any], received_at: datetime) -> StatusChanged:
    connector = int(payload["connector_id"])
    raw = payload["status"]
    timestamp = payload.get("timestamp")
    return StatusChanged(
        evse_id=connector,
        connector_id=connector,
        status=_V16_STATUS[raw],
        raw_status=raw,
        error_code=payload.get("error_code"),
        info=payload.get("info"),
        vendor_id=payload.get("vendor_id"),
        vendor_error_code=payload.get("vendor_error_code"),
        at=parse_timestamp(timestamp) if timestamp else received_at,
    )


def start_from_v16(payload: Mapping[str, Any]) -> TransactionStarted:
    connector = int(payload["connector_id"])
    return TransactionStarted(
        evse_id=connector,
        connector_id=connector,
        id_token=payload["id_tag"],
        meter_start_wh=int(payload["meter_start"]),
        started_at=parse_timestamp(payload["timestamp"]),
        reservation_id=payload.get("reservation_id"),
    )


def stop_from_v16(payload: Mapping[str, Any]) -> TransactionEnded:
    return TransactionEnded(
        transaction_id=str(payload["transaction_id"]),
        meter_stop_wh=int(payload["meter_stop"]),
        ended_at=parse_timestamp(payload["timestamp"]),
        reason=payload.get("reason"),
        id_token=payload.get("id_tag"),
        samples=tuple(
            samples_from_v16(
                payload.get("transaction_data") or (), default_context="Sample.Periodic"
            )
        ),
    )


def samples_from_v16(
    meter_values: Iterable[Mapping[str, Any]], *, default_context: str = "Sample.Periodic"
) -> list[MeterSample]:
    """Flatten 1.6 ``MeterValue`` objects into samples, one per sampled value."""
    samples: list[MeterSample] = []
    for meter_value in meter_values:
        at = parse_timestamp(meter_value["timestamp"])
        for sampled in meter_value["sampled_value"]:
            samples.append(_sample(at, sampled, default_context))
    return samples


def _sample(at: datetime, sampled: Mapping[str, Any], default_context: str) -> MeterSample:
    return make_sample(
        at,
        measurand=sampled.get("measurand") or DEFAULT_MEASURAND,
        fmt=sampled.get("format") or "Raw",
        raw_value=str(sampled["value"]),
        unit=sampled.get("unit"),
        phase=sampled.get("phase"),
        location=sampled.get("location"),
        context=sampled.get("context") or default_context,
    )


def make_sample(
    at: datetime,
    *,
    measurand: str,
    fmt: str,
    raw_value: str,
    unit: str | None,
    phase: str | None,
    location: str | None,
    context: str,
    scale: int = 0,
) -> MeterSample:
    """One normalised sample; ``scale`` is a power of ten (2.0.1's ``multiplier``)."""
    if unit is None and measurand in ENERGY_MEASURANDS:
        unit = "varh" if "Reactive" in measurand else "Wh"
    numeric: Decimal | None = None
    if fmt == "Raw":
        try:
            numeric = Decimal(raw_value.strip())
        except InvalidOperation:
            numeric = None
        if numeric is not None and not numeric.is_finite():
            numeric = None
        if numeric is not None and scale:
            numeric = numeric.scaleb(scale)
    energy_wh: int | None = None
    if numeric is not None and measurand in ENERGY_MEASURANDS and unit in _ENERGY_UNITS:
        energy_wh = int((numeric * _ENERGY_UNITS[unit]).to_integral_value(ROUND_HALF_UP))
    return MeterSample(
        sampled_at=at,
        measurand=measurand,
        phase=phase or "",
        location=location or "Outlet",
        context=context,
        format=fmt,
        unit=unit,
        value=raw_value,
        value_numeric=numeric,
        energy_wh=energy_wh,
    )
