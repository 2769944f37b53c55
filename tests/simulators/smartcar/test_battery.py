"""The battery model and the control API that drives it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from simulators.smartcar.model import Vehicle, vin_check_digit
from tests.simulators.smartcar.conftest import Harness


def car(**overrides: Any) -> Vehicle:
    values: dict[str, Any] = {
        "id": "v",
        "vin": "0SC00000000000000",
        "make": "TESLA",
        "model": "Model 3",
        "year": 2022,
        "owner_id": "u",
        "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
        "capacity_kwh": 50.0,
        "soc": 0.5,
        "efficiency": 0.9,
        "max_power_kw": 11.0,
        "plugged_in": True,
        "charge_state": "CHARGING",
    }
    values.update(overrides)
    return Vehicle(**values)


def test_energy_raises_soc_by_wh_times_efficiency_over_capacity() -> None:
    v = car()
    assert v.accept_energy(5000) == 5000
    assert v.soc == pytest.approx(0.5 + 5000 * 0.9 / 50_000)
    assert v.energy_added_kwh == pytest.approx(4.5)
    assert v.charge_state == "CHARGING"


def test_energy_is_capped_at_full_and_at_the_limit() -> None:
    v = car(soc=0.95)
    accepted = v.accept_energy(10_000)
    assert accepted == pytest.approx(0.05 * 50_000 / 0.9)
    assert v.soc == 1.0
    assert v.charge_state == "FULLY_CHARGED"
    assert v.accept_energy(1000) == 0.0
    assert v.soc == 1.0
    limited = car(soc=0.7, charge_limit=0.8)
    limited.accept_energy(50_000)
    assert limited.soc == pytest.approx(0.8)
    assert limited.charge_state == "FULLY_CHARGED"


def test_no_energy_unless_plugged_in_and_charging() -> None:
    for v in (car(plugged_in=False, charge_state="NOT_CHARGING"), car(charge_state="NOT_CHARGING")):
        assert v.accept_energy(5000) == 0.0
        assert v.soc == 0.5


def test_max_power_bounds_energy_over_a_duration() -> None:
    v = car(max_power_kw=7.0)
    assert v.accept_energy(1000, duration_s=60) == pytest.approx(7000 / 60)


def test_vin_check_digit() -> None:
    assert vin_check_digit("1M8GDM9AXKP042788") == "X"
    assert vin_check_digit("11111111111111111") == "1"


async def test_energy_over_the_control_api_shows_in_the_api(harness: Harness) -> None:
    created = await harness.control(
        "POST",
        "/vehicles",
        {
            "make": "Volkswagen",
            "model": "ID.3",
            "year": 2021,
            "vin": "wvwzzze1zmp000001",
            "capacity_kwh": 58,
            "soc": 0.4,
            "efficiency": 0.92,
            "max_power_kw": 11,
            "location": {"latitude": 52.52, "longitude": 13.405},
            "owner": "berlin@example.com",
        },
    )
    assert created["vin"] == "WVWZZZE1ZMP000001"
    assert created["make"] == "VOLKSWAGEN"
    assert created["location"] == {"latitude": 52.52, "longitude": 13.405}
    vid = created["id"]
    tokens = await harness.connect(sim_user="berlin@example.com")
    token = tokens["access_token"]

    unplugged = await harness.http.post(
        harness.url(f"/_sim/vehicles/{vid}/energy"), json={"wh": 1000}
    )
    assert unplugged.status == 409
    assert harness.sim.vehicles[vid].soc == 0.4

    await harness.control("PATCH", f"/vehicles/{vid}", {"plugged_in": True})
    resp = await harness.post(f"/v2.0/vehicles/{vid}/charge", token, {"action": "START"})
    assert resp.status == 200
    result = await harness.control("POST", f"/vehicles/{vid}/energy", {"wh": 5800})
    assert result["accepted_wh"] == 5800
    expected = 0.4 + 5800 * 0.92 / 58_000
    assert result["vehicle"]["soc"] == pytest.approx(expected)
    battery = await (await harness.get(f"/v2.0/vehicles/{vid}/battery", token)).json()
    assert battery["percentRemaining"] == pytest.approx(expected, abs=1e-4)

    result = await harness.control("POST", f"/vehicles/{vid}/energy", {"wh": 100_000})
    assert result["vehicle"]["soc"] == 1.0
    assert result["accepted_wh"] < 100_000
    charge = await (await harness.get(f"/v2.0/vehicles/{vid}/charge", token)).json()
    assert charge == {"isPluggedIn": True, "state": "FULLY_CHARGED"}
    full = await harness.http.post(harness.url(f"/_sim/vehicles/{vid}/energy"), json={"wh": 10})
    assert full.status == 409


async def test_control_api_vehicle_state(harness: Harness) -> None:
    listed = await harness.control("GET", "/vehicles")
    assert len(listed["items"]) == 2
    vid = listed["items"][0]["id"]
    state = await harness.control(
        "PATCH",
        f"/vehicles/{vid}",
        {
            "plugged_in": True,
            "charge_state": "CHARGING",
            "soc": 0.3,
            "latitude": 48.1,
            "longitude": 11.6,
        },
    )
    assert (state["plugged_in"], state["charge_state"], state["soc"]) == (True, "CHARGING", 0.3)
    assert state["location"] == {"latitude": 48.1, "longitude": 11.6}
    state = await harness.control("PATCH", f"/vehicles/{vid}", {"plugged_in": False})
    assert state["charge_state"] == "NOT_CHARGING"
    for body, status in (
        ({"soc": 1.5}, 400),
        ({"plugged_in": "yes"}, 400),
        ({"charge_state": "CHARGING"}, 409),
        ({"charge_state": "WARP"}, 400),
        ({"location": {"latitude": 123, "longitude": 0}}, 400),
    ):
        resp = await harness.http.patch(harness.url(f"/_sim/vehicles/{vid}"), json=body)
        assert resp.status == status, body
        assert "error" in await resp.json()
    missing = await harness.http.get(harness.url("/_sim/vehicles/nope"))
    assert missing.status == 404
    user = await harness.control("GET", f"/users/{state['owner_id']}")
    assert user["vehicles"] == [vid]
    assert (
        await harness.http.post(harness.url("/_sim/vehicles"), json={"owner": "ghost"})
    ).status == 404
    dup = await harness.http.post(harness.url("/_sim/vehicles"), json={"vin": state["vin"]})
    assert dup.status == 400


async def test_tokens_without_connect(harness: Harness) -> None:
    user = next(iter(harness.sim.users.values()))
    tokens = await harness.control("POST", f"/users/{user.id}/tokens", {"scopes": ["read_battery"]})
    assert tokens["user_id"] == user.id
    vid = harness.sim.vehicles_of(user.id)[0].id
    assert (
        await harness.get(f"/v2.0/vehicles/{vid}/battery", tokens["access_token"])
    ).status == 200
    assert (await harness.get(f"/v2.0/vehicles/{vid}/vin", tokens["access_token"])).status == 403
