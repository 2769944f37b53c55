"""The admin API application: route table, middlewares and app state.

Middlewares, outermost first: request id (bound into the log context and echoed as
``X-Request-Id``), metrics, errors (every failure becomes the JSON error body), bearer
token (everything under ``/api/`` except routes marked public).
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from csms.admin import (
    openapi,
    routes_accounts,
    routes_bills,
    routes_charge_point_logs,
    routes_charge_points,
    routes_charging_profiles,
    routes_commands,
    routes_health,
    routes_id_tokens,
    routes_invoices,
    routes_local_list,
    routes_plug_attempts,
    routes_reservations,
    routes_sessions,
    routes_tariffs,
    routes_vehicles,
)
from csms.admin.auth import check_bearer
from csms.admin.deps import DEPS, AdminDeps
from csms.admin.http import csms_error_response, error_body, json_response
from csms.admin.metrics import METRICS, HttpMetrics
from csms.admin.routing import Route
from csms.errors import CsmsError
from csms.logs import get_logger

__all__ = ["ROUTE_TABLE", "create_app"]

log = get_logger(__name__)

ROUTE_TABLE: tuple[Route, ...] = (
    *routes_health.ROUTES,
    *openapi.ROUTES,
    *routes_charge_points.ROUTES,
    *routes_charge_point_logs.ROUTES,
    *routes_commands.ROUTES,
    *routes_id_tokens.ROUTES,
    *routes_accounts.ROUTES,
    *routes_sessions.ROUTES,
    *routes_reservations.ROUTES,
    *routes_local_list.ROUTES,
    *routes_charging_profiles.ROUTES,
    *routes_vehicles.ROUTES,
    *routes_tariffs.ROUTES,
    *routes_invoices.ROUTES,
    *routes_bills.ROUTES,
    *routes_plug_attempts.ROUTES,
)

PUBLIC = web.AppKey[frozenset[tuple[str, str]]]("csms_admin_public_routes")

MAX_BODY_BYTES = 1024 * 1024
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def _route_template(request: web.Request) -> str | None:
    resource = request.match_info.route.resource
    return None if resource is None else resource.canonical


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    given = request.headers.get("X-Request-Id", "")
    request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    with structlog.contextvars.bound_contextvars(request_id=request_id):
        response = await handler(request)
    if not response.prepared:
        response.headers["X-Request-Id"] = request_id
    return response


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    response = await handler(request)
    request.app[METRICS].observe(
        request.method,
        _route_template(request) or "unmatched",
        response.status,
        time.perf_counter() - started,
    )
    return response


def _http_error(exc: web.HTTPException, request: web.Request) -> web.Response:
    code = _HTTP_CODES.get(exc.status, f"http_{exc.status}")
    if exc.status == 404:
        message = f"no such resource: {request.path}"
    elif exc.status == 405:
        message = f"{request.method} is not allowed on {request.path}"
    else:
        message = exc.reason
    headers = {
        name: value
        for name, value in exc.headers.items()
        if name.lower() in {"allow", "retry-after"}
    }
    return json_response(error_body(code, message), status=exc.status, headers=headers)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except CsmsError as exc:
        if exc.http_status >= 500 and exc.http_status not in {502, 504}:
            log.exception(
                "admin_request_failed",
                method=request.method,
                path=request.path,
                code=exc.code,
                error=exc.message,
            )
        return csms_error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _http_error(exc, request)
    except Exception:
        log.exception("admin_request_crashed", method=request.method, path=request.path)
        return json_response(
            error_body("internal_error", "internal server error; see the server log"),
            status=500,
        )


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/api/"):
        route = (request.method, _route_template(request))
        if route not in request.app[PUBLIC]:
            check_bearer(request, request.app[DEPS].token_sha256)
    return await handler(request)


def create_app(deps: AdminDeps) -> web.Application:
    """The admin API: ``/api/v1/...`` (bearer token) plus ``/healthz``, ``/readyz``,
    ``/metrics`` and ``/api/v1/openapi.json`` (no token)."""
    app = web.Application(
        middlewares=[request_id_middleware, metrics_middleware, errors_middleware, auth_middleware],
        client_max_size=MAX_BODY_BYTES,
    )
    app[DEPS] = deps
    app[METRICS] = HttpMetrics()
    app[openapi.OPENAPI] = openapi.build_document(ROUTE_TABLE)
    app[PUBLIC] = frozenset((r.method, r.path) for r in ROUTE_TABLE if r.public)
    for route in ROUTE_TABLE:
        app.router.add_route(route.method, route.path, route.handler, name=route.handler.__name__)
    return app
