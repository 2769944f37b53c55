"""The error catalogue over HTTP: envelopes, vehicle state, rate limits, faults, billing."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.simulators.smartcar import reference
from tests.simulators.smartcar.conftest import AMT, Harness, StartSim
from tests.simulators.smartcar.test_vehicle_api import linked


def assert_error(
    body: dict[str, Any], expected: dict[str, Any], resp: aiohttp.ClientResponse
) -> None:
    """The full v2 envelope, the fields the reference shows, and requestId == header."""
    required = set(reference.ERROR) - {"suggestedUserMessage"}
    assert required <= set(body) <= set(reference.ERROR) | {"detail"}
    for key, value in expected.items():
        assert body[key] == value, key
    assert body["statusCode"] == resp.status
    assert body["requestId"] == resp.headers["SC-Request-Id"]
    assert resp.headers["Content-Type"].startswith("application/json")


async def test_asleep_matches_the_reference_envelope(harness: Harness) -> None:
    token, vid = await linked(harness)
    await harness.control("PATCH", f"/vehicles/{vid}", {"asleep": True})
    resp = await harness.get(f"/v2.0/vehicles/{vid}/battery", token)
    assert resp.status == 409
    body = await resp.json()
    reference.assert_shape(body, reference.ERROR)
    assert body["description"] == reference.ERROR["description"]
    assert body["docURL"] == reference.ERROR["docURL"]
    assert_error(
        body, {"type": "VEHICLE_STATE", "code": "ASLEEP", "resolution": {"type": None}}, resp
    )
    # Smartcar's records still answer.
    assert (await harness.get(f"/v2.0/vehicles/{vid}/vin", token)).status == 200
    await harness.control("PATCH", f"/vehicles/{vid}", {"asleep": False, "unreachable": True})
    resp = await harness.get(f"/v2.0/vehicles/{vid}/charge", token)
    assert_error(await resp.json(), {"type": "VEHICLE_STATE", "code": "UNREACHABLE"}, resp)
    resp = await harness.post(f"/v2.0/vehicles/{vid}/charge", token, {"action": "START"})
    assert (await resp.json())["code"] == "UNREACHABLE"


async def test_authentication_errors(harness: Harness) -> None:
    _, vid = await linked(harness)
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic eDp5"}):
        resp = await harness.http.get(harness.url(f"/v2.0/vehicles/{vid}/battery"), headers=headers)
        assert resp.status == 401
        assert_error(await resp.json(), reference.AUTHENTICATION_ERROR, resp)


async def test_permission_error_for_a_missing_scope(harness: Harness) -> None:
    tokens = await harness.connect(scope="read_vin")
    token = tokens["access_token"]
    vid = (await (await harness.get("/v2.0/vehicles", token)).json())["vehicles"][0]
    for path in ("/battery", "/location", "/charge"):
        resp = await harness.get(f"/v2.0/vehicles/{vid}{path}", token)
        assert resp.status == 403
        assert_error(await resp.json(), reference.PERMISSION_ERROR, resp)
    resp = await harness.post(f"/v2.0/vehicles/{vid}/charge", token, {"action": "START"})
    assert resp.status == 403


async def test_vehicle_ids_outside_the_grant(harness: Harness) -> None:
    token, _ = await linked(harness)
    grant = harness.sim.tokens.grant_for(token)
    assert grant is not None
    other = next(v for v in harness.sim.vehicles.values() if v.id not in grant.vehicle_ids)
    resp = await harness.get(f"/v2.0/vehicles/{other.id}/battery", token)
    assert resp.status == 403
    bogus = await harness.get("/v2.0/vehicles/bad_id/battery", token)
    assert bogus.status == 400
    assert (await bogus.json())["type"] == "VALIDATION"


async def test_unknown_paths_and_versions(harness: Harness) -> None:
    token, vid = await linked(harness)
    for path, code in (
        (f"/v2.0/vehicles/{vid}/teleport", "PATH"),
        (f"/v1.0/vehicles/{vid}/battery", "VERSION"),
        (f"/vabc/vehicles/{vid}/battery", "VERSION"),
        ("/nowhere", "PATH"),
    ):
        resp = await harness.get(path, token)
        assert resp.status == 404, path
        assert_error(await resp.json(), {"type": "RESOURCE_NOT_FOUND", "code": code}, resp)
    v3 = await harness.get(f"/v3/vehicles/{vid}/teleport", token)
    assert v3.status == 404
    reference.assert_shape(await v3.json(), reference.V3_ERROR)


async def test_vehicle_rate_limit_with_retry_after(start_sim: StartSim) -> None:
    harness = await start_sim(rate_limit_vehicle_per_min=3)
    token, vid = await linked(harness)
    for _ in range(3):
        assert (await harness.get(f"/v2.0/vehicles/{vid}/battery", token)).status == 200
    assert (await harness.get(f"/v2.0/vehicles/{vid}/vin", token)).status == 200  # not the car
    harness.clock.advance(20)
    limited = await harness.get(f"/v2.0/vehicles/{vid}/charge", token)
    assert limited.status == 429
    assert limited.headers["Retry-After"] == "40"
    assert_error(await limited.json(), reference.RATE_LIMIT_VEHICLE_ERROR, limited)
    harness.clock.advance(40)
    assert (await harness.get(f"/v2.0/vehicles/{vid}/charge", token)).status == 200


async def test_app_rate_limit_token_bucket(start_sim: StartSim) -> None:
    harness = await start_sim(rate_limit_app_per_s=0.5, rate_limit_app_burst=2)
    token, _ = await linked(harness)  # the vehicle list took one token
    assert (await harness.get("/v2.0/user", token)).status == 200
    limited = await harness.get("/v2.0/user", token)
    assert limited.status == 429
    body = await limited.json()
    assert (body["type"], body["code"]) == ("RATE_LIMIT", "SMARTCAR_API")
    assert body["resolution"] == {"type": "RETRY_LATER"}
    assert limited.headers["Retry-After"] == "2"
    harness.clock.advance(2)
    assert (await harness.get("/v2.0/user", token)).status == 200


async def test_control_api_rate_limits(harness: Harness) -> None:
    token, vid = await linked(harness)
    await harness.control(
        "POST", "/rate-limits", {"scope": "vehicle", "vehicle_id": vid, "seconds": 90}
    )
    resp = await harness.get(f"/v2.0/vehicles/{vid}/battery", token)
    assert (resp.status, resp.headers["Retry-After"]) == (429, "90")
    await harness.control("POST", "/rate-limits", {"scope": "app", "seconds": 30})
    resp = await harness.get("/v2.0/user", token)
    assert (resp.status, (await resp.json())["code"], resp.headers["Retry-After"]) == (
        429,
        "SMARTCAR_API",
        "30",
    )
    await harness.control("DELETE", "/rate-limits")
    assert (await harness.get(f"/v2.0/vehicles/{vid}/battery", token)).status == 200


async def test_injected_faults(harness: Harness) -> None:
    token, vid = await linked(harness)
    fault = await harness.control(
        "POST",
        "/faults",
        {
            "vehicle_id": vid,
            "endpoint": "/battery",
            "type": "UPSTREAM",
            "code": "NO_RESPONSE",
            "count": 2,
        },
    )
    for _ in range(2):
        resp = await harness.get(f"/v2.0/vehicles/{vid}/battery", token)
        assert resp.status == 502
        assert_error(
            await resp.json(),
            {"type": "UPSTREAM", "code": "NO_RESPONSE", "resolution": {"type": "RETRY_LATER"}},
            resp,
        )
    assert (await harness.get(f"/v2.0/vehicles/{vid}/battery", token)).status == 200
    assert (await harness.control("GET", "/faults"))["items"] == []
    assert fault["remaining"] == 2

    sticky = await harness.control(
        "POST", "/faults", {"type": "SERVER", "code": "INTERNAL", "count": None}
    )
    for path in ("/charge", "/location"):
        assert (await harness.get(f"/v2.0/vehicles/{vid}{path}", token)).status == 500
    assert (await harness.get(f"/v2.0/vehicles/{vid}/vin", token)).status == 200  # static
    await harness.control("DELETE", f"/faults/{sticky['id']}")
    assert (await harness.get(f"/v2.0/vehicles/{vid}/charge", token)).status == 200

    await harness.control(
        "POST",
        "/faults",
        {
            "vehicle_id": vid,
            "endpoint": "POST /charge",
            "type": "COMPATIBILITY",
            "code": "VEHICLE_NOT_CAPABLE",
        },
    )
    assert (await harness.get(f"/v2.0/vehicles/{vid}/charge", token)).status == 200
    assert (
        await harness.post(f"/v2.0/vehicles/{vid}/charge", token, {"action": "START"})
    ).status == 501

    bad = await harness.http.post(
        harness.url("/_sim/faults"), json={"type": "VEHICLE_STATE", "code": "ON_FIRE"}
    )
    assert bad.status == 400


async def test_billing_and_reauthentication(start_sim: StartSim) -> None:
    harness = await start_sim(monthly_requests_per_vehicle=3)
    token, vid = await linked(harness)
    batch = await harness.post(
        f"/v2.0/vehicles/{vid}/batch",
        token,
        {"requests": [{"path": "/battery"}, {"path": "/charge"}]},
    )
    assert [r["code"] for r in (await batch.json())["responses"]] == [200, 200]
    assert (await harness.get(f"/v2.0/vehicles/{vid}/battery", token)).status == 200
    resp = await harness.get(f"/v2.0/vehicles/{vid}/battery", token)
    assert resp.status == 430
    assert_error(await resp.json(), reference.BILLING_ERROR, resp)

    harness = await start_sim()
    token, vid = await linked(harness)
    await harness.control(
        "POST",
        "/faults",
        {
            "vehicle_id": vid,
            "type": "CONNECTED_SERVICES_ACCOUNT",
            "code": "AUTHENTICATION_FAILED",
            "count": None,
        },
    )
    resp = await harness.get(f"/v2.0/vehicles/{vid}/battery", token)
    body = await resp.json()
    assert (resp.status, body["resolution"]["type"]) == (400, "REAUTHENTICATE")
    url = body["resolution"]["url"]
    assert "/oauth/reauthenticate?" in url
    back = await harness.http.get(
        url,
        params={"client_id": harness.sim.config.client_id, "state": "r1"},
        allow_redirects=False,
    )
    assert back.status == 302
    assert f"vehicle_id={vid}" in back.headers["Location"]
    assert (await harness.get(f"/v2.0/vehicles/{vid}/battery", token)).status == 200


async def test_unsubscribe_needs_the_management_token(harness: Harness) -> None:
    token, vid = await linked(harness)
    hook = harness.sim.webhook.id
    path = harness.url(f"/v2.0/vehicles/{vid}/webhooks/{hook}")
    wrong = await harness.http.delete(path, headers={"Authorization": f"Bearer {token}"})
    assert wrong.status == 401
    ok = await harness.http.delete(path, headers={"Authorization": f"Bearer {AMT}"})
    assert await ok.json() == {"status": "success"}
