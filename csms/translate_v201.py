"""Pure translation of OCPP 2.0.1 payloads into version-neutral events.

Same rules as :mod:`csms.translate`: energy to integer Wh (``unitOfMeasure`` unit and
``multiplier`` applied), times to aware UTC, measurand and context defaults. Input is the
snake_case payload the ``ocpp`` library hands to a handler, already schema-validated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from csms.events import (
    ChargerBooted,
    ConnectorStatus,
    MeterSample,
    StatusChanged,
    TransactionEventReceived,
)
from csms.translate import DEFAULT_MEASURAND, make_sample, parse_timestamp

__all__ = [
    "DeviceModelEntry",
    "boot_from_v201",
    "device_model_from_report",
    "parse_timestamp",
    "samples_from_v201",
    "status_from_v201",
    "transaction_event_from_v201",
]

_STATUS = {
    "Available": ConnectorStatus.AVAILABLE,
    "Occupied": ConnectorStatus.OCCUPIED,
    "Reserved": ConnectorStatus.RESERVED,
    "Unavailable": ConnectorStatus.UNAVAILABLE,
    "Faulted": ConnectorStatus.FAULTED,
}
# Where a 2.0.1 meter value's context is implied by the event that carries it.
_EVENT_CONTEXT = {
    "Started": "Transaction.Begin",
    "Updated": "Sample.Periodic",
    "Ended": "Transaction.End",
}


def boot_from_v201(payload: Mapping[str, Any]) -> ChargerBooted:
    station = payload["charging_station"]
    return ChargerBooted(
        vendor=station["vendor_name"],
        model=station["model"],
        serial_number=station.get("serial_number"),
        firmware_version=station.get("firmware_version"),
        details={"charging_station": station, "reason": payload["reason"]},
    )


def status_from_v201(payload: Mapping[str, Any]) -> StatusChanged:
    raw = payload["connector_status"]
    return StatusChanged(
        evse_id=int(payload["evse_id"]),
        connector_id=int(payload["connector_id"]),
        status=_STATUS[raw],
        raw_status=raw,
        error_code=None,
        info=None,
        vendor_id=None,
        vendor_error_code=None,
        at=parse_timestamp(payload["timestamp"]),
    )


def samples_from_v201(
    meter_values: Iterable[Mapping[str, Any]], *, default_context: str = "Sample.Periodic"
) -> list[MeterSample]:
    """Flatten 2.0.1 ``MeterValueType`` objects into samples, one per sampled value."""
    samples: list[MeterSample] = []
    for meter_value in meter_values:
        at = parse_timestamp(meter_value["timestamp"])
        for sampled in meter_value["sampled_value"]:
            unit_of_measure = sampled.get("unit_of_measure") or {}
            samples.append(
                make_sample(
                    at,
                    measurand=sampled.get("measurand") or DEFAULT_MEASURAND,
                    fmt="SignedData" if sampled.get("signed_meter_value") else "Raw",
                    raw_value=_number_text(sampled["value"]),
                    unit=unit_of_measure.get("unit"),
                    phase=sampled.get("phase"),
                    location=sampled.get("location"),
                    context=sampled.get("context") or default_context,
                    scale=int(unit_of_measure.get("multiplier", 0)),
                )
            )
    return samples


def _number_text(value: float | int) -> str:
    # repr keeps what the charger sent (1234.5 stays 1234.5; 10 stays 10).
    return repr(value) if isinstance(value, float) else str(value)


def transaction_event_from_v201(payload: Mapping[str, Any]) -> TransactionEventReceived:
    info = payload["transaction_info"]
    evse = payload.get("evse") or {}
    token = payload.get("id_token") or {}
    event_type = payload["event_type"]
    return TransactionEventReceived(
        event_type=event_type,
        transaction_id=info["transaction_id"],
        seq_no=int(payload["seq_no"]),
        trigger_reason=payload["trigger_reason"],
        occurred_at=parse_timestamp(payload["timestamp"]),
        evse_id=evse.get("id"),
        connector_id=evse.get("connector_id"),
        id_token=token.get("id_token") if token else None,
        id_token_type=token.get("type") if token else None,
        charging_state=info.get("charging_state"),
        stopped_reason=info.get("stopped_reason"),
        remote_start_id=info.get("remote_start_id"),
        offline=bool(payload.get("offline", False)),
        samples=tuple(
            samples_from_v201(
                payload.get("meter_value") or (), default_context=_EVENT_CONTEXT[event_type]
            )
        ),
        reservation_id=payload.get("reservation_id"),
    )


# One reported attribute: the device_model row's columns.
DeviceModelEntry = dict[str, Any]


def device_model_from_report(
    report_data: Iterable[Mapping[str, Any]], reported_at: datetime
) -> list[DeviceModelEntry]:
    """Rows for the device model table from NotifyReport's ``reportData``."""
    rows: list[DeviceModelEntry] = []
    for item in report_data:
        component = item["component"]
        evse = component.get("evse") or {}
        variable = item["variable"]
        for attribute in item["variable_attribute"]:
            rows.append(
                {
                    "component": component["name"],
                    "component_instance": component.get("instance") or "",
                    "evse_id": int(evse.get("id", 0)),
                    "connector_id": int(evse.get("connector_id", 0)),
                    "variable": variable["name"],
                    "variable_instance": variable.get("instance") or "",
                    "attribute_type": attribute.get("type") or "Actual",
                    "value": attribute.get("value"),
                    "mutability": attribute.get("mutability"),
                    "characteristics": item.get("variable_characteristics"),
                    "reported_at": reported_at,
                }
            )
    return rows
