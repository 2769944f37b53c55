"""Liveness, readiness and metrics: served without the token, beside the API."""

from __future__ import annotations

import asyncio

from aiohttp import web

from csms import store
from csms.admin.deps import deps_of
from csms.admin.http import json_response
from csms.admin.metrics import CONTENT_TYPE, METRICS, exposition
from csms.admin.routing import Route
from csms.logs import get_logger

__all__ = ["ROUTES"]

log = get_logger(__name__)

READY_TIMEOUT_S = 2.0


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    pool = deps_of(request).pool
    try:
        async with asyncio.timeout(READY_TIMEOUT_S), pool.acquire() as conn:
            ready = await store.ping(conn)
    except Exception as exc:  # any failure to reach the database means "not ready"
        log.warning("not_ready", error=repr(exc))
        ready = False
    if ready:
        return json_response({"status": "ready", "database": "ok"})
    return json_response({"status": "unavailable", "database": "unreachable"}, status=503)


async def metrics(request: web.Request) -> web.Response:
    deps = deps_of(request)
    text = exposition(request.app[METRICS], connected_charge_points=len(deps.connections))
    if deps.vehicles is not None:
        # Smartcar calls cost money: counted per vehicle and endpoint.
        text += deps.vehicles.metrics_text()
    return web.Response(body=text.encode(), headers={"Content-Type": CONTENT_TYPE})


ROUTES = [
    Route(
        "GET",
        "/healthz",
        healthz,
        "Liveness",
        'The process is alive: `{"status": "ok"}`.',
        public=True,
        tag="health",
    ),
    Route(
        "GET",
        "/readyz",
        readyz,
        "Readiness",
        "The database answers within 2 s (503 otherwise).",
        public=True,
        tag="health",
    ),
    Route(
        "GET",
        "/metrics",
        metrics,
        "Prometheus metrics",
        "Text exposition format 0.0.4.",
        public=True,
        tag="health",
        content_type="text/plain",
    ),
]
