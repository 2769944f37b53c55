"""Every way a Smartcar call can fail, as one tree of exceptions with structured fields.

::

    SmartcarError                       status, type, code, description, request_id,
    │                                   resolution, retry_after, retryable, retry_later
    ├── TransportError                  no HTTP answer: connection refused, reset, DNS
    │   └── RequestTimeout              no answer in time (status 408, as the SDKs say)
    ├── ResponseFormatError             an answer that is not the documented JSON shape
    ├── UnsupportedInVersion            the configured API version has no such call
    ├── OAuthError                      the token endpoint refused: {error, error_description}
    │   └── InvalidGrant                code or refresh token spent, expired or unknown
    ├── ConnectError                    Connect came back with ?error= (access_denied, ...)
    ├── StateError                      the callback's state is unknown, used or expired
    ├── ReauthorizationRequired         the stored grant is dead: the driver must re-run Connect
    └── ApiError                        Smartcar's error envelope (v2, v3 or legacy v1)
        ├── AuthenticationError         401 AUTHENTICATION
        ├── PermissionDenied            403 PERMISSION
        ├── InvalidRequest              400 VALIDATION
        ├── ResourceNotFound            404 RESOURCE_NOT_FOUND
        ├── ConnectedServicesAccountError 400 CONNECTED_SERVICES_ACCOUNT
        ├── VehicleStateError           409 VEHICLE_STATE
        ├── RateLimitError              429 RATE_LIMIT (or our own limiter: ``local``)
        ├── BillingError                430 BILLING
        ├── CompatibilityError          501 COMPATIBILITY
        ├── UpstreamError               502 UPSTREAM
        └── ServerError                 500 SERVER, 504 (v3)

``retryable`` means the client may try again within seconds (it does so itself, with
backoff); ``retry_later`` means the condition is transient but belongs to the vehicle
(asleep, unreachable, the OEM's own rate limit), so the caller should reschedule rather
than hammer: each attempt costs money.

Which answer becomes which exception is :mod:`smartcar_bridge.envelope`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "ApiError",
    "AuthenticationError",
    "BillingError",
    "CompatibilityError",
    "ConnectError",
    "ConnectedServicesAccountError",
    "InvalidGrant",
    "InvalidRequest",
    "OAuthError",
    "PermissionDenied",
    "RateLimitError",
    "ReauthorizationRequired",
    "RequestTimeout",
    "Resolution",
    "ResourceNotFound",
    "ResponseFormatError",
    "ServerError",
    "SmartcarError",
    "StateError",
    "TransportError",
    "UnsupportedInVersion",
    "UpstreamError",
    "VehicleStateError",
]


@dataclass(frozen=True)
class Resolution:
    """What Smartcar suggests: RETRY_LATER, REAUTHENTICATE, CONTACT_SUPPORT, ... and a URL."""

    type: str | None
    url: str | None = None


class SmartcarError(Exception):
    """Base of the tree; every field may be None when the failure did not provide it."""

    def __init__(
        self,
        description: str,
        *,
        status: int | None = None,
        type: str | None = None,
        code: str | None = None,
        request_id: str | None = None,
        resolution: Resolution | None = None,
        retry_after: float | None = None,
        doc_url: str | None = None,
        suggested_user_message: str | None = None,
        detail: Any = None,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.status = status
        self.type = type
        self.code = code
        self.request_id = request_id
        self.resolution = resolution
        self.retry_after = retry_after
        self.doc_url = doc_url
        self.suggested_user_message = suggested_user_message
        self.detail = detail

    @property
    def retryable(self) -> bool:
        """Trying again within seconds may succeed (the client does so itself)."""
        return False

    @property
    def retry_later(self) -> bool:
        """Transient: trying again later (not necessarily now) may succeed."""
        return self.retryable

    def __str__(self) -> str:
        kind = self.type or type(self).__name__
        text = f"{kind}:{self.code}" if self.code else kind
        text = f"{text} - {self.description}"
        if self.status is not None:
            text = f"{self.status} {text}"
        if self.request_id:
            text += f" (request {self.request_id})"
        return text


class TransportError(SmartcarError):
    @property
    def retryable(self) -> bool:
        return True


class RequestTimeout(TransportError):
    def __init__(self, description: str = "Request timed out") -> None:
        super().__init__(description, status=408)


class ResponseFormatError(SmartcarError):
    """The SDKs call this SDK_ERROR: an answer we cannot read."""


class UnsupportedInVersion(SmartcarError):
    pass


class OAuthError(SmartcarError):
    """``{"error", "error_description"}`` from the token endpoint; ``code`` is ``error``."""

    @property
    def retryable(self) -> bool:
        return self.status is not None and self.status >= 500


class InvalidGrant(OAuthError):
    """The code or refresh token cannot be used again; only Connect can fix it."""


class ConnectError(SmartcarError):
    """Connect redirected back with ``error`` (``code``) and ``error_description``."""


class StateError(SmartcarError):
    """A Connect callback whose ``state`` we did not issue, already used, or that expired."""


class ReauthorizationRequired(SmartcarError):
    """No usable grant for the vehicle: its refresh token was refused or it was unlinked."""


# Reference section 4.2, "Our handling": which (type, code) are worth an immediate retry
# and which are transient conditions of the vehicle that the caller should reschedule.
_TRANSIENT_STATES = frozenset(
    {
        "ASLEEP",
        "UNREACHABLE",
        "UNKNOWN",
        "LOW_BATTERY",
        "IGNITION_ON",
        "IN_MOTION",
        "VEHICLE_OFFLINE_FOR_SERVICE",
    }
)
_NEVER_RETRY = frozenset(
    {
        "AUTHENTICATION",
        "PERMISSION",
        "VALIDATION",
        "RESOURCE_NOT_FOUND",
        "CONNECTED_SERVICES_ACCOUNT",
        "VEHICLE_STATE",
        "BILLING",
        "COMPATIBILITY",
    }
)


def _retryable(kind: str | None, code: str | None, status: int | None) -> bool:
    if kind == "RATE_LIMIT":
        return True
    if kind == "UPSTREAM":
        return code != "RATE_LIMIT"  # lasts until the OEM resets: pause the vehicle
    if kind == "SERVER":
        return code not in {"RECORD_NOT_FOUND", "MULTIPLE_RECORDS_FOUND"}
    if kind in _NEVER_RETRY:
        return False
    return status is not None and (status >= 500 or status == 429)


def _retry_later(kind: str | None, code: str | None, status: int | None) -> bool:
    if kind == "VEHICLE_STATE":
        return code in _TRANSIENT_STATES
    return kind == "UPSTREAM" or _retryable(kind, code, status)


class ApiError(SmartcarError):
    """An error answer of the vehicle API; subclasses by Smartcar ``type``."""

    @property
    def retryable(self) -> bool:
        return _retryable(self.type, self.code, self.status)

    @property
    def retry_later(self) -> bool:
        return _retry_later(self.type, self.code, self.status)


class AuthenticationError(ApiError):
    """The access token is expired or invalid: refresh once, then re-run Connect."""


class PermissionDenied(ApiError):
    """A scope is missing: re-run Connect asking for it."""


class InvalidRequest(ApiError):
    """Our request was malformed (``detail`` names the fields)."""


class ResourceNotFound(ApiError):
    pass


class ConnectedServicesAccountError(ApiError):
    """The driver must act in the OEM account (``resolution.url`` says where)."""


class VehicleStateError(ApiError):
    """409: a business outcome (plug not connected, fully charged, charge fault) or a
    transient state (asleep, unreachable) that ``retry_later`` tells apart."""


class RateLimitError(ApiError):
    """429; ``retry_after`` in seconds when given. ``local`` when our own limiter refused
    the call before it was sent (nothing was spent)."""

    def __init__(self, description: str, *, local: bool = False, **fields: Any) -> None:
        super().__init__(description, **fields)
        self.local = local

    @property
    def retryable(self) -> bool:
        return True


class BillingError(ApiError):
    """430: over the plan's limits until the billing period ends."""


class CompatibilityError(ApiError):
    """501: the vehicle, make or Smartcar cannot do this; mark it unsupported."""


class UpstreamError(ApiError):
    """502: the OEM failed. UPSTREAM:RATE_LIMIT lasts until the OEM resets."""


class ServerError(ApiError):
    """500 (and v3's 504). INTERNAL is retryable; the record errors need support."""
