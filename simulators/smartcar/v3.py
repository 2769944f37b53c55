"""The v3 Vehicle API (real host ``vehicle.api.smartcar.com``): vehicle attributes,
signals and charge commands, with JSON:API shapes and the ``{"errors": [...]}`` envelope.

Callers use a Connect access token, or an app-level token from ``/oauth2/token`` plus the
``sc-user-id`` header naming the user whose connected vehicles they reach.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from aiohttp import web

from simulators.smartcar.access import Caller, admit, bearer, vehicle_for
from simulators.smartcar.errors import SmartcarError, validation
from simulators.smartcar.keys import SIM
from simulators.smartcar.model import Vehicle
from simulators.smartcar.signals import SIGNALS, epoch_ms, signal_resource
from simulators.smartcar.simulator import Simulator
from simulators.smartcar.v2 import json_body

VEHICLE = "/v3/vehicles/{vehicle_id}"


def caller_v3(sim: Simulator, request: web.Request) -> Caller:
    token = bearer(request)
    grant = sim.tokens.grant_for(token) if token else None
    if grant is not None:
        caller = Caller.of(grant)
    elif token and sim.tokens.is_app_token(token):
        user_id = request.headers.get("sc-user-id", "").strip()
        if not user_id:
            raise validation(
                "sc-user-id", "sc-user-id is required with an app token", "INVALID_INPUT_FORMAT"
            )
        connected = [c for c in sim.connections.values() if c.user_id == user_id]
        scopes = frozenset().union(*(c.scopes for c in connected))
        caller = Caller(user_id, [c.vehicle_id for c in connected], scopes)
    else:
        raise SmartcarError("AUTHENTICATION")
    sim.limits.check_app()
    return caller


def vehicle_resource(sim: Simulator, vehicle: Vehicle) -> dict[str, Any]:
    modes = [c.mode for c in sim.connections.values() if c.vehicle_id == vehicle.id]
    return {
        "id": vehicle.id,
        "type": "vehicle",
        "attributes": {
            "make": vehicle.make,
            "model": vehicle.model,
            "year": vehicle.year,
            "powertrainType": "BEV",
            "mode": (modes[0] if modes else "live").upper(),
        },
        "links": {"self": f"/vehicles/{vehicle.id}"},
    }


def _target(request: web.Request) -> tuple[Simulator, Caller, Vehicle]:
    sim = request.app[SIM]
    caller = caller_v3(sim, request)
    return sim, caller, vehicle_for(sim, caller, request.match_info["vehicle_id"])


async def get_vehicle(request: web.Request) -> web.StreamResponse:
    sim, caller, vehicle = _target(request)
    admit(
        sim,
        request,
        caller,
        vehicle,
        method="GET",
        path="/",
        permission="read_vehicle_info",
        static=True,
    )
    return web.json_response(vehicle_resource(sim, vehicle))


async def list_signals(request: web.Request) -> web.StreamResponse:
    """Every signal the grant's permissions cover (the others are left out)."""
    sim, caller, vehicle = _target(request)
    admit(
        sim, request, caller, vehicle, method="GET", path="/signals", permission=None, static=False
    )
    now = sim.clock()
    data = [
        signal_resource(vehicle, code, now)
        for code, signal in SIGNALS.items()
        if signal.permission in caller.scopes
    ]
    return web.json_response(
        {
            "data": data,
            "meta": {"page": 1, "pageSize": len(data), "totalCount": len(data)},
            "links": {"self": f"/vehicles/{vehicle.id}/signals"},
            "included": {"vehicle": vehicle_resource(sim, vehicle)},
        }
    )


async def get_signal(request: web.Request) -> web.StreamResponse:
    sim, caller, vehicle = _target(request)
    code = request.match_info["code"]
    signal = SIGNALS.get(code)
    if signal is None:
        raise SmartcarError("RESOURCE_NOT_FOUND", "PATH")
    admit(
        sim,
        request,
        caller,
        vehicle,
        method="GET",
        path=f"/signals/{code}",
        permission=signal.permission,
        static=signal.static,
    )
    return web.json_response(signal_resource(vehicle, code, sim.clock()))


def command_execution(
    vehicle: Vehicle, command: str, status: str, started: int, error: SmartcarError | None
) -> dict[str, Any]:
    """The command outcome. Its shape is UNCONFIRMED (reference 3.1, open question 11):
    a JSON:API "command-execution" resource with status SUCCESS, FAILURE or PENDING."""
    exec_id = str(uuid.uuid4())
    attributes: dict[str, Any] = {"command": command, "status": status, "startedAt": started}
    if error is not None:
        attributes["error"] = error.v3_item()
    return {
        "data": {
            "id": exec_id,
            "type": "command-execution",
            "attributes": attributes,
            "links": {"self": f"/vehicles/{vehicle.id}/commands/{exec_id}"},
        }
    }


def _percent(body: Any) -> float:
    attributes = body.get("data", {}).get("attributes", {}) if isinstance(body, dict) else {}
    percent = attributes.get("percent") if isinstance(attributes, dict) else None
    if type(percent) is not int or not 50 <= percent <= 100:
        raise validation(
            "data.attributes.percent",
            "percent must be an integer from 50 to 100",
            "INVALID_INPUT_FORMAT",
        )
    return percent / 100


def _apply(sim: Simulator, vehicle: Vehicle, action: str, limit: float | None) -> None:
    with sim.changing(vehicle):
        if action == "start":
            vehicle.start_charging()
        elif action == "stop":
            vehicle.stop_charging(idle_is_error=sim.config.stop_when_idle == "error")
        else:
            assert limit is not None
            vehicle.set_limit(limit)


async def command(request: web.Request) -> web.StreamResponse:
    """200 with the outcome when the car answers within ``v3_command_sync_s``; otherwise
    202 at once, the connection held open and the outcome streamed as the body."""
    sim, caller, vehicle = _target(request)
    action = request.match_info["action"]
    limit = _percent(await json_body(request)) if action == "set-limit" else None
    path = f"/commands/charge/{action}"
    admit(
        sim,
        request,
        caller,
        vehicle,
        method="POST",
        path=path,
        permission="control_charge",
        static=False,
    )
    started = epoch_ms(sim.clock())
    delay = sim.config.command_delay_s
    name = f"charge/{action}"
    if delay <= sim.config.v3_command_sync_s:
        if delay > 0:
            await asyncio.sleep(delay)
        _apply(sim, vehicle, action, limit)
        return web.json_response(command_execution(vehicle, name, "SUCCESS", started, None))
    response = web.StreamResponse(status=202, headers={"Content-Type": "application/json"})
    await response.prepare(request)
    await asyncio.sleep(delay)
    try:
        _apply(sim, vehicle, action, limit)
        outcome = command_execution(vehicle, name, "SUCCESS", started, None)
    except SmartcarError as exc:
        outcome = command_execution(vehicle, name, "FAILURE", started, exc)
    await response.write(json.dumps(outcome).encode())
    await response.write_eof()
    return response


def routes() -> list[web.RouteDef]:
    return [
        web.get(VEHICLE, get_vehicle),
        web.get(VEHICLE + "/signals", list_signals),
        web.get(VEHICLE + "/signals/{code}", get_signal),
        web.post(VEHICLE + "/commands/charge/{action:start|stop|set-limit}", command),
    ]
