"""Management API v2.0 (real host ``management.smartcar.com``): list and delete the
application's connections, authorised by HTTP Basic ``default:<AMT>``."""

from __future__ import annotations

import base64
import binascii
import hmac

from aiohttp import web

from simulators.smartcar.access import check_version, iso_ms
from simulators.smartcar.errors import SmartcarError, validation
from simulators.smartcar.keys import SIM
from simulators.smartcar.simulator import Connection, Simulator

PATH = r"/v{version:\d+\.\d+}/management/connections"


def _authorise(sim: Simulator, request: web.Request) -> None:
    check_version(request)
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    expected = f"default:{sim.config.application_management_token}".encode()
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error:
        given = b""
    if scheme.lower() != "basic" or not hmac.compare_digest(given, expected):
        raise SmartcarError("AUTHENTICATION")


def _matching(sim: Simulator, request: web.Request) -> list[Connection]:
    q = request.query
    mode = q.get("mode")
    if mode is not None and mode not in ("live", "simulated", "test"):
        raise validation("mode", '"mode" must be one of [live, simulated, test]')
    found = [
        c
        for c in sim.connections.values()
        if q.get("user_id") in (None, c.user_id)
        and q.get("vehicle_id") in (None, c.vehicle_id)
        and mode in (None, c.mode)
    ]
    return sorted(found, key=lambda c: c.connected_at, reverse=True)  # newest first


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if text.startswith("offset:"):
            return int(text.removeprefix("offset:"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise validation("cursor", '"cursor" is invalid')


async def list_connections(request: web.Request) -> web.StreamResponse:
    sim = request.app[SIM]
    _authorise(sim, request)
    raw = request.query.get("limit", "10")
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise validation("limit", '"limit" must be an integer from 1 to 100')
    limit, offset = int(raw), _offset(request.query.get("cursor"))
    found = _matching(sim, request)
    page = found[offset : offset + limit]
    nxt = _cursor(offset + limit) if offset + limit < len(found) else None
    items = [
        {
            "userId": c.user_id,
            "vehicleId": c.vehicle_id,
            "connectedAt": iso_ms(c.connected_at),
            "mode": c.mode,
        }
        for c in page
    ]
    return web.json_response({"connections": items, "paging": {"cursor": nxt}})


async def delete_connections(request: web.Request) -> web.StreamResponse:
    sim = request.app[SIM]
    _authorise(sim, request)
    if "user_id" not in request.query and "vehicle_id" not in request.query:
        raise validation("vehicle_id", 'one of "vehicle_id" or "user_id" is required')
    gone = []
    for c in _matching(sim, request):
        gone.extend(sim.disconnect(c.vehicle_id, c.user_id))
    return web.json_response(
        {"connections": [{"userId": c.user_id, "vehicleId": c.vehicle_id} for c in gone]}
    )


def routes() -> list[web.RouteDef]:
    return [web.get(PATH, list_connections), web.delete(PATH, delete_connections)]
