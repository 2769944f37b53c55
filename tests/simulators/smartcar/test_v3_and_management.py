"""The v3 Vehicle API (signals, commands, app tokens) and the v2.0 Management API."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest

from tests.simulators.smartcar import reference
from tests.simulators.smartcar.conftest import AMT, CLIENT_ID, CLIENT_SECRET, Harness, StartSim
from tests.simulators.smartcar.test_vehicle_api import linked


def v3_error(body: dict[str, Any]) -> dict[str, Any]:
    (item,) = body["errors"]
    reference.assert_shape(body, reference.V3_ERROR)
    return item  # type: ignore[no-any-return]


async def test_vehicle_and_signals(harness: Harness) -> None:
    token, vid = await linked(harness)
    await harness.control(
        "PATCH", f"/vehicles/{vid}", {"soc": 0.75, "charge_limit": 0.8, "plugged_in": True}
    )
    vehicle = await (await harness.get(f"/v3/vehicles/{vid}", token)).json()
    assert vehicle["id"] == vid
    assert vehicle["type"] == "vehicle"
    assert {"make", "model", "year"} <= set(vehicle["attributes"])
    assert vehicle["links"] == {"self": f"/vehicles/{vid}"}

    resp = await harness.get(f"/v3/vehicles/{vid}/signals", token)
    listing = await resp.json()
    assert set(listing) == {"data", "meta", "links", "included"}
    assert listing["meta"]["totalCount"] == len(listing["data"])
    assert listing["included"]["vehicle"]["id"] == vid
    for signal in listing["data"]:
        reference.assert_shape(
            {**signal, "attributes": {**signal["attributes"], "body": {}}},
            {**reference.SIGNAL, "attributes": {**reference.SIGNAL["attributes"], "body": {}}},
        )
    by_code = {s["id"]: s["attributes"]["body"] for s in listing["data"]}
    assert by_code["tractionbattery-stateofcharge"] == {"unit": "percent", "value": 75}  # 0..100
    reference.assert_shape(by_code["tractionbattery-range"], reference.V3_RANGE_BODY)
    assert by_code["charge-chargelimits"] == reference.V3_LIMITS_BODY
    assert by_code["charge-ischargingcableconnected"] == {"value": True}
    assert set(by_code["location-preciselocation"]) == reference.V3_LOCATION_BODY_KEYS

    one = await (
        await harness.get(f"/v3/vehicles/{vid}/signals/tractionbattery-stateofcharge", token)
    ).json()
    reference.assert_shape(
        one,
        {
            **reference.SIGNAL,
            "attributes": {**reference.SIGNAL["attributes"], "body": reference.V3_SOC_BODY},
        },
    )
    unknown = await harness.get(f"/v3/vehicles/{vid}/signals/warp-drive", token)
    assert unknown.status == 404
    assert v3_error(await unknown.json())["code"] == "PATH"


async def test_v3_permission_and_authentication(harness: Harness) -> None:
    tokens = await harness.connect(scope="read_vin")
    token = tokens["access_token"]
    vid = (await (await harness.get("/v2.0/vehicles", token)).json())["vehicles"][0]
    listing = await (await harness.get(f"/v3/vehicles/{vid}/signals", token)).json()
    assert [s["id"] for s in listing["data"]] == ["vehicleidentification-vin"]
    denied = await harness.get(f"/v3/vehicles/{vid}/signals/tractionbattery-stateofcharge", token)
    assert denied.status == 403
    item = v3_error(await denied.json())
    assert (item["status"], item["type"], item["resolution"]) == (
        "403",
        "PERMISSION",
        {"type": "REAUTHENTICATE"},
    )
    anonymous = await harness.http.get(harness.url(f"/v3/vehicles/{vid}/signals"))
    assert anonymous.status == 401
    assert v3_error(await anonymous.json())["type"] == "AUTHENTICATION"


async def test_app_token_needs_sc_user_id(harness: Harness) -> None:
    _, vid = await linked(harness)
    user_id = harness.sim.vehicles[vid].owner_id
    form = {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    app_token = (await (await harness.http.post(harness.url("/oauth2/token"), data=form)).json())[
        "access_token"
    ]
    path = f"/v3/vehicles/{vid}/signals/tractionbattery-stateofcharge"
    ok = await harness.get(path, app_token, **{"sc-user-id": user_id})
    assert ok.status == 200
    missing = await harness.get(path, app_token)
    assert missing.status == 400
    assert v3_error(await missing.json())["code"] == "INVALID_INPUT_FORMAT"
    stranger = await harness.get(
        path, app_token, **{"sc-user-id": "00000000-0000-4000-8000-000000000000"}
    )
    assert stranger.status == 403


async def test_v3_commands(harness: Harness) -> None:
    token, vid = await linked(harness)
    await harness.control("PATCH", f"/vehicles/{vid}", {"soc": 0.5})
    base = f"/v3/vehicles/{vid}/commands/charge"
    unplugged = await harness.post(f"{base}/start", token, None)
    assert unplugged.status == 409
    assert v3_error(await unplugged.json())["code"] == "CHARGING_PLUG_NOT_CONNECTED"
    await harness.control("PATCH", f"/vehicles/{vid}", {"plugged_in": True})
    started = await harness.post(f"{base}/start", token, None)
    assert started.status == 200
    result = await started.json()
    assert result["data"]["type"] == "command-execution"
    assert result["data"]["attributes"]["status"] == "SUCCESS"
    assert harness.sim.vehicles[vid].charge_state == "CHARGING"
    assert (await harness.post(f"{base}/stop", token, None)).status == 200
    assert harness.sim.vehicles[vid].charge_state == "NOT_CHARGING"
    assert (
        await harness.post(f"{base}/set-limit", token, {"data": {"attributes": {"percent": 80}}})
    ).status == 200
    assert harness.sim.vehicles[vid].charge_limit == 0.8
    for bad in ({"data": {"attributes": {"percent": 40}}}, {"percent": 80}, None):
        resp = await harness.post(f"{base}/set-limit", token, bad)
        assert resp.status == 400
        assert v3_error(await resp.json())["type"] == "VALIDATION"


async def test_long_v3_command_answers_202_and_streams_the_outcome(start_sim: StartSim) -> None:
    harness = await start_sim(command_delay_s=0.25, v3_command_sync_s=0.05)
    token, vid = await linked(harness)
    await harness.control("PATCH", f"/vehicles/{vid}", {"plugged_in": True, "soc": 0.5})
    began = time.monotonic()
    resp = await harness.post(f"/v3/vehicles/{vid}/commands/charge/start", token, None)
    assert resp.status == 202
    assert time.monotonic() - began < 0.25  # headers arrive before the car answers
    body = await resp.json()
    assert time.monotonic() - began >= 0.25
    assert body["data"]["attributes"]["status"] == "SUCCESS"
    again = await harness.post(f"/v3/vehicles/{vid}/commands/charge/start", token, None)
    assert again.status == 202
    failed = await again.json()
    assert failed["data"]["attributes"]["status"] == "FAILURE"
    assert failed["data"]["attributes"]["error"]["code"] == "CHARGING_IN_PROGRESS"


def management_auth(token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"default:{token}".encode()).decode()}


async def test_management_connections(harness: Harness) -> None:
    token, vid = await linked(harness)
    other = await harness.connect(sim_user=list(harness.sim.users)[1])
    url = harness.url("/v2.0/management/connections")
    listing = await harness.http.get(url, headers=management_auth(AMT))
    assert listing.status == 200
    body = await listing.json()
    reference.assert_shape({**body, "paging": {"cursor": "x"}}, reference.CONNECTIONS)
    assert len(body["connections"]) == 2
    page = await (
        await harness.http.get(url, params={"limit": "1"}, headers=management_auth(AMT))
    ).json()
    assert len(page["connections"]) == 1
    assert page["paging"]["cursor"] is not None
    rest = await (
        await harness.http.get(
            url,
            params={"limit": "1", "cursor": page["paging"]["cursor"]},
            headers=management_auth(AMT),
        )
    ).json()
    assert rest["paging"]["cursor"] is None
    assert rest["connections"][0]["vehicleId"] != page["connections"][0]["vehicleId"]
    wrong = await harness.http.get(url, headers=management_auth("not-the-amt"))
    assert wrong.status == 401
    gone = await harness.http.delete(url, params={"vehicle_id": vid}, headers=management_auth(AMT))
    assert await gone.json() == {
        "connections": [{"userId": harness.sim.vehicles[vid].owner_id, "vehicleId": vid}]
    }
    assert (await harness.get(f"/v2.0/vehicles/{vid}/battery", token)).status == 403
    assert (await harness.get("/v2.0/user", other["access_token"])).status == 200


@pytest.mark.parametrize(
    "bad", [{"limit": "0"}, {"limit": "101"}, {"mode": "dream"}, {"cursor": "%%%"}]
)
async def test_management_validation(harness: Harness, bad: dict[str, str]) -> None:
    resp = await harness.http.get(
        harness.url("/v2.0/management/connections"), params=bad, headers=management_auth(AMT)
    )
    assert resp.status == 400
    assert (await resp.json())["type"] == "VALIDATION"
