"""OAuth state: grants, one-time authorization codes, access and rotating refresh tokens.

Pure bookkeeping against an injected clock; the HTTP side is :mod:`connect`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from simulators.smartcar.config import (
    ACCESS_TOKEN_TTL_S,
    APP_TOKEN_TTL_S,
    AUTH_CODE_TTL_S,
    REFRESH_TOKEN_TTL_S,
)


class OAuthError(Exception):
    """An OAuth-style failure: ``{"error": ..., "error_description": ...}``."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def _opaque() -> str:
    """Tokens and codes look like opaque UUIDs in every documented example."""
    return str(uuid.uuid4())


@dataclass
class Grant:
    """What one Connect consent (or a token minted by the control API) gives access to."""

    user_id: str
    vehicle_ids: list[str]
    scopes: frozenset[str]
    mode: str = "live"
    id: str = field(default_factory=_opaque)


@dataclass
class AuthCode:
    code: str
    grant: Grant
    redirect_uri: str
    expires_at: datetime
    redirect_uri_given: bool = True  # False: Connect used the default redirect URI
    used: bool = False


@dataclass
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int = ACCESS_TOKEN_TTL_S

    def to_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
        }


@dataclass
class AccessToken:
    grant: Grant
    expires_at: datetime


@dataclass
class RefreshToken:
    grant: Grant
    expires_at: datetime
    used_at: datetime | None = None
    successor: TokenPair | None = None


class TokenStore:
    """Codes expire after 10 minutes and work once; access tokens live 2 h; a refresh
    token works once (plus ``grace_s``) and yields a new access and refresh token."""

    def __init__(self, clock: Callable[[], datetime], grace_s: float = 0.0) -> None:
        self.clock = clock
        self.grace_s = grace_s
        self.codes: dict[str, AuthCode] = {}
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}
        self.app_tokens: dict[str, datetime] = {}

    def issue_code(self, grant: Grant, redirect_uri: str, *, given: bool = True) -> str:
        code = _opaque()
        expires = self.clock() + timedelta(seconds=AUTH_CODE_TTL_S)
        self.codes[code] = AuthCode(code, grant, redirect_uri, expires, given)
        return code

    def issue_pair(self, grant: Grant) -> TokenPair:
        now = self.clock()
        pair = TokenPair(_opaque(), _opaque())
        self.access[pair.access_token] = AccessToken(
            grant, now + timedelta(seconds=ACCESS_TOKEN_TTL_S)
        )
        self.refresh[pair.refresh_token] = RefreshToken(
            grant, now + timedelta(seconds=REFRESH_TOKEN_TTL_S)
        )
        return pair

    def exchange_code(self, code: str, redirect_uri: str | None) -> tuple[Grant, TokenPair]:
        entry = self.codes.get(code)
        # Single use is UNCONFIRMED (standard OAuth); a reused, expired or unknown code all
        # get the message the live API gave for a bad code.
        if entry is None or entry.used or self.clock() >= entry.expires_at:
            raise OAuthError(400, "invalid_grant", f"Invalid code: {code}.")
        # Must match when Connect got one (RFC 6749 4.1.3); may be left out otherwise.
        if redirect_uri != entry.redirect_uri and (entry.redirect_uri_given or redirect_uri):
            raise OAuthError(400, "invalid_grant", f"Invalid redirect_uri: {redirect_uri}.")
        entry.used = True
        return entry.grant, self.issue_pair(entry.grant)

    def use_refresh(self, token: str) -> TokenPair:
        entry = self.refresh.get(token)
        now = self.clock()
        invalid = OAuthError(400, "invalid_grant", f"Invalid refresh_token: {token}.")
        if entry is None or now >= entry.expires_at:
            raise invalid
        if entry.used_at is not None:
            # Reuse inside the grace period returns the pair the first use minted, so a
            # client that lost that response recovers it (UNCONFIRMED: the docs do not say
            # whether a reuse gets the same pair or a new one).
            if entry.successor is not None and now < entry.used_at + timedelta(
                seconds=self.grace_s
            ):
                return entry.successor
            raise invalid
        entry.used_at = now
        entry.successor = self.issue_pair(entry.grant)
        return entry.successor

    def grant_for(self, access_token: str) -> Grant | None:
        """The grant of a live access token; None when unknown or expired."""
        entry = self.access.get(access_token)
        if entry is None or self.clock() >= entry.expires_at:
            return None
        return entry.grant

    def issue_app_token(self) -> str:
        token = _opaque()
        self.app_tokens[token] = self.clock() + timedelta(seconds=APP_TOKEN_TTL_S)
        return token

    def is_app_token(self, token: str) -> bool:
        expires = self.app_tokens.get(token)
        return expires is not None and self.clock() < expires

    def grants(self) -> list[Grant]:
        seen: dict[str, Grant] = {}
        for grant in [a.grant for a in self.access.values()] + [
            r.grant for r in self.refresh.values()
        ]:
            seen.setdefault(grant.id, grant)
        return list(seen.values())

    def revoke_vehicle(self, vehicle_id: str, user_id: str | None = None) -> None:
        """The app loses access to the vehicle (DELETE /application, management delete)."""
        for grant in self.grants():
            if (user_id is None or grant.user_id == user_id) and vehicle_id in grant.vehicle_ids:
                grant.vehicle_ids.remove(vehicle_id)
