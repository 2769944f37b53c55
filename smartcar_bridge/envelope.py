"""Reading Smartcar's error answers: which envelope, which exception, which fields.

Four envelopes exist (reference section 4): v2 (``type, code, description, requestId,
resolution, ...``), v3 JSON:API (``{"errors": [{status, type, code, title, detail}]}``),
OAuth (``error, error_description``) and the legacy v1 one (``error, message, code``).
Anything else is classified by its HTTP status alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from smartcar_bridge.errors import (
    ApiError,
    AuthenticationError,
    BillingError,
    CompatibilityError,
    ConnectedServicesAccountError,
    InvalidGrant,
    InvalidRequest,
    OAuthError,
    PermissionDenied,
    RateLimitError,
    Resolution,
    ResourceNotFound,
    ServerError,
    SmartcarError,
    UpstreamError,
    VehicleStateError,
)

__all__ = ["TYPE_STATUS", "api_error", "oauth_error", "parse_retry_after"]

_BY_TYPE: dict[str, type[ApiError]] = {
    "AUTHENTICATION": AuthenticationError,
    "PERMISSION": PermissionDenied,
    "VALIDATION": InvalidRequest,
    "RESOURCE_NOT_FOUND": ResourceNotFound,
    "CONNECTED_SERVICES_ACCOUNT": ConnectedServicesAccountError,
    "VEHICLE_STATE": VehicleStateError,
    "RATE_LIMIT": RateLimitError,
    "BILLING": BillingError,
    "COMPATIBILITY": CompatibilityError,
    "UPSTREAM": UpstreamError,
    "SERVER": ServerError,
}
TYPE_STATUS: dict[str, int] = {
    "AUTHENTICATION": 401,
    "PERMISSION": 403,
    "VALIDATION": 400,
    "RESOURCE_NOT_FOUND": 404,
    "CONNECTED_SERVICES_ACCOUNT": 400,
    "VEHICLE_STATE": 409,
    "RATE_LIMIT": 429,
    "BILLING": 430,
    "COMPATIBILITY": 501,
    "UPSTREAM": 502,
    "SERVER": 500,
}
"""The HTTP status of each Smartcar error type (reference 4.2; BILLING is 430)."""
_BY_STATUS: dict[int, type[ApiError]] = {
    400: InvalidRequest,
    401: AuthenticationError,
    403: PermissionDenied,
    404: ResourceNotFound,
    409: VehicleStateError,
    429: RateLimitError,
    430: BillingError,
    501: CompatibilityError,
    502: UpstreamError,
}
# Legacy v1 bodies ({"error", "message", "code"}): the SDKs still parse them.
_V1_TYPES = {
    "authentication_error": "AUTHENTICATION",
    "permission_error": "PERMISSION",
    "validation_error": "VALIDATION",
    "resource_not_found": "RESOURCE_NOT_FOUND",
    "vehicle_state_error": "VEHICLE_STATE",
    "rate_limiting_error": "RATE_LIMIT",
    "monthly_limit_exceeded": "BILLING",
    "server_error": "SERVER",
    "not_capable_error": "COMPATIBILITY",
    "gateway_timeout_error": "UPSTREAM",
}


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _resolution(value: Any) -> Resolution | None:
    # An object, a bare string (the older form) or null: the SDKs accept all three.
    if isinstance(value, Mapping):
        return Resolution(_text(value.get("type")), _text(value.get("url")))
    if isinstance(value, str):
        return Resolution(value)
    return None


def _class_for(kind: str | None, status: int) -> type[ApiError]:
    if kind is not None and kind in _BY_TYPE:
        return _BY_TYPE[kind]
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return ServerError if status >= 500 else ApiError


def api_error(
    status: int, body: Any, headers: Mapping[str, str], now: datetime | None = None
) -> SmartcarError:
    """The exception for an error answer (any of the four envelopes).

    Args:
        status: the HTTP status (a batch item's ``code``).
        body: the decoded JSON body, the text of a non-JSON one, or None.
        headers: for ``SC-Request-Id`` and ``Retry-After``.
        now: to turn a ``Retry-After`` date into seconds.
    """
    request_id = headers.get("SC-Request-Id")
    retry_after = parse_retry_after(headers.get("Retry-After"), now)
    fields: dict[str, Any] = {"status": status, "request_id": request_id}
    if isinstance(body, Mapping) and isinstance(body.get("errors"), list) and body["errors"]:
        first = body["errors"][0] if isinstance(body["errors"][0], Mapping) else {}
        kind = _text(first.get("type"))
        links = first.get("links")
        fields |= {
            "type": kind,
            "code": _text(first.get("code")),
            "resolution": _resolution(first.get("resolution")),
            "doc_url": _text(links.get("about")) if isinstance(links, Mapping) else None,
            "suggested_user_message": _text(first.get("suggestedUserMessage")),
            "retry_after": retry_after,
        }
        description = _text(first.get("detail")) or _text(first.get("title")) or "error"
        return _class_for(kind, status)(description, **fields)
    if isinstance(body, Mapping) and isinstance(body.get("type"), str):
        kind = body["type"]
        fields |= {
            "type": kind,
            "code": _text(body.get("code")),
            "request_id": _text(body.get("requestId")) or request_id,
            "resolution": _resolution(body.get("resolution")),
            "doc_url": _text(body.get("docURL")),
            "suggested_user_message": _text(body.get("suggestedUserMessage")),
            "detail": body.get("detail"),
            "retry_after": retry_after,
        }
        return _class_for(kind, status)(_text(body.get("description")) or kind, **fields)
    if isinstance(body, Mapping) and isinstance(body.get("error"), str):
        if "error_description" in body or "message" not in body:
            return oauth_error(status, body, request_id)
        kind = _V1_TYPES.get(body["error"])
        fields |= {"type": kind, "code": _text(body.get("code")), "retry_after": retry_after}
        return _class_for(kind, status)(_text(body.get("message")) or body["error"], **fields)
    text = body if isinstance(body, str) else ""
    fields["retry_after"] = retry_after
    return _class_for(None, status)(
        f"HTTP {status} without a Smartcar error body" + (f": {text[:200]}" if text else ""),
        **fields,
    )


def _is_invalid_grant(error: str, description: str) -> bool:
    # UNCONFIRMED (reference 2.3/2.4, open question 1): the `error` value for a spent or
    # unknown code/refresh token is not documented; "invalid_grant" is the OAuth standard.
    # The live descriptions seen are "Invalid code: ..." and "Invalid refresh_token: ...",
    # so those count too. This is the one place that decides it.
    return error == "invalid_grant" or description.startswith(
        ("Invalid code", "Invalid refresh_token")
    )


def oauth_error(status: int, body: Mapping[str, Any], request_id: str | None) -> OAuthError:
    """The exception for a token-endpoint refusal (``{"error", "error_description"}``)."""
    error = _text(body.get("error")) or "unknown_error"
    description = _text(body.get("error_description")) or error
    cls = InvalidGrant if _is_invalid_grant(error, description) else OAuthError
    return cls(description, status=status, code=error, request_id=request_id)
