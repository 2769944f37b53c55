"""The Smartcar error catalogue and its two wire envelopes (v2 flat, v3 JSON:API).

Every (type, code) the reference lists, with its HTTP status, resolution and texts. The
descriptions are ours; the shape follows reference section 4.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DOCS = "https://smartcar.com/docs/errors/api-errors"

# type -> (HTTP status, page of the error docs)
TYPES: dict[str, tuple[int, str]] = {
    "AUTHENTICATION": (401, "authentication-errors"),
    "PERMISSION": (403, "permission-errors"),
    "VALIDATION": (400, "validation-errors"),
    "RESOURCE_NOT_FOUND": (404, "resource-not-found-errors"),
    "CONNECTED_SERVICES_ACCOUNT": (400, "connected-services-account-errors"),
    "VEHICLE_STATE": (409, "vehicle-state-errors"),
    "RATE_LIMIT": (429, "rate-limit-errors"),
    "BILLING": (430, "billing-errors"),
    "COMPATIBILITY": (501, "compatibility-errors"),
    "UPSTREAM": (502, "upstream-errors"),
    "SERVER": (500, "server-errors"),
}

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    430: "Billing",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
}


@dataclass(frozen=True)
class ErrorSpec:
    description: str
    resolution: str | None = None
    user_message: str | None = None


_RETRY = "RETRY_LATER"
_REAUTH = "REAUTHENTICATE"
_SUPPORT = "CONTACT_SUPPORT"
_CHECK = "Please check the connection to your vehicle and try again."

CATALOGUE: dict[tuple[str, str | None], ErrorSpec] = {
    ("AUTHENTICATION", None): ErrorSpec(
        "The authorization header is missing or malformed, or it contains invalid or expired"
        " authentication credentials. Please check for missing parameters, spelling and"
        " casing mistakes, and other syntax issues."
    ),
    ("PERMISSION", None): ErrorSpec(
        "Your application has insufficient permissions to access the requested resource."
        " Please prompt the user to re-authenticate using Smartcar Connect.",
        _REAUTH,
        "Please reconnect your vehicle to grant the permissions this app needs.",
    ),
    ("VALIDATION", None): ErrorSpec("Request invalid or malformed. Please check for errors."),
    ("VALIDATION", "PARAMETER"): ErrorSpec("A request parameter is invalid or missing."),
    ("VALIDATION", "INVALID_INPUT_FORMAT"): ErrorSpec(  # the v3 spelling
        "The request body or a parameter has an invalid format."
    ),
    ("RESOURCE_NOT_FOUND", "PATH"): ErrorSpec(
        "The requested resource does not exist. Please check the URL and try again."
    ),
    ("RESOURCE_NOT_FOUND", "VERSION"): ErrorSpec(
        "The requested version of the API does not exist. Please use a supported version."
    ),
    ("CONNECTED_SERVICES_ACCOUNT", "ACCOUNT_ISSUE"): ErrorSpec(
        "Action required in the owner's connected services account.",
        None,
        "Please log in to your connected services app and complete the required steps.",
    ),
    ("CONNECTED_SERVICES_ACCOUNT", "AUTHENTICATION_FAILED"): ErrorSpec(
        "Smartcar was unable to authenticate with the owner's connected services account.",
        _REAUTH,
        "Please reconnect your vehicle: your connected services login has changed.",
    ),
    ("CONNECTED_SERVICES_ACCOUNT", "NO_VEHICLES"): ErrorSpec(
        "No vehicles are listed in the owner's connected services account.",
        None,
        "No vehicles were found in your connected services account.",
    ),
    ("CONNECTED_SERVICES_ACCOUNT", "PERMISSION"): ErrorSpec(
        "The connected services account lacks the permission needed for this request.",
        _REAUTH,
        "Please reconnect your vehicle with the primary account.",
    ),
    ("CONNECTED_SERVICES_ACCOUNT", "SUBSCRIPTION"): ErrorSpec(
        "The vehicle's connected services subscription is inactive or does not cover this.",
        None,
        "Please renew your vehicle's connected services subscription.",
    ),
    ("CONNECTED_SERVICES_ACCOUNT", "VEHICLE_MISSING"): ErrorSpec(
        "The vehicle is no longer listed in the owner's connected services account.",
        None,
        "Your vehicle is no longer in your connected services account.",
    ),
    ("CONNECTED_SERVICES_ACCOUNT", "VIRTUAL_KEY_REQUIRED"): ErrorSpec(
        "The owner must add a virtual key to the vehicle before commands can be sent.",
        "ACTION_REQUIRED",
        "Please add the virtual key to your vehicle.",
    ),
    ("RATE_LIMIT", "SMARTCAR_API"): ErrorSpec(
        "Your application has exceeded its request rate. Please back off and retry.", _RETRY
    ),
    ("RATE_LIMIT", "VEHICLE"): ErrorSpec(
        "Too many requests to this vehicle. Retry after the time in the Retry-After header.",
        _RETRY,
        "Your vehicle is temporarily unable to respond. Please try again later.",
    ),
    ("BILLING", "VEHICLE_LIMIT"): ErrorSpec(
        "Your plan's limit of connected vehicles has been reached.", _SUPPORT
    ),
    ("BILLING", "VEHICLE_REQUEST_LIMIT"): ErrorSpec(
        "This vehicle has used its allowance of requests for the billing period.", _SUPPORT
    ),
    ("BILLING", "INVALID_PLAN"): ErrorSpec("Your plan does not include this feature.", _SUPPORT),
    ("BILLING", "ACCOUNT_SUSPENDED"): ErrorSpec(
        "Your Smartcar account is suspended. Please update your billing details.", "FINANCE"
    ),
    ("SERVER", "INTERNAL"): ErrorSpec("An internal Smartcar error occurred.", _RETRY),
    ("SERVER", "MULTIPLE_RECORDS_FOUND"): ErrorSpec(
        "More than one record matched the request.", _SUPPORT
    ),
    ("SERVER", "RECORD_NOT_FOUND"): ErrorSpec("No record was found for the request.", _SUPPORT),
}

_VEHICLE_STATE = {
    "ASLEEP": (
        "The vehicle is in a sleep state and temporarily unable to perform your request.",
        "Your vehicle is in a sleep state. Please wake it up and try again.",
    ),
    "CHARGING_IN_PROGRESS": ("The vehicle is already charging.", "Your vehicle is charging."),
    "CHARGING_PLUG_CONNECTED": (
        "The request cannot be completed while the charging cable is connected.",
        "Please unplug your vehicle and try again.",
    ),
    "CHARGING_PLUG_NOT_CONNECTED": (
        "The request cannot be completed because the charging cable is not connected.",
        "Your vehicle is not plugged in.",
    ),
    "DOOR_OPEN": ("A door of the vehicle is open.", "Please close your vehicle's doors."),
    "FULLY_CHARGED": ("The vehicle is fully charged.", "Your vehicle is fully charged."),
    "NOT_CHARGING": ("The vehicle is not charging.", "Your vehicle is not charging."),
    "CHARGE_FAULT": (
        "The vehicle cannot charge: the charger supplies no current or a schedule conflicts.",
        "Your vehicle reports a charging fault. Please check the charger.",
    ),
    "HOOD_OPEN": ("The hood of the vehicle is open.", "Please close your vehicle's hood."),
    "IGNITION_ON": ("The vehicle's ignition is on.", "Please turn your vehicle off."),
    "IN_MOTION": ("The vehicle is in motion.", "Please try again when your vehicle is parked."),
    "REMOTE_ACCESS_DISABLED": (
        "Remote access to the vehicle is disabled.",
        "Please enable remote access in your vehicle's settings.",
    ),
    "TRUNK_OPEN": ("The trunk of the vehicle is open.", "Please close your vehicle's trunk."),
    "UNKNOWN": ("The vehicle is in an unknown state.", _CHECK),
    "UNREACHABLE": (
        "The vehicle is out of reach of its network and cannot be contacted.",
        "Your vehicle is unreachable. Please make sure it has a network connection.",
    ),
    "VEHICLE_OFFLINE_FOR_SERVICE": (
        "The vehicle is offline for service.",
        "Your vehicle is offline for service.",
    ),
    "LOW_BATTERY": (
        "The vehicle's 12 V battery is too low to perform the request.",
        "Your vehicle's battery is low.",
    ),
}
for _code, (_text, _user) in _VEHICLE_STATE.items():
    _res = _RETRY if _code in ("UNKNOWN", "LOW_BATTERY") else None
    CATALOGUE[("VEHICLE_STATE", _code)] = ErrorSpec(_text, _res, _user)
for _code in ("MAKE_NOT_COMPATIBLE", "SMARTCAR_NOT_CAPABLE", "VEHICLE_NOT_CAPABLE"):
    CATALOGUE[("COMPATIBILITY", _code)] = ErrorSpec(
        "The vehicle or Smartcar cannot perform this request for this make or model.",
        None,
        "Your vehicle does not support this feature.",
    )
CATALOGUE[("COMPATIBILITY", "PLATFORM_NOT_CAPABLE")] = ErrorSpec(
    "The vehicle's platform does not support this request.", _REAUTH
)
for _code in ("INVALID_DATA", "KNOWN_ISSUE", "NO_RESPONSE", "RATE_LIMIT", "UNKNOWN_ISSUE"):
    CATALOGUE[("UPSTREAM", _code)] = ErrorSpec(
        "The vehicle manufacturer's servers could not complete the request.",
        _RETRY,
        "Your vehicle's manufacturer is having trouble. Please try again later.",
    )


@dataclass(eq=False)
class SmartcarError(Exception):
    """An error of the catalogue, raised anywhere and rendered by the app's middleware."""

    type: str
    code: str | None = None
    detail: list[dict[str, Any]] | None = None
    retry_after_s: int | None = None
    resolution_url: str | None = None
    description: str | None = None  # overrides the catalogue's text
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.type, self.code) not in CATALOGUE:
            raise ValueError(f"not in the error catalogue: {self.type}:{self.code}")

    def __str__(self) -> str:
        return f"{self.type}:{self.code}"

    @property
    def status(self) -> int:
        return TYPES[self.type][0]

    @property
    def spec(self) -> ErrorSpec:
        return CATALOGUE[(self.type, self.code)]

    def doc_url(self) -> str:
        anchor = (self.code or "null").lower()
        return f"{DOCS}/{TYPES[self.type][1]}#{anchor}"

    def resolution(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.spec.resolution}
        if self.resolution_url is not None:
            out["url"] = self.resolution_url
        return out

    def v2_body(self, request_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "code": self.code,
            "description": self.description or self.spec.description,
            "docURL": self.doc_url(),
            "statusCode": self.status,
            "requestId": request_id,
            "resolution": self.resolution(),
        }
        if self.spec.user_message is not None:
            body["suggestedUserMessage"] = self.spec.user_message
        if self.detail is not None:
            body["detail"] = self.detail
        return body

    def v3_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "status": str(self.status),
            "type": self.type,
            "code": self.code,
            "title": TITLES.get(self.status, "Error"),
            "detail": self.description or self.spec.description,
            "links": {"about": self.doc_url()},
            "resolution": self.resolution(),
        }
        if self.spec.user_message is not None:
            item["suggestedUserMessage"] = self.spec.user_message
        return item

    def v3_body(self) -> dict[str, Any]:
        return {"errors": [self.v3_item()]}

    def response_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.retry_after_s is not None:
            headers["Retry-After"] = str(self.retry_after_s)
        return headers


def validation(field_name: str, message: str, code: str | None = None) -> SmartcarError:
    """400 VALIDATION naming the field at fault, in the documented ``detail`` form."""
    return SmartcarError("VALIDATION", code, detail=[{"field": [field_name], "message": message}])
