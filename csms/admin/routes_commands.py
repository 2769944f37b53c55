"""Commands from the operator to a charger: ``POST .../commands/{command}``."""

from __future__ import annotations

from aiohttp import web

from csms.admin.deps import deps_of
from csms.admin.http import json_response, parse_body
from csms.admin.routing import Param, Route
from csms.command_models import COMMAND_BODIES
from csms.errors import NotFound
from csms.store import charge_points as charge_point_store

__all__ = ["ROUTES", "UnknownCommand"]


class UnknownCommand(NotFound):
    code = "unknown_command"


async def run_command(request: web.Request) -> web.Response:
    charge_point_id = request.match_info["id"]
    command = request.match_info["command"]
    model = COMMAND_BODIES.get(command)
    if model is None:
        raise UnknownCommand(
            f"unknown command {command!r}; known: {', '.join(sorted(COMMAND_BODIES))}",
            field="command",
        )
    deps = deps_of(request)
    async with deps.pool.acquire() as conn:
        if not await charge_point_store.exists(conn, charge_point_id):
            raise NotFound(f"charge point {charge_point_id} not found")
    body = await parse_body(request, model)
    result = await deps.commands.execute(charge_point_id, command, body)
    return json_response(result)


_BODY_NAMES = ", ".join(f"{name}: {model.__name__}" for name, model in COMMAND_BODIES.items())

ROUTES = [
    Route(
        "POST",
        "/api/v1/charge-points/{id}/commands/{command}",
        run_command,
        "Send a command to a charger",
        "The charger's reply in snake_case (a Rejected status is still a 200). Errors: 409 "
        "not connected, 400 not supported by its protocol version, 502 CALLERROR (with "
        "ocpp_code and description), 504 no answer in time.",
        body=tuple(COMMAND_BODIES.values()),
        path_params=(
            Param("id", "Charge point identity."),
            Param(
                "command",
                f"The command and its body schema ({_BODY_NAMES}).",
                {"type": "string", "enum": sorted(COMMAND_BODIES)},
                required=True,
            ),
        ),
        tag="commands",
    ),
]
