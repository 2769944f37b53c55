"""Every error of the reference's catalogue, as the simulator sends it, lands on the right
class with its fields; retryable ones are retried, the rest surface at once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from smartcar_bridge.config import ApiVersion
from smartcar_bridge.envelope import api_error, parse_retry_after
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
    ResourceNotFound,
    ServerError,
    UpstreamError,
    VehicleStateError,
)
from tests.smartcar_bridge.conftest import SimHandle

TRANSIENT = {
    "ASLEEP",
    "UNREACHABLE",
    "UNKNOWN",
    "LOW_BATTERY",
    "IGNITION_ON",
    "IN_MOTION",
    "VEHICLE_OFFLINE_FOR_SERVICE",
}
VEHICLE_STATES = [
    "ASLEEP",
    "CHARGING_IN_PROGRESS",
    "CHARGING_PLUG_CONNECTED",
    "CHARGING_PLUG_NOT_CONNECTED",
    "DOOR_OPEN",
    "FULLY_CHARGED",
    "NOT_CHARGING",
    "CHARGE_FAULT",
    "HOOD_OPEN",
    "IGNITION_ON",
    "IN_MOTION",
    "REMOTE_ACCESS_DISABLED",
    "TRUNK_OPEN",
    "UNKNOWN",
    "UNREACHABLE",
    "VEHICLE_OFFLINE_FOR_SERVICE",
    "LOW_BATTERY",
]

# (type, code, class, HTTP status, retried now, worth retrying later): reference 4.2.
CATALOGUE: list[tuple[str, str | None, type[ApiError], int, bool, bool]] = [
    ("AUTHENTICATION", None, AuthenticationError, 401, False, False),
    ("PERMISSION", None, PermissionDenied, 403, False, False),
    ("VALIDATION", None, InvalidRequest, 400, False, False),
    ("VALIDATION", "PARAMETER", InvalidRequest, 400, False, False),
    ("RESOURCE_NOT_FOUND", "PATH", ResourceNotFound, 404, False, False),
    ("RESOURCE_NOT_FOUND", "VERSION", ResourceNotFound, 404, False, False),
    *[
        ("CONNECTED_SERVICES_ACCOUNT", code, ConnectedServicesAccountError, 400, False, False)
        for code in (
            "ACCOUNT_ISSUE",
            "AUTHENTICATION_FAILED",
            "NO_VEHICLES",
            "PERMISSION",
            "SUBSCRIPTION",
            "VEHICLE_MISSING",
            "VIRTUAL_KEY_REQUIRED",
        )
    ],
    *[
        ("VEHICLE_STATE", code, VehicleStateError, 409, False, code in TRANSIENT)
        for code in VEHICLE_STATES
    ],
    ("RATE_LIMIT", "SMARTCAR_API", RateLimitError, 429, True, True),
    ("RATE_LIMIT", "VEHICLE", RateLimitError, 429, True, True),
    *[
        ("BILLING", code, BillingError, 430, False, False)
        for code in ("VEHICLE_LIMIT", "VEHICLE_REQUEST_LIMIT", "INVALID_PLAN", "ACCOUNT_SUSPENDED")
    ],
    *[
        ("COMPATIBILITY", code, CompatibilityError, 501, False, False)
        for code in (
            "MAKE_NOT_COMPATIBLE",
            "SMARTCAR_NOT_CAPABLE",
            "VEHICLE_NOT_CAPABLE",
            "PLATFORM_NOT_CAPABLE",
        )
    ],
    *[
        ("UPSTREAM", code, UpstreamError, 502, code != "RATE_LIMIT", True)
        for code in ("INVALID_DATA", "KNOWN_ISSUE", "NO_RESPONSE", "RATE_LIMIT", "UNKNOWN_ISSUE")
    ],
    ("SERVER", "INTERNAL", ServerError, 500, True, True),
    ("SERVER", "MULTIPLE_RECORDS_FOUND", ServerError, 500, False, False),
    ("SERVER", "RECORD_NOT_FOUND", ServerError, 500, False, False),
]
IDS = [f"{t}:{c}" for t, c, *_ in CATALOGUE]
BATTERY = {"2.0": "/battery", "3": "/signals/tractionbattery-stateofcharge"}


@pytest.mark.parametrize("version", ["2.0", "3"])
@pytest.mark.parametrize(
    ("kind", "code", "cls", "status", "retryable", "later"), CATALOGUE, ids=IDS
)
async def test_each_error_from_the_simulator(
    sim: SimHandle,
    version: ApiVersion,
    kind: str,
    code: str | None,
    cls: type[ApiError],
    status: int,
    retryable: bool,
    later: bool,
) -> None:
    vehicle = await sim.vehicle()
    auth = await sim.tokens(vehicle["owner_id"])
    await sim.control(
        "POST",
        "/faults",
        {
            "type": kind,
            "code": code,
            "vehicle_id": vehicle["id"],
            "endpoint": BATTERY[version],
            "count": None,  # until removed: every attempt fails
        },
    )
    client = sim.client(version)
    with pytest.raises(cls) as caught:
        await client.battery(auth, vehicle["id"])
    error = caught.value
    assert (error.status, error.type, error.code) == (status, kind, code)
    assert error.retryable is retryable
    assert error.retry_later is later
    assert error.description
    log = [r for r in await sim.requests() if r["path"].endswith(BATTERY[version])]
    assert error.request_id is not None and len(error.request_id) == 36
    # Retryable errors are tried max_attempts times; the rest surface after one request.
    assert len(log) == (3 if retryable else 1)
    if code == "AUTHENTICATION_FAILED":
        assert error.resolution is not None and error.resolution.type == "REAUTHENTICATE"
        assert error.resolution.url is not None and "reauthenticate" in error.resolution.url


async def test_retryable_error_that_clears_is_retried_to_success(sim: SimHandle) -> None:
    vehicle = await sim.vehicle(soc=0.6)
    auth = await sim.tokens(vehicle["owner_id"])
    await sim.control(
        "POST",
        "/faults",
        {"type": "UPSTREAM", "code": "NO_RESPONSE", "vehicle_id": vehicle["id"], "count": 2},
    )
    battery = await sim.client().battery(auth, vehicle["id"])
    assert battery.percent_remaining == pytest.approx(0.6)
    # Exponential backoff from 0.5 s with "equal jitter" (half fixed, half random; the
    # random half is pinned to 0 here).
    assert sim.sleep.delays == [0.25, 0.5]


async def test_expired_token_is_authentication_error(sim: SimHandle) -> None:
    vehicle = await sim.vehicle()
    auth = await sim.tokens(vehicle["owner_id"])
    sim.clock.advance(7200)
    with pytest.raises(AuthenticationError) as caught:
        await sim.client().vin(auth, vehicle["id"])
    assert caught.value.code is None and caught.value.status == 401


async def test_unknown_version_and_path(sim: SimHandle) -> None:
    vehicle = await sim.vehicle()
    auth = await sim.tokens(vehicle["owner_id"])
    client = sim.client()
    client.v2.base = f"{sim.url}/v1.0"
    with pytest.raises(ResourceNotFound) as caught:
        await client.vin(auth, vehicle["id"])
    assert caught.value.code == "VERSION"
    client.v2.base = f"{sim.url}/v2.0"
    with pytest.raises(ResourceNotFound) as caught:
        await client.v2.get(auth, "/no-such-thing", vehicle_id=vehicle["id"])
    assert caught.value.code == "PATH"


# --- the parser on its own ---------------------------------------------------------------

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("resolution", "expected"),
    [
        ({"type": "RETRY_LATER"}, ("RETRY_LATER", None)),
        ({"type": "REAUTHENTICATE", "url": "https://x/y"}, ("REAUTHENTICATE", "https://x/y")),
        ("REAUTHENTICATE", ("REAUTHENTICATE", None)),  # the older string form
        ({"type": None}, (None, None)),
    ],
)
def test_resolution_forms(resolution: object, expected: tuple[str | None, str | None]) -> None:
    error = api_error(
        409, {"type": "VEHICLE_STATE", "code": "ASLEEP", "resolution": resolution}, {}
    )
    assert error.resolution is not None
    assert (error.resolution.type, error.resolution.url) == expected


def test_null_resolution() -> None:
    error = api_error(409, {"type": "VEHICLE_STATE", "code": "ASLEEP", "resolution": None}, {})
    assert error.resolution is None


def test_unknown_type_falls_back_on_the_status() -> None:
    error = api_error(503, {"type": "SOMETHING_NEW", "code": "X"}, {})
    assert isinstance(error, ServerError) and error.retryable
    error = api_error(418, {"type": "SOMETHING_NEW", "code": "X"}, {})
    assert type(error) is ApiError and not error.retryable


def test_non_json_error_bodies() -> None:
    error = api_error(502, "<html>Bad Gateway</html>", {"SC-Request-Id": "r-1"})
    assert isinstance(error, UpstreamError) and error.retryable
    assert error.request_id == "r-1"
    assert "Bad Gateway" in error.description
    assert isinstance(api_error(429, None, {"Retry-After": "7"}), RateLimitError)
    assert api_error(429, None, {"Retry-After": "7"}).retry_after == 7.0


def test_legacy_v1_body() -> None:
    error = api_error(
        409, {"error": "vehicle_state_error", "message": "Vehicle asleep", "code": "VS_000"}, {}
    )
    assert isinstance(error, VehicleStateError)
    assert (error.type, error.code, error.description) == (
        "VEHICLE_STATE",
        "VS_000",
        "Vehicle asleep",
    )


def test_oauth_bodies() -> None:
    error = api_error(400, {"error": "invalid_grant", "error_description": "Invalid code: x."}, {})
    assert isinstance(error, InvalidGrant)
    # The `error` value for a spent token is UNCONFIRMED: the description decides too.
    error = api_error(
        400, {"error": "invalid_request", "error_description": "Invalid refresh_token: y."}, {}
    )
    assert isinstance(error, InvalidGrant)
    error = api_error(401, {"error": "invalid_client", "error_description": "Bad client."}, {})
    assert type(error) is OAuthError and not error.retryable


def test_retry_after_forms() -> None:
    assert parse_retry_after("30", NOW) == 30.0
    assert parse_retry_after("Thu, 15 Jan 2026 12:01:00 GMT", NOW) == 60.0
    assert parse_retry_after("Thu, 15 Jan 2026 11:00:00 GMT", NOW) == 0.0
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


def test_message_names_type_code_and_request() -> None:
    error = api_error(
        409,
        {"type": "VEHICLE_STATE", "code": "ASLEEP", "description": "zzz", "requestId": "abc"},
        {},
    )
    assert str(error) == "409 VEHICLE_STATE:ASLEEP - zzz (request abc)"
