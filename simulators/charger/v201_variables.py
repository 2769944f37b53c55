"""OCPP 2.0.1 device model of the simulated charger: variables, Get/SetVariables, reports.

The model is station-level: a dict keyed by (component name, variable name), each with
an ``Actual`` attribute. Component instances and EVSE addressing in requests are not
modelled: a request is matched on the two names alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from simulators.charger.model import ChargerConfig

ENERGY = "Energy.Active.Import.Register"
SUPPORTED_MEASURANDS = (ENERGY, "Power.Active.Import", "Current.Import", "Voltage")
TX_POINTS = (
    "ParkingBayOccupancy",
    "EVConnected",
    "Authorized",
    "DataSigned",
    "PowerPathClosed",
    "EnergyTransfer",
)
# Transaction start/stop points that are about the cable or the parking bay.
PLUG_POINTS = frozenset({"EVConnected", "ParkingBayOccupancy"})

AVAILABILITY_STATES = "Available,Occupied,Reserved,Unavailable,Faulted"

VariableKey = tuple[str, str]

HEARTBEAT_INTERVAL: VariableKey = ("OCPPCommCtrlr", "HeartbeatInterval")
TX_START_POINT: VariableKey = ("TxCtrlr", "TxStartPoint")
TX_STOP_POINT: VariableKey = ("TxCtrlr", "TxStopPoint")
STOP_TX_ON_INVALID_ID: VariableKey = ("TxCtrlr", "StopTxOnInvalidId")
TX_UPDATED_INTERVAL: VariableKey = ("SampledDataCtrlr", "TxUpdatedInterval")
TX_UPDATED_MEASURANDS: VariableKey = ("SampledDataCtrlr", "TxUpdatedMeasurands")
AUTHORIZE_REMOTE_START: VariableKey = ("AuthCtrlr", "AuthorizeRemoteStart")
AUTH_ENABLED: VariableKey = ("AuthCtrlr", "Enabled")
LOCAL_AUTHORIZE_OFFLINE: VariableKey = ("AuthCtrlr", "LocalAuthorizeOffline")
OFFLINE_TX_FOR_UNKNOWN_ID: VariableKey = ("AuthCtrlr", "OfflineTxForUnknownIdEnabled")
ITEMS_PER_MESSAGE: VariableKey = ("DeviceDataCtrlr", "ItemsPerMessage")


@dataclass
class Variable:
    """One variable's Actual attribute and its characteristics."""

    value: str
    data_type: str = "string"  # string, decimal, integer, dateTime, boolean, *List
    mutability: str = "ReadWrite"  # ReadOnly, WriteOnly, ReadWrite
    values_list: str | None = None  # allowed values of OptionList / MemberList
    unit: str | None = None


def default_variables(config: ChargerConfig) -> dict[VariableKey, Variable]:
    """The variables this charger reports, with this charger's values."""
    points = ",".join(TX_POINTS)
    return {
        ("ChargingStation", "Model"): Variable(config.model, mutability="ReadOnly"),
        ("ChargingStation", "VendorName"): Variable(config.vendor, mutability="ReadOnly"),
        ("ChargingStation", "SupplyPhases"): Variable(
            str(config.phases), "integer", mutability="ReadOnly"
        ),
        HEARTBEAT_INTERVAL: Variable("300", "integer", unit="s"),
        TX_START_POINT: Variable("PowerPathClosed", "MemberList", values_list=points),
        TX_STOP_POINT: Variable("EVConnected", "MemberList", values_list=points),
        ("TxCtrlr", "EVConnectionTimeOut"): Variable("60", "integer", unit="s"),
        STOP_TX_ON_INVALID_ID: Variable("true", "boolean"),
        # OCPP defines this as whole seconds; the simulator may sample faster.
        TX_UPDATED_INTERVAL: Variable(
            str(max(1, round(config.meter_interval_s))), "integer", unit="s"
        ),
        TX_UPDATED_MEASURANDS: Variable(
            ENERGY, "MemberList", values_list=",".join(SUPPORTED_MEASURANDS)
        ),
        AUTHORIZE_REMOTE_START: Variable("false", "boolean"),
        AUTH_ENABLED: Variable("true", "boolean"),
        LOCAL_AUTHORIZE_OFFLINE: Variable("true", "boolean"),
        OFFLINE_TX_FOR_UNKNOWN_ID: Variable("false", "boolean"),
        ITEMS_PER_MESSAGE: Variable("10", "integer", mutability="ReadOnly"),
        ("SecurityCtrlr", "Identity"): Variable(config.charge_point_id, mutability="ReadOnly"),
    }


def members(value: str) -> list[str]:
    """The items of a MemberList / SequenceList value."""
    return [item.strip() for item in value.split(",") if item.strip()]


def _normalise(variable: Variable, value: str, non_empty: bool) -> str | None:
    """The value to store, or None if it is not valid for ``variable``."""
    kind = variable.data_type
    if kind == "integer":
        try:
            number = int(value)
        except ValueError:
            return None
        return str(number) if number >= 0 else None
    if kind == "decimal":
        try:
            float(value)
        except ValueError:
            return None
        return value
    if kind == "boolean":
        lowered = value.strip().lower()
        return lowered if lowered in ("true", "false") else None
    allowed = members(variable.values_list or "")
    if kind == "OptionList":
        return value if value in allowed else None
    if kind in ("MemberList", "SequenceList"):
        items = members(value)
        if (non_empty and not items) or any(item not in allowed for item in items):
            return None
        return ",".join(items)
    return value


def _lookup(
    model: dict[VariableKey, Variable], item: dict[str, Any]
) -> tuple[str, VariableKey, Variable | None]:
    """(status if unknown else "", key, variable) for a Get/SetVariables item."""
    key = (str(item["component"]["name"]), str(item["variable"]["name"]))
    if key in model:
        return "", key, model[key]
    if not any(component == key[0] for component, _ in model):
        return "UnknownComponent", key, None
    return "UnknownVariable", key, None


def get_variable(model: dict[VariableKey, Variable], item: dict[str, Any]) -> dict[str, Any]:
    """The getVariableResult for one (snake_case) getVariableData item."""
    result: dict[str, Any] = {"component": item["component"], "variable": item["variable"]}
    attribute = item.get("attribute_type")
    if attribute is not None:
        result["attributeType"] = attribute
    unknown, _, variable = _lookup(model, item)
    if variable is None:
        return {**result, "attributeStatus": unknown}
    if attribute not in (None, "Actual"):
        return {**result, "attributeStatus": "NotSupportedAttributeType"}
    if variable.mutability == "WriteOnly":
        return {**result, "attributeStatus": "Rejected"}
    return {**result, "attributeStatus": "Accepted", "attributeValue": variable.value}


def set_variable(
    model: dict[VariableKey, Variable], item: dict[str, Any]
) -> tuple[dict[str, Any], VariableKey | None]:
    """Apply one (snake_case) setVariableData item: (setVariableResult, key if changed)."""
    result: dict[str, Any] = {"component": item["component"], "variable": item["variable"]}
    attribute = item.get("attribute_type")
    if attribute is not None:
        result["attributeType"] = attribute
    unknown, key, variable = _lookup(model, item)
    if variable is None:
        return {**result, "attributeStatus": unknown}, None
    if attribute not in (None, "Actual"):
        return {**result, "attributeStatus": "NotSupportedAttributeType"}, None
    if variable.mutability == "ReadOnly":
        info = {"reasonCode": "ReadOnly"}
        return {**result, "attributeStatus": "Rejected", "attributeStatusInfo": info}, None
    value = _normalise(
        variable, str(item["attribute_value"]), key in (TX_START_POINT, TX_STOP_POINT)
    )
    if value is None:
        info = {"reasonCode": "InvalidValue"}
        return {**result, "attributeStatus": "Rejected", "attributeStatusInfo": info}, None
    variable.value = value
    return {**result, "attributeStatus": "Accepted"}, key


def report_item(
    component: str,
    variable: str,
    spec: Variable,
    *,
    evse: dict[str, int] | None = None,
) -> dict[str, Any]:
    """One NotifyReport reportData entry (camelCase)."""
    component_data: dict[str, Any] = {"name": component}
    if evse is not None:
        component_data["evse"] = evse
    characteristics: dict[str, Any] = {"dataType": spec.data_type, "supportsMonitoring": False}
    if spec.values_list is not None:
        characteristics["valuesList"] = spec.values_list
    if spec.unit is not None:
        characteristics["unit"] = spec.unit
    attribute: dict[str, Any] = {
        "type": "Actual",
        "mutability": spec.mutability,
        "persistent": True,
        "constant": False,
    }
    if spec.mutability != "WriteOnly":
        attribute["value"] = spec.value
    return {
        "component": component_data,
        "variable": {"name": variable},
        "variableAttribute": [attribute],
        "variableCharacteristics": characteristics,
    }


def model_report(model: dict[VariableKey, Variable], report_base: str) -> list[dict[str, Any]]:
    """reportData of the device model for ConfigurationInventory / FullInventory."""
    chosen: Iterable[tuple[VariableKey, Variable]] = model.items()
    if report_base == "ConfigurationInventory":
        chosen = [(key, spec) for key, spec in chosen if spec.mutability != "ReadOnly"]
    return [report_item(component, name, spec) for (component, name), spec in chosen]


def base_report(
    model: dict[VariableKey, Variable],
    report_base: str,
    station_operative: bool,
    evse_status: dict[int, str],
) -> list[dict[str, Any]]:
    """reportData of a GetBaseReport; SummaryInventory is the availability states only."""

    def state(value: str) -> Variable:
        return Variable(value, "OptionList", "ReadOnly", values_list=AVAILABILITY_STATES)

    station = "Available" if station_operative else "Unavailable"
    summary = [report_item("ChargingStation", "AvailabilityState", state(station))]
    for evse_id, status in evse_status.items():
        evse = {"id": evse_id}
        summary.append(report_item("EVSE", "AvailabilityState", state(status), evse=evse))
        connector = {"id": evse_id, "connectorId": 1}
        summary.append(report_item("Connector", "AvailabilityState", state(status), evse=connector))
    if report_base == "SummaryInventory":
        return summary
    items = model_report(model, report_base)
    return items + summary if report_base == "FullInventory" else items


def chunks(items: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    """NotifyReport pages of at most ``size`` items (at least one page)."""
    size = max(size, 1)
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]
