"""API v2.0: paths on ``{api_url}/v2.0`` and the parsing of their bodies.

The ``parse_*`` functions take a decoded body and its :class:`Meta` and return the typed
result, or raise :class:`~smartcar_bridge.errors.ResponseFormatError`. They are public so
the contract tests can hold them against the literal examples of the reference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from smartcar_bridge.config import BridgeConfig
from smartcar_bridge.envelope import api_error
from smartcar_bridge.errors import (
    ResponseFormatError,
    SmartcarError,
)
from smartcar_bridge.models import (
    AvailableCapacity,
    BatchItem,
    BatchResult,
    BatchValue,
    Battery,
    BatteryCapacity,
    ChargeLimit,
    ChargeState,
    ChargeStatus,
    CommandResult,
    Location,
    Meta,
    NominalCapacity,
    Permissions,
    User,
    VehicleAttributes,
    VehiclePage,
    VehicleSnapshot,
    Vin,
)
from smartcar_bridge.transport import Auth, Kind, Reply, Transport, meta_from_headers

__all__ = [
    "PARSERS",
    "V2Api",
    "parse_attributes",
    "parse_batch",
    "parse_battery",
    "parse_capacity",
    "parse_charge",
    "parse_charge_limit",
    "parse_command",
    "parse_location",
    "parse_nominal_capacity",
    "parse_permissions",
    "parse_user",
    "parse_vehicles",
    "parse_vin",
]

ModelT = TypeVar("ModelT", bound=BaseModel)


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _User(_Wire):
    id: str


class _Paging(_Wire):
    count: int = Field(ge=0)
    offset: int = Field(ge=0)


class _Vehicles(_Wire):
    vehicles: list[str]
    paging: _Paging


class _Permissions(_Wire):
    permissions: list[str]


class _Attributes(_Wire):
    id: str
    make: str
    model: str
    year: int  # one docs example shows a string; "2014" still validates to 2014


class _Vin(_Wire):
    vin: str = Field(min_length=1)


class _Battery(_Wire):
    percentRemaining: float = Field(ge=0, le=1)
    range: float | None = None


class _Capacity(_Wire):
    capacity: float = Field(gt=0)


class _Available(_Wire):
    capacity: float
    description: str | None = None


class _NominalValue(_Wire):
    nominal: float
    source: str | None = None


class _Nominal(_Wire):
    availableCapacities: list[_Available] = Field(default_factory=list)
    capacity: _NominalValue | None = None
    url: str | None = None


class _Charge(_Wire):
    isPluggedIn: bool
    state: Literal["CHARGING", "FULLY_CHARGED", "NOT_CHARGING"]


class _Limit(_Wire):
    limit: float = Field(ge=0, le=1)


class _Location(_Wire):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class _Command(_Wire):
    status: str
    message: str | None = None


def _model(model: type[ModelT], body: Any, what: str) -> ModelT:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise ResponseFormatError(f"{what}: {where}: {first['msg']}") from None


def parse_user(body: Any, meta: Meta) -> User:
    return User(_model(_User, body, "GET /user").id, meta)


def parse_vehicles(body: Any, meta: Meta) -> VehiclePage:
    wire = _model(_Vehicles, body, "GET /vehicles")
    return VehiclePage(tuple(wire.vehicles), wire.paging.count, wire.paging.offset, meta)


def parse_permissions(body: Any, meta: Meta) -> Permissions:
    return Permissions(tuple(_model(_Permissions, body, "GET /permissions").permissions), meta)


def parse_attributes(body: Any, meta: Meta) -> VehicleAttributes:
    wire = _model(_Attributes, body, "GET /")
    return VehicleAttributes(wire.id, wire.make, wire.model, wire.year, meta)


def parse_vin(body: Any, meta: Meta) -> Vin:
    return Vin(_model(_Vin, body, "GET /vin").vin, meta)


def parse_battery(body: Any, meta: Meta) -> Battery:
    wire = _model(_Battery, body, "GET /battery")
    km = wire.range
    if km is not None and meta.unit_system == "imperial":
        km = km * 1.609344
    return Battery(wire.percentRemaining, km, meta)


def parse_capacity(body: Any, meta: Meta) -> BatteryCapacity:
    return BatteryCapacity(_model(_Capacity, body, "GET /battery/capacity").capacity, meta)


def parse_nominal_capacity(body: Any, meta: Meta) -> NominalCapacity:
    wire = _model(_Nominal, body, "GET /battery/nominal_capacity")
    return NominalCapacity(
        capacity_kwh=None if wire.capacity is None else wire.capacity.nominal,
        source=None if wire.capacity is None else wire.capacity.source,
        available=tuple(
            AvailableCapacity(a.capacity, a.description) for a in wire.availableCapacities
        ),
        url=wire.url,
        meta=meta,
    )


def parse_charge(body: Any, meta: Meta) -> ChargeStatus:
    wire = _model(_Charge, body, "GET /charge")
    state: ChargeState = wire.state
    return ChargeStatus(wire.isPluggedIn, state, meta)


def parse_charge_limit(body: Any, meta: Meta) -> ChargeLimit:
    return ChargeLimit(_model(_Limit, body, "GET /charge/limit").limit, meta)


def parse_location(body: Any, meta: Meta) -> Location:
    wire = _model(_Location, body, "GET /location")
    return Location(wire.latitude, wire.longitude, meta)


def parse_command(body: Any, meta: Meta) -> CommandResult:
    wire = _model(_Command, body, "command")
    return CommandResult(wire.status, wire.message, meta=meta)


PARSERS: Mapping[str, Callable[[Any, Meta], BatchValue]] = {
    "/": parse_attributes,
    "/vin": parse_vin,
    "/battery": parse_battery,
    "/battery/capacity": parse_capacity,
    "/battery/nominal_capacity": parse_nominal_capacity,
    "/charge": parse_charge,
    "/charge/limit": parse_charge_limit,
    "/location": parse_location,
}
"""Vehicle paths the batch endpoint may carry, with the parser of each."""


class _BatchItem(_Wire):
    path: str
    code: int
    headers: dict[str, str] | None = None
    body: Any = None


class _Batch(_Wire):
    responses: list[_BatchItem]


def parse_batch(body: Any, meta: Meta, now: datetime | None = None) -> BatchResult:
    """Per-item status: an item with a 2xx code is parsed like the single call, any
    other carries the error its body describes. The top-level request id applies to
    every item (the Python SDK does the same)."""
    moment = now or datetime.now(UTC)
    items: list[BatchItem] = []
    for item in _model(_Batch, body, "POST /batch").responses:
        item_meta = meta_from_headers(item.headers or {}, request_id=meta.request_id)
        if 200 <= item.code < 300:
            parser = PARSERS.get(item.path)
            value: BatchValue | None = None
            error: SmartcarError | None = None
            if parser is None:
                error = ResponseFormatError(f"batch: no parser for path {item.path}")
            else:
                try:
                    value = parser(item.body, item_meta)
                except ResponseFormatError as exc:
                    error = exc
            items.append(BatchItem(item.path, item.code, value, error, item_meta))
        else:
            headers = {"SC-Request-Id": meta.request_id or "", **(item.headers or {})}
            failure = api_error(item.code, item.body, headers, moment)
            items.append(BatchItem(item.path, item.code, None, failure, item_meta))
    return BatchResult(tuple(items), meta)


class V2Api:
    """The v2.0 vehicle API over a :class:`Transport`."""

    def __init__(self, transport: Transport, config: BridgeConfig) -> None:
        self.transport = transport
        self.config = config
        self.base = f"{config.api_url}/v2.0"

    def _headers(self, auth: Auth, *, units: bool) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {auth.access_token}"}
        if units:
            headers["SC-Unit-System"] = self.config.unit_system
        return headers

    async def get(
        self,
        auth: Auth,
        path: str,
        *,
        vehicle_id: str | None,
        params: Mapping[str, str] | None = None,
    ) -> Reply:
        prefix = "" if vehicle_id is None else f"/vehicles/{vehicle_id}"
        return await self.transport.request(
            "GET",
            f"{self.base}{prefix}{path}",
            endpoint=f"GET {'/vehicles/{id}' if vehicle_id else ''}{path}",
            vehicle_id=vehicle_id,
            headers=self._headers(auth, units=True),
            params=params,
        )

    async def user(self, auth: Auth) -> User:
        reply = await self.get(auth, "/user", vehicle_id=None)
        return parse_user(reply.body, reply.meta)

    async def vehicles(self, auth: Auth, *, limit: int = 10, offset: int = 0) -> VehiclePage:
        params = {"limit": str(limit), "offset": str(offset)}
        reply = await self.get(auth, "/vehicles", vehicle_id=None, params=params)
        return parse_vehicles(reply.body, reply.meta)

    async def permissions(self, auth: Auth, vehicle_id: str) -> Permissions:
        reply = await self.get(auth, "/permissions", vehicle_id=vehicle_id)
        return parse_permissions(reply.body, reply.meta)

    async def read(self, auth: Auth, vehicle_id: str, path: str) -> BatchValue:
        reply = await self.get(auth, "" if path == "/" else path, vehicle_id=vehicle_id)
        return PARSERS[path](reply.body, reply.meta)

    async def post(
        self, auth: Auth, vehicle_id: str, path: str, body: Any, *, kind: Kind = "command"
    ) -> Reply:
        return await self.transport.request(
            "POST",
            f"{self.base}/vehicles/{vehicle_id}{path}",
            endpoint=f"POST /vehicles/{{id}}{path}",
            kind=kind,
            vehicle_id=vehicle_id,
            headers=self._headers(auth, units=kind == "read"),
            json_body=body,
        )

    async def charge(self, auth: Auth, vehicle_id: str, action: str) -> CommandResult:
        reply = await self.post(auth, vehicle_id, "/charge", {"action": action})
        return parse_command(reply.body, reply.meta)

    async def set_charge_limit(self, auth: Auth, vehicle_id: str, limit: float) -> CommandResult:
        reply = await self.post(auth, vehicle_id, "/charge/limit", {"limit": limit})
        return parse_command(reply.body, reply.meta)

    async def batch(self, auth: Auth, vehicle_id: str, paths: Sequence[str]) -> BatchResult:
        unknown = [p for p in paths if p not in PARSERS]
        if unknown or not paths:
            raise ValueError(f"batch paths must be some of {sorted(PARSERS)}: {unknown}")
        reply = await self.transport.request(
            "POST",
            f"{self.base}/vehicles/{vehicle_id}/batch",
            endpoint="POST /vehicles/{id}/batch",
            vehicle_id=vehicle_id,
            headers=self._headers(auth, units=True),
            json_body={"requests": [{"path": p} for p in paths]},
            cost=len(paths),  # each path counts against the limits and the bill
        )
        return parse_batch(reply.body, reply.meta, self.transport.clock())

    async def snapshot(self, auth: Auth, vehicle_id: str) -> VehicleSnapshot:
        result = await self.batch(auth, vehicle_id, ["/battery", "/charge"])
        battery, charge = result.item("/battery"), result.item("/charge")
        errors = {
            name: item.error
            for name, item in (("battery", battery), ("charge", charge))
            if item.error is not None
        }
        return VehicleSnapshot(
            battery=battery.value if isinstance(battery.value, Battery) else None,
            charge=charge.value if isinstance(charge.value, ChargeStatus) else None,
            errors=errors,
        )

    async def disconnect(self, auth: Auth, vehicle_id: str) -> None:
        await self.transport.request(
            "DELETE",
            f"{self.base}/vehicles/{vehicle_id}/application",
            endpoint="DELETE /vehicles/{id}/application",
            kind="command",
            vehicle_id=vehicle_id,
            headers=self._headers(auth, units=False),
        )
