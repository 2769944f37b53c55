"""Keys under which the aiohttp application and its requests keep the simulator's state."""

from __future__ import annotations

from aiohttp import web

from simulators.smartcar.simulator import Simulator

SIM = web.AppKey("smartcar_simulator", Simulator)
REQUEST_ID = web.RequestKey("smartcar_request_id", str)


def request_id(request: web.Request) -> str:
    """The request's SC-Request-Id (set by the app's middleware)."""
    return str(request.get(REQUEST_ID, ""))
