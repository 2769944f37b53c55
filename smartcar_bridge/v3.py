"""API v3: signals and commands on ``{vehicle_api_url}/v3``, mapped onto the same
results as v2 (:mod:`smartcar_bridge.models`).

v3 reports state of charge and charge limits as 0..100 percent; the results keep v2's
0..1 fractions. Everything the reference marks UNCONFIRMED about v3 is decided in the
small block of functions right below (``UNCONFIRMED`` in each comment), so a correction
is a change in one place:

* whether ``sc-user-id`` is needed with Connect-issued tokens (we send it when we know
  the user) -- :func:`request_headers`;
* whether single resources come wrapped in ``{"data": ...}`` -- :func:`unwrap`;
* the unit of signal timestamps (seconds or milliseconds) -- :func:`signal_meta`;
* the command-execution body, its status values, and the 202 streaming --
  :func:`command_outcome`;
* the set-limit command body -- :func:`set_limit_body`;
* the values of ``charge-detailedchargingstatus`` -- :func:`charge_state`;
* how to list a Connect user's vehicles: v3 documents no such call for per-user tokens,
  so the account calls (user, vehicles, permissions, disconnect) stay on v2.0 -- see
  :class:`smartcar_bridge.client.SmartcarClient`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from smartcar_bridge.config import BridgeConfig
from smartcar_bridge.envelope import TYPE_STATUS, api_error
from smartcar_bridge.errors import (
    ApiError,
    CompatibilityError,
    ResponseFormatError,
    SmartcarError,
)
from smartcar_bridge.models import (
    AvailableCapacity,
    Battery,
    BatteryCapacity,
    ChargeLimit,
    ChargeState,
    ChargeStatus,
    CommandResult,
    Location,
    Meta,
    NominalCapacity,
    VehicleAttributes,
    VehicleSnapshot,
    Vin,
)
from smartcar_bridge.transport import Auth, Reply, Transport, parse_time

__all__ = [
    "CHARGE_LIMITS",
    "CHARGING",
    "CHARGING_STATUS",
    "LOCATION",
    "NOMINAL_CAPACITY",
    "PLUGGED_IN",
    "RANGE",
    "SOC",
    "VIN",
    "V3Api",
    "charge_state",
    "command_outcome",
    "parse_attributes",
    "parse_signal",
    "signal_meta",
    "unwrap",
]

VIN = "vehicleidentification-vin"
SOC = "tractionbattery-stateofcharge"
RANGE = "tractionbattery-range"
NOMINAL_CAPACITY = "tractionbattery-nominalcapacity"
PLUGGED_IN = "charge-ischargingcableconnected"
CHARGING = "charge-ischarging"
CHARGING_STATUS = "charge-detailedchargingstatus"
CHARGE_LIMITS = "charge-chargelimits"
LOCATION = "location-preciselocation"


# --- the UNCONFIRMED details, in one place ------------------------------------------------


def request_headers(auth: Auth) -> dict[str, str]:
    """UNCONFIRMED: ``sc-user-id`` is documented as required with app-level tokens; with a
    Connect token it is probably ignored. We send it whenever the user id is known."""
    headers = {"Authorization": f"Bearer {auth.access_token}"}
    if auth.user_id:
        headers["sc-user-id"] = auth.user_id
    return headers


def unwrap(body: Any) -> Any:
    """UNCONFIRMED: JSON:API usually wraps a resource in ``data``; the reference shows the
    vehicle and signal resources bare. Accept both."""
    if isinstance(body, Mapping) and isinstance(body.get("data"), Mapping):
        return body["data"]
    return body


def signal_meta(resource: Mapping[str, Any], reply_meta: Meta) -> Meta:
    """UNCONFIRMED: signal timestamps are epoch numbers whose unit the docs contradict
    (seconds in the spec, milliseconds in webhooks); :func:`parse_time` takes numbers
    above 1e11 as milliseconds. ``retrievedAt`` (REST) and ``fetchedAt`` (webhooks) are
    the same fact."""
    meta = resource.get("meta")
    meta = meta if isinstance(meta, Mapping) else {}
    return Meta(
        request_id=reply_meta.request_id,
        data_age=parse_time(meta.get("oemUpdatedAt")) or reply_meta.data_age,
        fetched_at=parse_time(meta.get("retrievedAt") or meta.get("fetchedAt"))
        or reply_meta.fetched_at,
        unit_system=reply_meta.unit_system,
    )


def command_outcome(reply: Reply) -> CommandResult:
    """UNCONFIRMED ([3P] only): the body of ``POST .../commands/...`` -- 200 when done
    quickly, 202 with the outcome streamed into the held-open body when slow. We read the
    whole body, take the last JSON document in it (a stream may carry progress lines
    first), and look for a status in ``data.attributes.status``, ``attributes.status`` or
    ``status``: SUCCESS (or any status on a 200 without one) is success, FAILURE an
    error, PENDING a success whose effect is not yet seen."""
    document = _last_json(reply.body)
    if isinstance(document, Mapping) and isinstance(document.get("errors"), list):
        raise api_error(_error_status(document), document, reply.headers)
    resource = unwrap(document)
    attributes = resource.get("attributes") if isinstance(resource, Mapping) else None
    holder = attributes if isinstance(attributes, Mapping) else resource
    status = holder.get("status") if isinstance(holder, Mapping) else None
    if isinstance(status, Mapping):
        status = status.get("value")
    status_text = str(status).upper() if status is not None else "SUCCESS"
    if status_text in {"FAILURE", "FAILED", "ERROR"}:
        error = holder.get("error") if isinstance(holder, Mapping) else None
        raise _signal_error(error if isinstance(error, Mapping) else {}, reply.meta)
    message = holder.get("message") if isinstance(holder, Mapping) else None
    return CommandResult(
        status="success" if status_text == "SUCCESS" else status_text.lower(),
        message=message if isinstance(message, str) else None,
        meta=reply.meta,
    )


def set_limit_body(limit: float) -> dict[str, Any]:
    """UNCONFIRMED ([3P]): an integer percent 50..100 in ``data.attributes.percent``."""
    return {"data": {"attributes": {"percent": round(limit * 100)}}}


def charge_state(detailed: Any, charging: Any) -> ChargeState:
    """UNCONFIRMED: the values of ``charge-detailedchargingstatus`` beyond "CHARGING" are
    not documented; we accept v2's names and fall back to ``charge-ischarging``."""
    text = str(detailed).upper() if isinstance(detailed, str) else ""
    if text == "CHARGING" or (not text and charging is True):
        return "CHARGING"
    if text in {"FULLY_CHARGED", "FULL", "COMPLETE", "CHARGE_COMPLETE"}:
        return "FULLY_CHARGED"
    return "NOT_CHARGING"


# --- parsing --------------------------------------------------------------------------------


def _error_status(document: Mapping[str, Any]) -> int:
    first = document["errors"][0] if document["errors"] else {}
    try:
        return int(first.get("status", 500)) if isinstance(first, Mapping) else 500
    except (TypeError, ValueError):
        return 500


def _last_json(body: Any) -> Any:
    if not isinstance(body, str):
        return body
    for line in reversed([line for line in body.splitlines() if line.strip()]):
        try:
            return json.loads(line)
        except ValueError:
            continue
    raise ResponseFormatError("v3 command: no JSON in the answer")


def _signal_error(error: Mapping[str, Any], meta: Meta) -> SmartcarError:
    """The error a signal or command execution carries (v2-like or a v3 errors item)."""
    kind = str(error.get("type") or "SERVER")
    try:
        status = int(error["status"])
    except (KeyError, TypeError, ValueError):
        status = TYPE_STATUS.get(kind, 500)
    links = error.get("links")
    body = {
        "type": kind,
        "code": error.get("code"),
        "description": error.get("description") or error.get("detail") or "signal error",
        "resolution": error.get("resolution"),
        "docURL": links.get("about") if isinstance(links, Mapping) else error.get("docURL"),
        "suggestedUserMessage": error.get("suggestedUserMessage"),
    }
    return api_error(status, body, {"SC-Request-Id": meta.request_id or ""})


def parse_signal(body: Any, meta: Meta, code: str) -> tuple[dict[str, Any], Meta]:
    """The ``body`` of a SignalResource and its meta.

    Raises:
        ApiError: the signal's status is ERROR (the error it carries) or UNAVAILABLE
            (a CompatibilityError).
        ResponseFormatError: not a signal resource.
    """
    resource = unwrap(body)
    if not isinstance(resource, Mapping):
        raise ResponseFormatError(f"signal {code}: not an object")
    attributes = resource.get("attributes", resource)
    if not isinstance(attributes, Mapping):
        raise ResponseFormatError(f"signal {code}: no attributes")
    status = attributes.get("status")
    status_value = status.get("value") if isinstance(status, Mapping) else "SUCCESS"
    if status_value == "ERROR":
        error = status.get("error") if isinstance(status, Mapping) else None
        raise _signal_error(error if isinstance(error, Mapping) else {}, meta)
    if status_value == "UNAVAILABLE":
        raise CompatibilityError(
            f"signal {code} is unavailable for this vehicle",
            status=501,
            type="COMPATIBILITY",
            code="VEHICLE_NOT_CAPABLE",
            request_id=meta.request_id,
        )
    value = attributes.get("body")
    if not isinstance(value, Mapping):
        raise ResponseFormatError(f"signal {code}: no body")
    return dict(value), signal_meta(resource, meta)


def _number(value: Mapping[str, Any], key: str, code: str) -> float:
    number = value.get(key)
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise ResponseFormatError(f"signal {code}: {key} is not a number")
    return float(number)


def parse_attributes(body: Any, meta: Meta) -> VehicleAttributes:
    resource = unwrap(body)
    attributes = resource.get("attributes") if isinstance(resource, Mapping) else None
    if not isinstance(attributes, Mapping):
        raise ResponseFormatError("GET /vehicles/{id}: no attributes")
    try:
        return VehicleAttributes(
            id=str(resource["id"]),
            make=str(attributes["make"]),
            model=str(attributes["model"]),
            year=int(attributes["year"]),
            meta=meta,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ResponseFormatError(f"GET /vehicles/{{id}}: {exc}") from None


def soc_fraction(value: Mapping[str, Any]) -> float:
    percent = _number(value, "value", SOC)
    if not 0 <= percent <= 100:
        raise ResponseFormatError(f"signal {SOC}: {percent} is not 0..100")
    return percent / 100.0


def nominal_capacity(value: Mapping[str, Any], meta: Meta) -> NominalCapacity:
    capacity = value.get("capacity")
    available = value.get("availableCapacities") or []
    return NominalCapacity(
        capacity_kwh=float(capacity) if isinstance(capacity, int | float) else None,
        source=value.get("source") if isinstance(value.get("source"), str) else None,
        available=tuple(
            AvailableCapacity(float(a["capacity"]), a.get("description"))
            for a in available
            if isinstance(a, Mapping) and isinstance(a.get("capacity"), int | float)
        ),
        url=value.get("url") if isinstance(value.get("url"), str) else None,
        meta=meta,
    )


class V3Api:
    """The v3 vehicle API over a :class:`Transport`."""

    def __init__(self, transport: Transport, config: BridgeConfig) -> None:
        self.transport = transport
        self.base = f"{config.vehicle_api_url}/v3"

    async def _get(self, auth: Auth, vehicle_id: str, path: str, endpoint: str) -> Reply:
        return await self.transport.request(
            "GET",
            f"{self.base}/vehicles/{vehicle_id}{path}",
            endpoint=endpoint,
            vehicle_id=vehicle_id,
            headers=request_headers(auth),
        )

    async def signal(self, auth: Auth, vehicle_id: str, code: str) -> tuple[dict[str, Any], Meta]:
        reply = await self._get(auth, vehicle_id, f"/signals/{code}", f"GET v3 signal {code}")
        return parse_signal(reply.body, reply.meta, code)

    async def attributes(self, auth: Auth, vehicle_id: str) -> VehicleAttributes:
        reply = await self._get(auth, vehicle_id, "", "GET v3 /vehicles/{id}")
        return parse_attributes(reply.body, reply.meta)

    async def vin(self, auth: Auth, vehicle_id: str) -> Vin:
        value, meta = await self.signal(auth, vehicle_id, VIN)
        vin = value.get("value")
        if not isinstance(vin, str) or not vin:
            raise ResponseFormatError(f"signal {VIN}: no value")
        return Vin(vin, meta)

    async def battery(self, auth: Auth, vehicle_id: str) -> Battery:
        # One call: v3 has range as a separate signal, and every call costs.
        value, meta = await self.signal(auth, vehicle_id, SOC)
        return Battery(soc_fraction(value), None, meta)

    async def nominal_capacity(self, auth: Auth, vehicle_id: str) -> NominalCapacity:
        value, meta = await self.signal(auth, vehicle_id, NOMINAL_CAPACITY)
        return nominal_capacity(value, meta)

    async def battery_capacity(self, auth: Auth, vehicle_id: str) -> BatteryCapacity:
        nominal = await self.nominal_capacity(auth, vehicle_id)
        if nominal.capacity_kwh is None:
            raise ResponseFormatError(
                "no nominal capacity known; the owner can choose one at "
                f"{nominal.url or 'Smartcar Connect'}"
            )
        return BatteryCapacity(nominal.capacity_kwh, nominal.meta)

    async def charge_status(self, auth: Auth, vehicle_id: str) -> ChargeStatus:
        plugged, meta = await self.signal(auth, vehicle_id, PLUGGED_IN)
        detailed, _ = await self.signal(auth, vehicle_id, CHARGING_STATUS)
        if not isinstance(plugged.get("value"), bool):
            raise ResponseFormatError(f"signal {PLUGGED_IN}: value is not a boolean")
        return ChargeStatus(plugged["value"], charge_state(detailed.get("value"), None), meta)

    async def charge_limit(self, auth: Auth, vehicle_id: str) -> ChargeLimit:
        value, meta = await self.signal(auth, vehicle_id, CHARGE_LIMITS)
        return ChargeLimit(_number(value, "activeLimit", CHARGE_LIMITS) / 100.0, meta)

    async def location(self, auth: Auth, vehicle_id: str) -> Location:
        value, meta = await self.signal(auth, vehicle_id, LOCATION)
        return Location(
            _number(value, "latitude", LOCATION), _number(value, "longitude", LOCATION), meta
        )

    async def command(
        self, auth: Auth, vehicle_id: str, path: str, body: Any = None
    ) -> CommandResult:
        reply = await self.transport.request(
            "POST",
            f"{self.base}/vehicles/{vehicle_id}/commands{path}",
            endpoint=f"POST v3 commands{path}",
            kind="command",
            vehicle_id=vehicle_id,
            headers=request_headers(auth),
            json_body=body,
        )
        return command_outcome(reply)

    async def charge(self, auth: Auth, vehicle_id: str, action: str) -> CommandResult:
        return await self.command(auth, vehicle_id, f"/charge/{action.lower()}")

    async def set_charge_limit(self, auth: Auth, vehicle_id: str, limit: float) -> CommandResult:
        return await self.command(auth, vehicle_id, "/charge/set-limit", set_limit_body(limit))

    async def snapshot(self, auth: Auth, vehicle_id: str) -> VehicleSnapshot:
        errors: dict[str, SmartcarError] = {}
        battery: Battery | None = None
        charge: ChargeStatus | None = None
        try:
            battery = await self.battery(auth, vehicle_id)
        except ApiError as exc:
            errors["battery"] = exc
        try:
            charge = await self.charge_status(auth, vehicle_id)
        except ApiError as exc:
            errors["charge"] = exc
        return VehicleSnapshot(battery=battery, charge=charge, errors=errors)
