"""The aiohttp application: every simulated Smartcar host on one origin, plus ``/_sim/``."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from simulators.smartcar import connect, control, management, oauth, v2, v3
from simulators.smartcar.access import version_error
from simulators.smartcar.config import SimConfig
from simulators.smartcar.control_io import ControlError
from simulators.smartcar.errors import SmartcarError
from simulators.smartcar.keys import REQUEST_ID, SIM, request_id
from simulators.smartcar.simulator import LoggedRequest, Simulator

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_VERSIONED = re.compile(r"^/v([^/]*)(?:/|$)")


def _render(request: web.Request, exc: SmartcarError) -> web.Response:
    v3 = request.path.startswith("/v3/")
    body = exc.v3_body() if v3 else exc.v2_body(request_id(request))
    return web.json_response(body, status=exc.status, headers=exc.response_headers())


def _not_found(request: web.Request) -> SmartcarError:
    match = _VERSIONED.match(request.path)
    if match is not None and match[1] != "3":
        error = version_error(match[1])
        if error is not None:
            return error
    return SmartcarError("RESOURCE_NOT_FOUND", "PATH")


def _log(request: web.Request, status: int) -> None:
    if request.path.startswith("/_sim"):
        return
    sim = request.app[SIM]
    vehicle_id = request.match_info.get("vehicle_id")
    sim.requests.append(
        LoggedRequest(sim.clock(), request.method, request.path, status, vehicle_id)
    )


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    request[REQUEST_ID] = str(uuid.uuid4())
    try:
        response = await handler(request)
    except SmartcarError as exc:
        response = _render(request, exc)
    except ControlError as exc:
        response = exc.response()
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:
        if request.path.startswith("/_sim"):
            code = "not_found" if exc.status == 404 else "method_not_allowed"
            response = ControlError(exc.status, code, exc.reason).response()
        elif request.path.startswith(("/oauth", "/oauth2")):
            raise
        else:
            response = _render(request, _not_found(request))
    except web.HTTPException as exc:
        _log(request, exc.status)
        raise
    _log(request, response.status)
    return response


async def _stamp_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """Every response carries SC-Request-Id (also streamed and redirect responses)."""
    if REQUEST_ID in request:
        response.headers["SC-Request-Id"] = request[REQUEST_ID]


async def _webhook_session(app: web.Application) -> AsyncIterator[None]:
    webhook = app[SIM].webhook
    await webhook.start()
    yield
    await webhook.close()


def create_app(config: SimConfig) -> web.Application:
    """One application serving Connect, auth, iam, the v2.0 and v3 Vehicle APIs, the
    v2.0 Management API and the control API; its :class:`Simulator` is ``app[SIM]``."""
    app = web.Application(middlewares=[errors])
    app[SIM] = Simulator(config)
    for module in (connect, oauth, v2, management, v3, control):
        app.add_routes(module.routes())
    app.on_response_prepare.append(_stamp_request_id)
    app.cleanup_ctx.append(_webhook_session)
    return app
