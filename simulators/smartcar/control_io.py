"""Request and error plumbing shared by the control API's modules."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from simulators.smartcar.keys import SIM
from simulators.smartcar.model import Vehicle
from simulators.smartcar.simulator import Simulator


class ControlError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.field = status, code, field

    def response(self) -> web.Response:
        err: dict[str, Any] = {"code": self.code, "message": str(self)}
        if self.field is not None:
            err["field"] = self.field
        return web.json_response({"error": err}, status=self.status)


def bad(field: str, message: str) -> ControlError:
    return ControlError(400, "invalid", message, field)


async def read_body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise bad("body", "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise bad("body", "the body must be a JSON object")
    return body


def number(body: dict[str, Any], key: str, low: float, high: float) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise bad(key, f"{key} must be a number within {low}..{high}")
    return float(value)


def boolean(body: dict[str, Any], key: str) -> bool | None:
    value = body.get(key)
    if value is not None and not isinstance(value, bool):
        raise bad(key, f"{key} must be true or false")
    return value


def sim_of(request: web.Request) -> Simulator:
    return request.app[SIM]


def vehicle_of(request: web.Request) -> Vehicle:
    vehicle = sim_of(request).vehicles.get(request.match_info["vehicle_id"])
    if vehicle is None:
        raise ControlError(404, "not_found", "no such vehicle")
    return vehicle


def location(body: dict[str, Any]) -> dict[str, Any]:
    """Accepts ``{"location": {"latitude", "longitude"}}`` or the two fields flat."""
    loc = body.get("location")
    flat = {k: body[k] for k in ("latitude", "longitude") if k in body}
    if loc is not None and not isinstance(loc, dict):
        raise bad("location", "location must be an object with latitude and longitude")
    merged = {**flat, **(loc or {})}
    out: dict[str, Any] = {}
    for key, bound in (("latitude", 90.0), ("longitude", 180.0)):
        value = number(merged, key, -bound, bound)
        if value is not None:
            out[key] = value
    return out
