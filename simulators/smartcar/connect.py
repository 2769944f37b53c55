"""Smartcar Connect (real host ``connect.smartcar.com``): ``/oauth/authorize`` and
``/oauth/reauthenticate``.

``mode=test`` consents at once (as Smartcar's test mode does); any other mode shows a
small consent form. The simulated "login" is chosen by ``sim_user`` (user id or email;
the simulator's own parameter), else the owner of ``single_select_vin``, else the first
user. ``sim_decision=deny`` scripts a refusal in test mode. Emails of the form
``<TYPE>.<CODE>@smartcar.com`` log in as a user whose car always fails with that error,
and ``smartcar@invalid-subscription.com`` / ``smartcar@vehicle-incompatible.com`` end in
those Connect errors, as Smartcar's test accounts do.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web
from yarl import URL

from simulators.smartcar.config import PERMISSIONS
from simulators.smartcar.keys import SIM
from simulators.smartcar.model import User, Vehicle
from simulators.smartcar.simulator import Simulator
from simulators.smartcar.tokens import Grant

MODES = ("live", "simulated", "test")
# Connect's answers to malformed parameters once client and redirect URI are known good
# are UNCONFIRMED; we redirect with the RFC 6749 codes (invalid_request, invalid_scope,
# unsupported_response_type).


class ConnectRefused(Exception):
    """The request cannot even redirect back (bad client_id or redirect_uri): 400 page."""


@dataclass
class AuthorizeRequest:
    redirect_uri: str
    redirect_uri_given: bool
    state: str | None
    scopes: frozenset[str]
    mode: str
    make: str | None
    single_select: bool
    single_select_vin: str | None
    params: Mapping[str, str]

    def redirect(self, **query: str) -> web.HTTPFound:
        if self.state is not None:
            query["state"] = self.state
        return web.HTTPFound(str(URL(self.redirect_uri).update_query(query)))

    def error(self, error: str, description: str, **extra: str) -> web.HTTPFound:
        return self.redirect(error=error, error_description=description, **extra)


def parse_authorize(sim: Simulator, params: Mapping[str, str]) -> AuthorizeRequest:
    """Validate the query; raises ConnectRefused or an error redirect (HTTPFound)."""
    config = sim.config
    if params.get("client_id") != config.client_id:
        raise ConnectRefused("Invalid client_id.")
    redirect_uri = params.get("redirect_uri") or config.redirect_uris[0]
    if redirect_uri not in config.redirect_uris:
        raise ConnectRefused("The redirect_uri is not registered for this application.")
    state = params.get("state")
    given = bool(params.get("redirect_uri"))
    base = AuthorizeRequest(
        redirect_uri, given, state, frozenset(), "live", None, False, None, params
    )
    if params.get("response_type") != "code":
        raise base.error("unsupported_response_type", "response_type must be code.")
    scopes = {s.removeprefix("required:") for s in params.get("scope", "").split()}
    if "scope" not in params:
        scopes = set(config.default_scopes)
    unknown = scopes - set(PERMISSIONS)
    if unknown or not scopes:
        raise base.error("invalid_scope", f"Invalid scope: {' '.join(sorted(unknown))}.")
    mode = params.get("mode", "live")
    approval = params.get("approval_prompt", "auto")
    single = params.get("single_select", "false").lower()
    if mode not in MODES or approval not in ("auto", "force") or single not in ("true", "false"):
        raise base.error("invalid_request", "Invalid mode, approval_prompt or single_select.")
    vin = params.get("single_select_vin") or None
    return AuthorizeRequest(
        redirect_uri,
        given,
        state,
        frozenset(scopes),
        mode,
        params.get("make") or None,
        single == "true" or vin is not None,
        vin.upper() if vin else None,
        params,
    )


def _login(sim: Simulator, req: AuthorizeRequest, key: str | None) -> User | None:
    if key:
        return sim.find_user(key)
    if req.single_select_vin:
        owner = next(
            (v.owner_id for v in sim.vehicles.values() if v.vin == req.single_select_vin), None
        )
        return sim.users.get(owner) if owner else None
    return next(iter(sim.users.values()), None)


def _selection(sim: Simulator, req: AuthorizeRequest, user: User) -> list[Vehicle]:
    chosen = sim.vehicles_of(user.id)
    if req.single_select_vin:
        # single_select_vin takes precedence over make.
        return [v for v in chosen if v.vin == req.single_select_vin]
    if req.make:
        chosen = [v for v in chosen if v.make == req.make.upper()]
    return chosen[:1] if req.single_select else chosen


def consent(sim: Simulator, req: AuthorizeRequest, login: str | None) -> web.HTTPFound:
    """Approve as ``login``: redirect with a one-time code, or with a Connect error."""
    if login and login.lower() == "smartcar@invalid-subscription.com":
        return req.error("invalid_subscription", "The vehicle's subscription is inactive.")
    if login and login.lower() == "smartcar@vehicle-incompatible.com":
        return req.error(
            "vehicle_incompatible",
            "The vehicle is not compatible with this application.",
            vin="0SCZZ000000000001",
            make="VOLKSWAGEN",
            model="Golf",
            year="2012",
        )
    user = _login(sim, req, login)
    if user is None and login:
        return req.error("access_denied", f"Unknown account: {login}.")
    vehicles = _selection(sim, req, user) if user else []
    if user is None or not vehicles:
        return req.error("no_vehicles", "No compatible vehicles were found in the account.")
    grant = Grant(user.id, [v.id for v in vehicles], req.scopes, mode=req.mode)
    code = sim.tokens.issue_code(grant, req.redirect_uri, given=req.redirect_uri_given)
    query = {"code": code}
    if sim.config.redirect_user_id:
        query["user_id"] = user.id
    return req.redirect(**query)


def _form(sim: Simulator, req: AuthorizeRequest) -> str:
    esc = html.escape
    hidden = "".join(
        f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">'
        for k, v in req.params.items()
        if k not in ("decision", "sim_user", "email")
    )
    options = "".join(
        f'<option value="{esc(u.id)}">{esc(u.email)}: '
        + esc(", ".join(f"{v.make} {v.model} {v.vin}" for v in sim.vehicles_of(u.id)) or "no cars")
        + "</option>"
        for u in sim.users.values()
    )
    scopes = "".join(f"<li>{esc(s)}</li>" for s in sorted(req.scopes))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Smartcar Connect (simulator)</title></head>
<body><h1>Connect your vehicle</h1>
<p>Application <b>{esc(sim.config.client_id)}</b> asks for:</p><ul>{scopes}</ul>
<form method="post" action="/oauth/authorize">{hidden}
<p><label>Account <select name="sim_user">{options}</select></label></p>
<p><label>or log in as (email) <input name="email" type="email"></label></p>
<button type="submit" name="decision" value="approve">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form></body></html>"""


def _refused(message: str) -> web.Response:
    return web.Response(status=400, text=f"Smartcar Connect: {message}", content_type="text/plain")


async def authorize(request: web.Request) -> web.StreamResponse:
    sim = request.app[SIM]
    params: Mapping[str, str] = request.query
    if request.method == "POST":
        params = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    try:
        req = parse_authorize(sim, params)
    except ConnectRefused as exc:
        return _refused(str(exc))
    if request.method == "GET" and req.mode != "test":
        return web.Response(text=_form(sim, req), content_type="text/html")
    decision = params.get("decision") or params.get("sim_decision") or "approve"
    if decision == "deny":
        raise req.error("access_denied", "User denied access to application.")
    raise consent(sim, req, params.get("email") or params.get("sim_user"))


async def reauthenticate(request: web.Request) -> web.StreamResponse:
    """Clears an injected AUTHENTICATION_FAILED for the vehicle. What the redirect back
    carries is UNCONFIRMED; we send ``vehicle_id`` and ``state``."""
    sim = request.app[SIM]
    q = request.query
    if q.get("client_id") != sim.config.client_id:
        return _refused("Invalid client_id.")
    redirect_uri = q.get("redirect_uri") or sim.config.redirect_uris[0]
    if redirect_uri not in sim.config.redirect_uris:
        return _refused("The redirect_uri is not registered for this application.")
    vehicle_id = q.get("vehicle_id", "")
    if q.get("response_type") != "vehicle_id" or vehicle_id not in sim.vehicles:
        return _refused("response_type must be vehicle_id and vehicle_id a connected vehicle.")
    for fault in list(sim.faults.items):
        if fault.vehicle_id == vehicle_id and fault.code == "AUTHENTICATION_FAILED":
            sim.faults.remove(fault.id)
    query = {"vehicle_id": vehicle_id, **({"state": q["state"]} if "state" in q else {})}
    raise web.HTTPFound(str(URL(redirect_uri).update_query(query)))


def routes() -> list[web.RouteDef]:
    return [
        web.get("/oauth/authorize", authorize),
        web.post("/oauth/authorize", authorize),
        web.get("/oauth/reauthenticate", reauthenticate),
    ]
