"""The v2.0 Vehicle API: every endpoint's shape, headers and units, commands and batch."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.simulators.smartcar import reference
from tests.simulators.smartcar.conftest import Harness, StartSim

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
KM_PER_MILE = 1.609344

# path -> (reference body, data headers, unit header)
ENDPOINTS: dict[str, tuple[dict[str, Any], bool, bool]] = {
    "": (reference.ATTRIBUTES, False, False),
    "/vin": (reference.VIN, False, False),
    "/battery": (reference.BATTERY, True, True),
    "/battery/capacity": (reference.CAPACITY, True, False),
    "/battery/nominal_capacity": (reference.NOMINAL_CAPACITY, True, False),
    "/charge": (reference.CHARGE, True, False),
    "/charge/limit": (reference.CHARGE_LIMIT, True, False),
    "/location": (reference.LOCATION, True, False),
    "/odometer": (reference.ODOMETER, True, True),
    "/permissions": (reference.PERMISSIONS, False, False),
}


async def linked(harness: Harness) -> tuple[str, str]:
    """(access token, vehicle id) of the first user's first vehicle."""
    tokens = await harness.connect()
    listed = await (await harness.get("/v2.0/vehicles", tokens["access_token"])).json()
    return tokens["access_token"], listed["vehicles"][0]


@pytest.mark.parametrize("path", list(ENDPOINTS))
async def test_endpoint_shape_and_headers(harness: Harness, path: str) -> None:
    token, vid = await linked(harness)
    resp = await harness.get(f"/v2.0/vehicles/{vid}{path}", token)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("application/json")
    body = await resp.json()
    ref, data_headers, unit_header = ENDPOINTS[path]
    reference.assert_shape(body, ref)
    assert UUID.match(resp.headers["SC-Request-Id"])
    assert len(resp.headers["SC-Request-Id"]) == len(reference.HEADERS["SC-Request-Id"])
    if data_headers:
        assert ISO_MS.match(resp.headers["SC-Data-Age"])
        assert ISO_MS.match(resp.headers["SC-Fetched-At"])
        assert resp.headers["SC-Data-Age"] <= resp.headers["SC-Fetched-At"]
    else:
        assert "SC-Data-Age" not in resp.headers
    if unit_header:
        assert resp.headers["SC-Unit-System"] == "metric"
    else:
        assert "SC-Unit-System" not in resp.headers


async def test_values_and_units_follow_the_vehicle(harness: Harness) -> None:
    token, vid = await linked(harness)
    car = harness.sim.vehicles[vid]
    await harness.control(
        "PATCH",
        f"/vehicles/{vid}",
        {"soc": 0.3, "capacity_kwh": 28, "km_per_kwh": 4.82, "odometer_km": 1000},
    )
    battery = await (await harness.get(f"/v2.0/vehicles/{vid}/battery", token)).json()
    assert battery == {"percentRemaining": 0.3, "range": pytest.approx(0.3 * 28 * 4.82, abs=0.01)}
    assert 0 <= battery["percentRemaining"] <= 1  # a fraction, not percent
    imperial = await harness.get(
        f"/v2.0/vehicles/{vid}/battery", token, **{"SC-Unit-System": "imperial"}
    )
    assert imperial.headers["SC-Unit-System"] == "imperial"
    assert (await imperial.json())["range"] == pytest.approx(
        battery["range"] / KM_PER_MILE, abs=0.01
    )
    odo = await harness.get(
        f"/v2.0/vehicles/{vid}/odometer", token, **{"SC-Unit-System": "imperial"}
    )
    assert (await odo.json())["distance"] == pytest.approx(1000 / KM_PER_MILE, abs=0.01)
    attrs = await (await harness.get(f"/v2.0/vehicles/{vid}", token)).json()
    assert attrs == {"id": vid, "make": car.make, "model": car.model, "year": car.year}
    assert isinstance(attrs["year"], int)
    vin = await (await harness.get(f"/v2.0/vehicles/{vid}/vin", token)).json()
    assert len(vin["vin"]) == 17
    capacity = await (await harness.get(f"/v2.0/vehicles/{vid}/battery/capacity", token)).json()
    assert capacity == {"capacity": 28}
    location = await (await harness.get(f"/v2.0/vehicles/{vid}/location", token)).json()
    assert location == {"latitude": car.latitude, "longitude": car.longitude}
    assert location["longitude"] < 0  # signed degrees
    bad_units = await harness.get(
        f"/v2.0/vehicles/{vid}/battery", token, **{"SC-Unit-System": "furlongs"}
    )
    assert bad_units.status == 400


async def test_nominal_capacity_unknown_gives_a_picker_link(harness: Harness) -> None:
    token, vid = await linked(harness)
    harness.sim.vehicles[vid].nominal_capacity_kwh = None
    body = await (await harness.get(f"/v2.0/vehicles/{vid}/battery/nominal_capacity", token)).json()
    assert body["capacity"] is None
    assert "/battery-capacity?" in body["url"]
    assert f"vehicle_id={vid}" in body["url"]


async def test_vehicle_list_is_paged(harness: Harness) -> None:
    owner = await harness.control("POST", "/users", {"email": "many@example.com"})
    ids = [
        (await harness.control("POST", "/vehicles", {"owner": owner["id"]}))["id"]
        for _ in range(12)
    ]
    tokens = await harness.connect(sim_user=owner["id"])
    first = await (await harness.get("/v2.0/vehicles", tokens["access_token"])).json()
    reference.assert_shape(first, reference.VEHICLES)
    assert first == {"vehicles": ids[:10], "paging": {"count": 12, "offset": 0}}
    page = await (
        await harness.get("/v2.0/vehicles?limit=5&offset=10", tokens["access_token"])
    ).json()
    assert page == {"vehicles": ids[10:], "paging": {"count": 12, "offset": 10}}
    bad = await harness.get("/v2.0/vehicles?limit=0", tokens["access_token"])
    assert bad.status == 400
    assert (await bad.json())["type"] == "VALIDATION"


async def test_charge_start_and_stop_change_state(harness: Harness) -> None:
    token, vid = await linked(harness)
    path = f"/v2.0/vehicles/{vid}/charge"
    await harness.control("PATCH", f"/vehicles/{vid}", {"soc": 0.5})
    unplugged = await harness.post(path, token, {"action": "START"})
    assert unplugged.status == 409
    reference.assert_shape(
        {k: v for k, v in (await unplugged.json()).items() if k in reference.PLUG_ERROR},
        reference.PLUG_ERROR,
    )
    await harness.control("PATCH", f"/vehicles/{vid}", {"plugged_in": True})
    assert await (await harness.get(path, token)).json() == {
        "isPluggedIn": True,
        "state": "NOT_CHARGING",
    }
    start = await harness.post(path, token, {"action": "START"})
    assert start.status == 200
    assert await start.json() == reference.COMMAND
    assert "SC-Unit-System" not in start.headers
    assert await (await harness.get(path, token)).json() == {
        "isPluggedIn": True,
        "state": "CHARGING",
    }
    again = await harness.post(path, token, {"action": "START"})
    assert (await again.json())["code"] == "CHARGING_IN_PROGRESS"
    stop = await harness.post(path, token, {"action": "STOP"})
    assert await stop.json() == reference.COMMAND
    assert (await (await harness.get(path, token)).json())["state"] == "NOT_CHARGING"
    idle = await harness.post(path, token, {"action": "STOP"})
    assert idle.status == 409
    assert (await idle.json())["code"] == "NOT_CHARGING"
    bad = await harness.post(path, token, {"action": "FASTER"})
    assert bad.status == 400
    assert (await bad.json())["type"] == "VALIDATION"
    await harness.control("PATCH", f"/vehicles/{vid}", {"charge_fault": True})
    fault = await harness.post(path, token, {"action": "START"})
    assert (await fault.json())["code"] == "CHARGE_FAULT"
    await harness.control("PATCH", f"/vehicles/{vid}", {"charge_fault": False, "soc": 1.0})
    full = await harness.post(path, token, {"action": "START"})
    assert (await full.json())["code"] == "FULLY_CHARGED"
    assert (await (await harness.get(path, token)).json())["state"] == "FULLY_CHARGED"


async def test_stop_when_idle_can_succeed(start_sim: StartSim) -> None:
    harness = await start_sim(stop_when_idle="success")
    token, vid = await linked(harness)
    await harness.control("PATCH", f"/vehicles/{vid}", {"plugged_in": True})
    resp = await harness.post(f"/v2.0/vehicles/{vid}/charge", token, {"action": "STOP"})
    assert resp.status == 200


async def test_charge_limit_get_and_set(harness: Harness) -> None:
    token, vid = await linked(harness)
    path = f"/v2.0/vehicles/{vid}/charge/limit"
    assert (await harness.post(path, token, {"limit": 0.8})).status == 200
    assert await (await harness.get(path, token)).json() == {"limit": 0.8}
    assert (await harness.post(path, token, {"limit": "0.7"})).status == 200  # Node sends strings
    assert await (await harness.get(path, token)).json() == {"limit": 0.7}
    for bad in (0.4, 1.5, "lots", None, True):
        resp = await harness.post(path, token, {"limit": bad})
        assert resp.status == 400, bad
        body = await resp.json()
        assert body["type"] == "VALIDATION"
        assert body["detail"][0]["field"] == ["limit"]
    # Lowering the limit below the SoC of a charging car finishes the charge.
    await harness.control(
        "PATCH", f"/vehicles/{vid}", {"plugged_in": True, "soc": 0.65, "charge_state": "CHARGING"}
    )
    await harness.post(path, token, {"limit": 0.6})
    charge = await (await harness.get(f"/v2.0/vehicles/{vid}/charge", token)).json()
    assert charge["state"] == "FULLY_CHARGED"


async def test_slow_commands(start_sim: StartSim) -> None:
    harness = await start_sim(command_delay_s=0.3)
    token, vid = await linked(harness)
    await harness.control("PATCH", f"/vehicles/{vid}", {"plugged_in": True, "soc": 0.4})
    began = time.monotonic()
    resp = await harness.post(f"/v2.0/vehicles/{vid}/charge", token, {"action": "START"})
    assert resp.status == 200
    assert time.monotonic() - began >= 0.3
    began = time.monotonic()
    await harness.get(f"/v2.0/vehicles/{vid}/battery", token)
    assert time.monotonic() - began < 0.3  # reads are not slowed


async def test_batch_mixed_results(harness: Harness) -> None:
    tokens = await harness.connect(scope="read_vin read_battery read_charge")
    token = tokens["access_token"]
    vid = (await (await harness.get("/v2.0/vehicles", token)).json())["vehicles"][0]
    await harness.control(
        "POST",
        "/faults",
        {"vehicle_id": vid, "endpoint": "/charge", "type": "VEHICLE_STATE", "code": "ASLEEP"},
    )
    resp = await harness.post(
        f"/v2.0/vehicles/{vid}/batch",
        token,
        {
            "requests": [
                {"path": "/battery"},
                {"path": "/charge"},
                {"path": "/vin"},
                {"path": "/location"},
                {"path": "/teleport"},
            ]
        },
    )
    assert resp.status == 200
    body = await resp.json()
    battery, charge, vin, location, unknown = body["responses"]
    example = reference.BATCH["responses"]
    reference.assert_shape(battery, example[0])
    reference.assert_shape(
        charge, {**example[1], "body": {**example[1]["body"], "suggestedUserMessage": "..."}}
    )
    reference.assert_shape(vin, example[2])
    assert ISO_MS.match(battery["headers"]["sc-data-age"])
    assert battery["headers"]["sc-unit-system"] == "metric"
    assert charge["code"] == 409
    assert charge["body"]["code"] == "ASLEEP"
    assert charge["body"]["requestId"] == resp.headers["SC-Request-Id"]
    assert vin["headers"] == {}
    assert location["code"] == 403
    assert location["body"]["type"] == "PERMISSION"
    assert unknown["code"] == 404
    assert unknown["body"]["code"] == "PATH"
    assert [r["path"] for r in body["responses"]] == [
        "/battery",
        "/charge",
        "/vin",
        "/location",
        "/teleport",
    ]


async def test_batch_rejects_a_malformed_body(harness: Harness) -> None:
    token, vid = await linked(harness)
    resp = await harness.post(f"/v2.0/vehicles/{vid}/batch", token, {"paths": ["/battery"]})
    assert resp.status == 400
    body = await resp.json()
    assert body["type"] == "VALIDATION"
    assert body["detail"] == reference.BATCH_MALFORMED_DETAIL


async def test_permissions_and_disconnect(harness: Harness) -> None:
    token, vid = await linked(harness)
    perms = await (await harness.get(f"/v2.0/vehicles/{vid}/permissions?limit=2", token)).json()
    assert perms["paging"] == {"count": 7, "offset": 0}
    assert len(perms["permissions"]) == 2
    assert not any(p.startswith("required:") for p in perms["permissions"])
    resp = await harness.http.delete(
        harness.url(f"/v2.0/vehicles/{vid}/application"),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert await resp.json() == reference.DISCONNECT
    after = await harness.get(f"/v2.0/vehicles/{vid}/battery", token)
    assert after.status == 403
    assert (await after.json())["type"] == "PERMISSION"
    assert (await (await harness.get("/v2.0/vehicles", token)).json())["vehicles"] == []


async def test_request_log_counts_calls(harness: Harness) -> None:
    token, vid = await linked(harness)
    await harness.control("DELETE", "/requests")
    await harness.get(f"/v2.0/vehicles/{vid}/battery", token)
    await harness.get(f"/v2.0/vehicles/{vid}/charge", token)
    log = await harness.control("GET", "/requests")
    assert [(r["method"], r["path"], r["status"], r["vehicle_id"]) for r in log["items"]] == [
        ("GET", f"/v2.0/vehicles/{vid}/battery", 200, vid),
        ("GET", f"/v2.0/vehicles/{vid}/charge", 200, vid),
    ]
