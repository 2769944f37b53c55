"""Pure: what an id token is worth right now."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from csms.events import AuthorizationStatus, IdTokenInfo

__all__ = ["decide"]


def decide(token: Mapping[str, Any] | None, now: datetime) -> IdTokenInfo:
    """Decide the status of an id token row (as returned by ``store.id_tokens.lookup``).

    Unknown tokens are Invalid; a token whose expiry has passed is Expired; a token whose
    account is not active is Blocked.
    """
    if token is None:
        return IdTokenInfo(AuthorizationStatus.INVALID, known=False)
    expiry: datetime | None = token["expiry"]
    parent: str | None = token["parent_id_token"]
    status = AuthorizationStatus(token["status"])
    if status is AuthorizationStatus.ACCEPTED:
        if expiry is not None and expiry <= now:
            status = AuthorizationStatus.EXPIRED
        elif token["account_id"] is not None and token["account_status"] != "active":
            status = AuthorizationStatus.BLOCKED
    return IdTokenInfo(status, expiry=expiry, parent_id_token=parent)
