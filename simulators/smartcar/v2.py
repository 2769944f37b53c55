"""HTTP side of the v2.0 Vehicle API (real host ``api.smartcar.com``): user, vehicle list,
the per-vehicle endpoints, batch, permissions, disconnect and webhook subscriptions."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from simulators.smartcar.access import (
    Caller,
    admit,
    bearer,
    check_version,
    iso_ms,
    user_grant,
    vehicle_for,
)
from simulators.smartcar.errors import SmartcarError, validation
from simulators.smartcar.keys import SIM, request_id
from simulators.smartcar.model import Vehicle
from simulators.smartcar.simulator import Simulator
from simulators.smartcar.v2_endpoints import ENDPOINTS, Call, Endpoint

PREFIX = r"/v{version:\d+\.\d+}"
VEHICLE = PREFIX + "/vehicles/{vehicle_id}"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _imperial(request: web.Request) -> bool:
    unit = request.headers.get("SC-Unit-System", "metric").lower()
    if unit not in ("metric", "imperial"):
        raise validation("SC-Unit-System", '"SC-Unit-System" must be one of [metric, imperial]')
    return unit == "imperial"


async def json_body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise validation("body", "The request body is not valid JSON.") from None


def paging(request: web.Request, default_limit: int) -> tuple[int, int]:
    values = []
    for name, default, low in (("limit", default_limit, 1), ("offset", 0, 0)):
        raw = request.query.get(name, str(default))
        if not raw.isdigit() or int(raw) < low:
            raise validation(name, f'"{name}" must be an integer >= {low}')
        values.append(int(raw))
    return values[0], values[1]


def _headers(sim: Simulator, vehicle: Vehicle, ep: Endpoint, imperial: bool) -> dict[str, str]:
    headers: dict[str, str] = {}
    if ep.data_age:
        headers["SC-Data-Age"] = iso_ms(vehicle.updated_at)
        headers["SC-Fetched-At"] = iso_ms(sim.clock())
    if ep.units:
        headers["SC-Unit-System"] = "imperial" if imperial else "metric"
    return headers


def _caller(sim: Simulator, request: web.Request) -> Caller:
    check_version(request)
    caller = Caller.of(user_grant(sim, request))
    sim.limits.check_app()
    return caller


def _origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def vehicle_handler(ep: Endpoint) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        sim = request.app[SIM]
        caller = _caller(sim, request)
        vehicle = vehicle_for(sim, caller, request.match_info["vehicle_id"])
        imperial = _imperial(request)
        body = await json_body(request) if ep.method == "POST" else None
        admit(
            sim,
            request,
            caller,
            vehicle,
            method=ep.method,
            path=ep.path,
            permission=ep.permission,
            static=ep.static,
        )
        result = await ep.run(Call(sim, vehicle, imperial, body, _origin(request)))
        return web.json_response(result, headers=_headers(sim, vehicle, ep, imperial))

    return handler


async def _batch_item(
    sim: Simulator,
    request: web.Request,
    caller: Caller,
    vehicle: Vehicle,
    imperial: bool,
    path: str,
) -> dict[str, Any]:
    ep = ENDPOINTS.get(("GET", "/" + path.strip("/")))
    if ep is None:
        raise SmartcarError("RESOURCE_NOT_FOUND", "PATH")
    admit(
        sim,
        request,
        caller,
        vehicle,
        method="GET",
        path=ep.path,
        permission=ep.permission,
        static=ep.static,
        count_vehicle=False,
    )
    result = await ep.run(Call(sim, vehicle, imperial, None, _origin(request)))
    headers = {k.lower(): v for k, v in _headers(sim, vehicle, ep, imperial).items()}
    # Whether items carry sc-fetched-at is UNCONFIRMED; the documented example has only
    # sc-data-age and sc-unit-system, so we leave it out.
    headers.pop("sc-fetched-at", None)
    return {"path": path, "code": 200, "headers": headers, "body": result}


async def batch(request: web.Request) -> web.StreamResponse:
    """Each item gets its own code, body and (on success) lower-case headers; the batch
    itself is one call to the car for the per-vehicle limit, and each path is billed."""
    sim = request.app[SIM]
    caller = _caller(sim, request)
    vehicle = vehicle_for(sim, caller, request.match_info["vehicle_id"])
    imperial = _imperial(request)
    body = await json_body(request)
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not all(
        isinstance(item, dict) and isinstance(item.get("path"), str) for item in requests
    ):
        message = '"requests" is required' if requests is None else '"requests" is invalid'
        raise validation("requests", message)
    sim.limits.check_vehicle(vehicle.id)
    rid = request_id(request)
    responses = []
    for item in requests:
        try:
            responses.append(
                await _batch_item(sim, request, caller, vehicle, imperial, item["path"])
            )
        except SmartcarError as exc:
            responses.append({"path": item["path"], "code": exc.status, "body": exc.v2_body(rid)})
    return web.json_response({"responses": responses})


async def user(request: web.Request) -> web.StreamResponse:
    sim = request.app[SIM]
    caller = _caller(sim, request)
    return web.json_response({"id": caller.user_id})


async def vehicles(request: web.Request) -> web.StreamResponse:
    sim = request.app[SIM]
    caller = _caller(sim, request)
    limit, offset = paging(request, 10)  # the maximum limit is UNCONFIRMED: none here
    ids = [v for v in caller.vehicle_ids if v in sim.vehicles]
    page = ids[offset : offset + limit]
    return web.json_response({"vehicles": page, "paging": {"count": len(ids), "offset": offset}})


async def permissions(request: web.Request) -> web.StreamResponse:
    sim = request.app[SIM]
    caller = _caller(sim, request)
    vehicle = vehicle_for(sim, caller, request.match_info["vehicle_id"])
    admit(
        sim,
        request,
        caller,
        vehicle,
        method="GET",
        path="/permissions",
        permission=None,
        static=True,
    )
    limit, offset = paging(request, 25)
    granted = sorted(caller.scopes)
    return web.json_response(
        {
            "permissions": granted[offset : offset + limit],
            "paging": {"count": len(granted), "offset": offset},
        }
    )


async def disconnect(request: web.Request) -> web.StreamResponse:
    sim = request.app[SIM]
    caller = _caller(sim, request)
    vehicle = vehicle_for(sim, caller, request.match_info["vehicle_id"])
    sim.disconnect(vehicle.id, caller.user_id)
    sim.tokens.revoke_vehicle(vehicle.id, caller.user_id)
    return web.json_response({"status": "success"})


def _webhook_id(sim: Simulator, request: web.Request) -> None:
    if request.match_info["webhook_id"] != sim.webhook.id:
        raise SmartcarError("VALIDATION", description="Unknown webhook id.")


async def subscribe(request: web.Request) -> web.StreamResponse:
    sim = request.app[SIM]
    caller = _caller(sim, request)
    vehicle = vehicle_for(sim, caller, request.match_info["vehicle_id"])
    _webhook_id(sim, request)
    sim.subscribe(vehicle.id)
    return web.json_response({"webhookId": sim.webhook.id, "vehicleId": vehicle.id})


async def unsubscribe(request: web.Request) -> web.StreamResponse:
    """Authorised by ``Bearer <AMT>``, not by the vehicle's token."""
    sim = request.app[SIM]
    check_version(request)
    if bearer(request) != sim.config.application_management_token:
        raise SmartcarError("AUTHENTICATION")
    _webhook_id(sim, request)
    sim.webhook.subscribed.discard(request.match_info["vehicle_id"])
    return web.json_response({"status": "success"})


def routes() -> list[web.RouteDef]:
    table = [
        web.get(PREFIX + "/user", user),
        web.get(PREFIX + "/vehicles", vehicles),
        web.get(VEHICLE + "/permissions", permissions),
        web.delete(VEHICLE + "/application", disconnect),
        web.post(VEHICLE + "/batch", batch),
        web.post(VEHICLE + "/webhooks/{webhook_id}", subscribe),
        web.delete(VEHICLE + "/webhooks/{webhook_id}", unsubscribe),
    ]
    for (method, path), ep in ENDPOINTS.items():
        handler = vehicle_handler(ep)
        paths = [VEHICLE, VEHICLE + "/"] if path == "/" else [VEHICLE + path]
        table.extend(web.route(method, p, handler) for p in paths)
    return table
