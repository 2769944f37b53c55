"""Token endpoints.

* ``POST /oauth/token`` (real host ``auth.smartcar.com``): HTTP Basic client auth, form
  body, ``authorization_code`` and ``refresh_token`` grants, per-user tokens.
* ``POST /oauth2/token`` (real host ``iam.smartcar.com``): v3 app-level
  ``client_credentials`` tokens, credentials in the body, no refresh token.

Errors are OAuth-style ``{"error", "error_description"}`` bodies.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Mapping

from aiohttp import web

from simulators.smartcar.config import APP_TOKEN_TTL_S
from simulators.smartcar.keys import SIM
from simulators.smartcar.simulator import Simulator
from simulators.smartcar.tokens import OAuthError, TokenPair

FORM = "application/x-www-form-urlencoded"
# The docs say the token endpoint requires a valid User-Agent; what it answers without
# one is UNCONFIRMED. We refuse a missing or empty one with invalid_request.
REQUIRE_USER_AGENT = True


def _error(exc: OAuthError) -> web.Response:
    headers = {"WWW-Authenticate": 'Basic realm="smartcar"'} if exc.status == 401 else {}
    return web.json_response(exc.body(), status=exc.status, headers=headers)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _basic(sim: Simulator, request: web.Request) -> None:
    invalid = OAuthError(401, "invalid_client", "Invalid client credentials.")
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        raise invalid
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise invalid from None
    client_id, _, secret = decoded.partition(":")
    if not (_same(client_id, sim.config.client_id) and _same(secret, sim.config.client_secret)):
        raise invalid


async def _form(request: web.Request, *, allow_json: bool = False) -> Mapping[str, str]:
    if request.content_type == FORM:
        return {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    if allow_json and request.content_type == "application/json":
        try:
            body = json.loads(await request.read())
        except ValueError:
            body = None
        if isinstance(body, dict):
            return {k: str(v) for k, v in body.items()}
    raise OAuthError(400, "invalid_request", f"The body must be {FORM}.")


def _required(form: Mapping[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise OAuthError(400, "invalid_request", f"Missing required parameter: {name}.")
    return value


def _user_agent(request: web.Request) -> None:
    if REQUIRE_USER_AGENT and not request.headers.get("User-Agent", "").strip():
        raise OAuthError(400, "invalid_request", "A valid User-Agent header is required.")


def _grant(sim: Simulator, form: Mapping[str, str]) -> TokenPair:
    grant_type = _required(form, "grant_type")
    if grant_type == "authorization_code":
        grant, pair = sim.tokens.exchange_code(_required(form, "code"), form.get("redirect_uri"))
        sim.connect(grant)
        return pair
    if grant_type == "refresh_token":
        return sim.tokens.use_refresh(_required(form, "refresh_token"))
    raise OAuthError(400, "unsupported_grant_type", f"Unsupported grant: {grant_type}.")


async def token(request: web.Request) -> web.StreamResponse:
    sim = request.app[SIM]
    try:
        _user_agent(request)
        _basic(sim, request)
        pair = _grant(sim, await _form(request))
    except OAuthError as exc:
        return _error(exc)
    return web.json_response(pair.to_json(), headers={"Cache-Control": "no-store"})


def _client_credentials(sim: Simulator, form: Mapping[str, str]) -> None:
    if _required(form, "grant_type") != "client_credentials":
        raise OAuthError(400, "invalid_request", "grant_type must be client_credentials.")
    client_id = _required(form, "client_id")
    secret = _required(form, "client_secret")
    if not (_same(client_id, sim.config.client_id) and _same(secret, sim.config.client_secret)):
        raise OAuthError(401, "invalid_client", "Invalid client credentials.")


async def app_token(request: web.Request) -> web.StreamResponse:
    sim = request.app[SIM]
    try:
        _client_credentials(sim, await _form(request, allow_json=True))
    except OAuthError as exc:
        return web.json_response(exc.body(), status=exc.status)
    body = {
        "access_token": sim.tokens.issue_app_token(),
        "token_type": "Bearer",
        "expires_in": APP_TOKEN_TTL_S,
    }
    return web.json_response(body, headers={"Cache-Control": "no-store"})


def routes() -> list[web.RouteDef]:
    return [web.post("/oauth/token", token), web.post("/oauth2/token", app_token)]
