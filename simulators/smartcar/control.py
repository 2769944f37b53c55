"""The control API under ``/_sim/`` (no real Smartcar path starts with an underscore).

JSON in and out; errors are ``{"error": {"code", "message", "field"?}}``.

    GET    /_sim/                              summary
    POST   /_sim/users                         {"email"?, "id"?}
    GET    /_sim/users, /_sim/users/{id}
    POST   /_sim/users/{id}/tokens             {"vehicle_ids"?, "scopes"?}: tokens, no Connect
    POST   /_sim/vehicles                      see ``create_vehicle``
    GET    /_sim/vehicles, /_sim/vehicles/{id}
    PATCH  /_sim/vehicles/{id}                 state: plugged_in, charge_state, soc,
                                               wants_charge (STOP clears it, START sets it), ...
    POST   /_sim/vehicles/{id}/energy          {"wh", "duration_s"?}: a charger's energy
    POST   /_sim/vehicles/{id}/events          trigger a webhook event
    PUT    /_sim/vehicles/{id}/subscription    subscribe to the webhook (DELETE: leave)
    POST   /_sim/faults                        {"type", "code", "vehicle_id"?, "endpoint"?,
                                                "count"? (default 1; null = until deleted)}
    GET    /_sim/faults; DELETE /_sim/faults[/{id}]
    POST   /_sim/rate-limits                   {"scope": "app"|"vehicle", "vehicle_id"?,
                                                "seconds"}; DELETE clears every limit
    GET    /_sim/webhook; PATCH /_sim/webhook {"url"} (re-VERIFY); POST /_sim/webhook/verify
    GET    /_sim/webhook/deliveries
    GET    /_sim/connections; GET|DELETE /_sim/requests (log of Smartcar API calls)
"""

from __future__ import annotations

from aiohttp import web

from simulators.smartcar import control_vehicles as cv
from simulators.smartcar.config import PERMISSIONS
from simulators.smartcar.control_io import ControlError, bad, number, read_body, sim_of
from simulators.smartcar.limits import Fault

P = "/_sim"


# -- summary, users, tokens ------------------------------------------------------------
async def summary(request: web.Request) -> web.StreamResponse:
    sim = sim_of(request)
    return web.json_response(
        {
            "client_id": sim.config.client_id,
            "redirect_uris": sim.config.redirect_uris,
            "users": len(sim.users),
            "vehicles": len(sim.vehicles),
            "connections": len(sim.connections),
            "webhook": sim.webhook.to_json(),
        }
    )


async def create_user(request: web.Request) -> web.StreamResponse:
    body = await read_body(request)
    try:
        user = sim_of(request).create_user(email=body.get("email"), user_id=body.get("id"))
    except ValueError as exc:
        raise ControlError(409, "conflict", str(exc)) from None
    return web.json_response(user.to_json([]), status=201)


async def list_users(request: web.Request) -> web.StreamResponse:
    sim = sim_of(request)
    users = [u.to_json([v.id for v in sim.vehicles_of(u.id)]) for u in sim.users.values()]
    return web.json_response({"items": users})


async def get_user(request: web.Request) -> web.StreamResponse:
    sim = sim_of(request)
    user = sim.users.get(request.match_info["user_id"])
    if user is None:
        raise ControlError(404, "not_found", "no such user")
    return web.json_response(user.to_json([v.id for v in sim.vehicles_of(user.id)]))


async def mint_tokens(request: web.Request) -> web.StreamResponse:
    """Tokens for a user's vehicles without going through Connect."""
    sim = sim_of(request)
    body = await read_body(request)
    try:
        grant = sim.mint_grant(
            request.match_info["user_id"], body.get("vehicle_ids"), body.get("scopes")
        )
    except ValueError as exc:
        raise bad("body", str(exc)) from None
    pair = sim.tokens.issue_pair(grant)
    sim.connect(grant)
    return web.json_response({**pair.to_json(), "user_id": grant.user_id}, status=201)


# -- faults and limits -------------------------------------------------------------------
async def add_fault(request: web.Request) -> web.StreamResponse:
    sim = sim_of(request)
    body = await read_body(request)
    count = body.get("count", 1)
    if count is not None and (type(count) is not int or count < 1):
        raise bad("count", "count must be a positive integer or null (until deleted)")
    vehicle_id = body.get("vehicle_id")
    if vehicle_id is not None and vehicle_id not in sim.vehicles:
        raise ControlError(404, "not_found", "no such vehicle", "vehicle_id")
    try:
        fault = Fault(
            str(body.get("type")), body.get("code"), vehicle_id, body.get("endpoint"), count
        )
        sim.faults.add(fault)
    except ValueError as exc:
        raise bad("code", str(exc)) from None
    return web.json_response(fault.to_json(), status=201)


async def list_faults(request: web.Request) -> web.StreamResponse:
    return web.json_response({"items": [f.to_json() for f in sim_of(request).faults.items]})


async def delete_faults(request: web.Request) -> web.StreamResponse:
    sim = sim_of(request)
    fault_id = request.match_info.get("fault_id")
    if fault_id is None:
        sim.faults.items.clear()
    elif not sim.faults.remove(fault_id):
        raise ControlError(404, "not_found", "no such fault")
    return web.Response(status=204)


async def rate_limit(request: web.Request) -> web.StreamResponse:
    sim = sim_of(request)
    body = await read_body(request)
    seconds = number(body, "seconds", 1, 1e7) or 60.0
    if body.get("scope") == "app":
        sim.limits.block_app(seconds)
    elif body.get("scope") == "vehicle":
        if body.get("vehicle_id") not in sim.vehicles:
            raise ControlError(404, "not_found", "no such vehicle", "vehicle_id")
        sim.limits.block_vehicle(str(body["vehicle_id"]), seconds)
    else:
        raise bad("scope", "scope must be app or vehicle")
    return web.json_response({"scope": body["scope"], "seconds": seconds}, status=201)


async def clear_rate_limits(request: web.Request) -> web.StreamResponse:
    sim_of(request).limits.clear()
    return web.Response(status=204)


# -- webhook, connections, request log --------------------------------------------------
async def get_webhook(request: web.Request) -> web.StreamResponse:
    return web.json_response(sim_of(request).webhook.to_json())


async def patch_webhook(request: web.Request) -> web.StreamResponse:
    """A new callback URL is verified again (Smartcar sends VERIFY on a URL change)."""
    webhook = sim_of(request).webhook
    body = await read_body(request)
    url = body.get("url")
    if url is not None and not isinstance(url, str):
        raise bad("url", "url must be a string or null")
    webhook.url, webhook.verified = url, False
    result = await webhook.verify() if url else {"verified": False}
    return web.json_response({**webhook.to_json(), "verify": result})


async def verify_webhook(request: web.Request) -> web.StreamResponse:
    return web.json_response(await sim_of(request).webhook.verify())


async def deliveries(request: web.Request) -> web.StreamResponse:
    items = [d.to_json() for d in sim_of(request).webhook.deliveries]
    return web.json_response({"items": items})


async def connections(request: web.Request) -> web.StreamResponse:
    items = [
        {
            "user_id": c.user_id,
            "vehicle_id": c.vehicle_id,
            "connected_at": c.connected_at.isoformat(),
            "mode": c.mode,
            "scopes": sorted(c.scopes),
        }
        for c in sim_of(request).connections.values()
    ]
    return web.json_response({"items": items, "permissions": list(PERMISSIONS)})


async def requests_log(request: web.Request) -> web.StreamResponse:
    log = sim_of(request).requests
    if request.method == "DELETE":
        log.clear()
        return web.Response(status=204)
    return web.json_response({"items": [r.to_json() for r in log]})


def routes() -> list[web.RouteDef]:
    v = P + "/vehicles/{vehicle_id}"
    return [
        web.get(P + "/", summary),
        web.get(P, summary),
        web.post(P + "/users", create_user),
        web.get(P + "/users", list_users),
        web.get(P + "/users/{user_id}", get_user),
        web.post(P + "/users/{user_id}/tokens", mint_tokens),
        web.post(P + "/vehicles", cv.create_vehicle),
        web.get(P + "/vehicles", cv.list_vehicles),
        web.get(v, cv.get_vehicle),
        web.patch(v, cv.patch_vehicle),
        web.post(v + "/energy", cv.energy),
        web.post(v + "/events", cv.trigger_event),
        web.put(v + "/subscription", cv.subscription),
        web.delete(v + "/subscription", cv.subscription),
        web.post(P + "/faults", add_fault),
        web.get(P + "/faults", list_faults),
        web.delete(P + "/faults", delete_faults),
        web.delete(P + "/faults/{fault_id}", delete_faults),
        web.post(P + "/rate-limits", rate_limit),
        web.delete(P + "/rate-limits", clear_rate_limits),
        web.get(P + "/webhook", get_webhook),
        web.patch(P + "/webhook", patch_webhook),
        web.post(P + "/webhook/verify", verify_webhook),
        web.get(P + "/webhook/deliveries", deliveries),
        web.get(P + "/connections", connections),
        web.get(P + "/requests", requests_log),
        web.delete(P + "/requests", requests_log),
    ]
