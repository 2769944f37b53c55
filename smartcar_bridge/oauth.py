"""Smartcar Connect and the token endpoint: the Connect URL with an unguessable,
single-use, expiring ``state`` bound to an owner, the callback, code exchange and refresh.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import asyncpg

from smartcar_bridge import store
from smartcar_bridge.config import BridgeConfig
from smartcar_bridge.envelope import api_error, oauth_error
from smartcar_bridge.errors import (
    ConnectError,
    ResponseFormatError,
    SmartcarError,
    StateError,
)
from smartcar_bridge.models import TokenSet
from smartcar_bridge.transport import Transport

__all__ = [
    "REFRESH_TOKEN_LIFETIME",
    "ConnectStates",
    "OAuthClient",
    "connect_url",
    "parse_callback",
    "parse_token_response",
]

REFRESH_TOKEN_LIFETIME = timedelta(days=60)
"""Not in the token response; both SDKs assume 60 days from issue."""


def connect_url(
    config: BridgeConfig,
    state: str,
    *,
    scopes: Sequence[str] | None = None,
    approval_prompt: str = "auto",
    make: str | None = None,
    single_select: bool | None = None,
    single_select_vin: str | None = None,
    flags: Mapping[str, str] | None = None,
) -> str:
    """The URL to send the driver to (``GET {connect_url}/oauth/authorize``)."""
    params: dict[str, str] = {
        "response_type": "code",
        "client_id": config.client_id,
        "redirect_uri": config.redirect_uri,
        "scope": " ".join(config.scopes if scopes is None else scopes),
        "state": state,
        "approval_prompt": approval_prompt,
        "mode": config.connect_mode,
    }
    if make:
        params["make"] = make
    if single_select_vin:
        params["single_select_vin"] = single_select_vin
        params["single_select"] = "true"
    elif single_select is not None:
        params["single_select"] = "true" if single_select else "false"
    if flags:
        params["flags"] = " ".join(f"{key}:{value}" for key, value in flags.items())
    return f"{config.connect_url}/oauth/authorize?{urlencode(params, quote_via=quote)}"


def parse_callback(query: Mapping[str, str]) -> tuple[str, str]:
    """``(code, state)`` from the redirect back to us.

    Raises:
        ConnectError: Connect reported ``error`` (access_denied, no_vehicles,
            vehicle_incompatible, ...); ``code`` is that value.
        StateError: the query lacks ``state``.
    """
    state = query.get("state", "")
    if query.get("error"):
        details = {k: query[k] for k in ("vin", "make", "model", "year") if query.get(k)}
        raise ConnectError(
            query.get("error_description") or query["error"],
            code=query["error"],
            detail=details or None,
        )
    if not state:
        raise StateError("the callback has no state")
    code = query.get("code", "")
    if not code:
        raise ConnectError("the callback has neither code nor error", code="missing_code")
    return code, state


def parse_token_response(body: Any, now: datetime) -> TokenSet:
    """``{access_token, token_type, expires_in, refresh_token}`` as absolute expiries."""
    if not isinstance(body, Mapping):
        raise ResponseFormatError("token endpoint: the answer is not an object")
    access, refresh, expires_in = (
        body.get("access_token"),
        body.get("refresh_token"),
        body.get("expires_in"),
    )
    if not isinstance(access, str) or not access or not isinstance(refresh, str) or not refresh:
        raise ResponseFormatError("token endpoint: access_token or refresh_token missing")
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float) or expires_in <= 0:
        raise ResponseFormatError("token endpoint: expires_in is not a positive number")
    token_type = body.get("token_type")
    return TokenSet(
        access_token=access,
        refresh_token=refresh,
        expires_at=now + timedelta(seconds=float(expires_in)),
        refresh_expires_at=now + REFRESH_TOKEN_LIFETIME,
        token_type=token_type if isinstance(token_type, str) else "Bearer",
    )


def _basic(user: str, password: str) -> str:
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {credentials}"


def _token_error(status: int, body: Any, headers: Mapping[str, str]) -> SmartcarError:
    if isinstance(body, Mapping) and isinstance(body.get("error"), str):
        return oauth_error(status, body, headers.get("SC-Request-Id"))
    return api_error(status, body, headers)


class OAuthClient:
    """``POST {auth_url}/oauth/token`` with HTTP Basic client credentials."""

    def __init__(self, transport: Transport, config: BridgeConfig) -> None:
        self.transport = transport
        self.config = config

    async def _token(self, form: Mapping[str, str], endpoint: str) -> TokenSet:
        reply = await self.transport.request(
            "POST",
            f"{self.config.auth_url}/oauth/token",
            endpoint=endpoint,
            kind="token",
            form=form,
            headers={"Authorization": _basic(self.config.client_id, self.config.client_secret)},
            limited=False,
            error_parser=_token_error,
        )
        return parse_token_response(reply.body, self.transport.clock())

    async def exchange_code(self, code: str) -> TokenSet:
        """Trade a Connect code (valid 10 minutes) for a token pair.

        Raises:
            InvalidGrant: the code is unknown, used or expired.
            OAuthError: any other refusal (bad client credentials, redirect mismatch).
        """
        return await self._token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.config.redirect_uri,
            },
            "POST /oauth/token (code)",
        )

    async def refresh(self, refresh_token: str) -> TokenSet:
        """Spend a refresh token; the answer has a new access *and* refresh token.

        Raises:
            InvalidGrant: the refresh token was spent, revoked or expired.
        """
        return await self._token(
            {"grant_type": "refresh_token", "refresh_token": refresh_token},
            "POST /oauth/token (refresh)",
        )


def _digest(state: str) -> bytes:
    return hashlib.sha256(state.encode("utf-8")).digest()


class ConnectStates:
    """Issue and consume Connect ``state`` values.

    A state is 256 random bits (unguessable), stored only as its SHA-256 with its owner
    (bound), deleted when used (single use) and refused after ``ttl_s`` (expiring).
    """

    def __init__(
        self, pool: asyncpg.Pool, clock: Callable[[], datetime], *, ttl_s: float = 600.0
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._ttl = timedelta(seconds=ttl_s)

    async def issue(self, owner: str) -> str:
        state = secrets.token_urlsafe(32)
        now = self._clock()
        async with self._pool.acquire() as conn, conn.transaction():
            await store.purge_states(conn, now)
            await store.insert_state(conn, _digest(state), owner, now, now + self._ttl)
        return state

    async def consume(self, state: str) -> str:
        """The owner the state was issued for; the state cannot be used again.

        Raises:
            StateError: unknown (forged), already used, or expired.
        """
        if not state or len(state) > 512:
            raise StateError("the state is missing or malformed")
        async with self._pool.acquire() as conn:
            row = await store.consume_state(conn, _digest(state))
        if row is None:
            raise StateError("unknown or already used state; start linking again")
        if row["expires_at"] <= self._clock():
            raise StateError("the linking request expired; start linking again")
        owner: str = row["owner"]
        return owner
