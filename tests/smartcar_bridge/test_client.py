"""The client against the simulator over real loopback HTTP: every endpoint, v2.0 and v3."""

from __future__ import annotations

from datetime import timedelta

import pytest

from smartcar_bridge.config import ApiVersion
from smartcar_bridge.errors import (
    PermissionDenied,
    UnsupportedInVersion,
    VehicleStateError,
)
from smartcar_bridge.models import Battery, ChargeStatus, Location, Vin
from tests.smartcar_bridge.conftest import SimHandle

VERSIONS: list[ApiVersion] = ["2.0", "3"]


async def _car(sim: SimHandle, **fields: object) -> tuple[str, str]:
    vehicle = await sim.vehicle(
        make="TESLA",
        model="Model 3",
        year=2022,
        vin="5YJ3E1EA7KF000001",
        capacity_kwh=57.5,
        soc=0.42,
        charge_limit=0.8,
        latitude=52.52,
        longitude=13.405,
        **fields,
    )
    return vehicle["id"], vehicle["owner_id"]


async def test_user_and_paged_vehicle_list(sim: SimHandle) -> None:
    first = await sim.vehicle()
    owner = first["owner_id"]
    for _ in range(4):
        await sim.vehicle(owner=owner)
    auth = await sim.tokens(owner)
    client = sim.client()

    assert (await client.user(auth)).id == owner
    page = await client.vehicles(auth, limit=2, offset=0)
    assert len(page.vehicle_ids) == 2
    assert page.count == 5  # the total, not the page size
    assert page.meta.request_id is not None and len(page.meta.request_id) == 36
    every = await client.all_vehicles(auth, page_size=2)
    assert len(every) == 5 == len(set(every))
    assert first["id"] in every
    permissions = await client.permissions(auth, first["id"])
    assert "read_battery" in permissions.permissions


@pytest.mark.parametrize("version", VERSIONS)
async def test_reads(sim: SimHandle, version: ApiVersion) -> None:
    vehicle_id, owner = await _car(sim, plugged_in=True)
    auth = await sim.tokens(owner)
    client = sim.client(version)

    attributes = await client.attributes(auth, vehicle_id)
    assert (attributes.id, attributes.make, attributes.model, attributes.year) == (
        vehicle_id,
        "TESLA",
        "Model 3",
        2022,
    )
    assert (await client.vin(auth, vehicle_id)).vin == "5YJ3E1EA7KF000001"

    battery = await client.battery(auth, vehicle_id)
    assert battery.percent_remaining == pytest.approx(0.42)  # a fraction in both versions
    assert battery.soc_percent == pytest.approx(42.0)
    if version == "2.0":
        assert battery.range_km == pytest.approx(0.42 * 57.5 * 6.0, rel=0.01)
        assert battery.meta.unit_system == "metric"
    # Data age: when the car recorded it; fetched at: when Smartcar got it.
    assert battery.meta.data_age == sim.clock.now
    assert battery.meta.fetched_at is not None
    assert battery.meta.request_id is not None

    assert (await client.battery_capacity(auth, vehicle_id)).capacity_kwh == 57.5
    nominal = await client.nominal_capacity(auth, vehicle_id)
    assert nominal.capacity_kwh == 57.5
    assert nominal.source == "SMARTCAR"
    assert [a.capacity_kwh for a in nominal.available] == [57.5]

    charge = await client.charge_status(auth, vehicle_id)
    assert (charge.is_plugged_in, charge.state) == (True, "NOT_CHARGING")
    assert (await client.charge_limit(auth, vehicle_id)).limit == pytest.approx(0.8)
    location = await client.location(auth, vehicle_id)
    assert (location.latitude, location.longitude) == (52.52, 13.405)


@pytest.mark.parametrize("version", VERSIONS)
async def test_charge_start_stop_and_limit(sim: SimHandle, version: ApiVersion) -> None:
    vehicle_id, owner = await _car(sim, plugged_in=True)
    auth = await sim.tokens(owner)
    client = sim.client(version)

    started = await client.start_charge(auth, vehicle_id)
    assert (started.status, started.already) == ("success", False)
    assert sim.sim.vehicles[vehicle_id].charge_state == "CHARGING"
    assert (await client.charge_status(auth, vehicle_id)).state == "CHARGING"
    # START while charging is the outcome we wanted: success, marked as already so.
    again = await client.start_charge(auth, vehicle_id)
    assert again.already is True

    stopped = await client.stop_charge(auth, vehicle_id)
    assert (stopped.status, stopped.already) == ("success", False)
    assert sim.sim.vehicles[vehicle_id].charge_state == "NOT_CHARGING"
    assert (await client.stop_charge(auth, vehicle_id)).already is True

    await client.set_charge_limit(auth, vehicle_id, 0.9)
    assert sim.sim.vehicles[vehicle_id].charge_limit == pytest.approx(0.9)
    assert (await client.charge_limit(auth, vehicle_id)).limit == pytest.approx(0.9)
    with pytest.raises(ValueError, match=r"0\.5 and 1"):
        await client.set_charge_limit(auth, vehicle_id, 0.3)


@pytest.mark.parametrize("version", VERSIONS)
async def test_start_on_an_unplugged_car_is_a_business_error(
    sim: SimHandle, version: ApiVersion
) -> None:
    vehicle_id, owner = await _car(sim, plugged_in=False)
    auth = await sim.tokens(owner)
    with pytest.raises(VehicleStateError) as caught:
        await sim.client(version).start_charge(auth, vehicle_id)
    assert caught.value.code == "CHARGING_PLUG_NOT_CONNECTED"
    assert caught.value.status == 409
    assert not caught.value.retryable and not caught.value.retry_later
    # Not retried: one request reached the simulator.
    posts = [r for r in await sim.requests() if r["method"] == "POST"]
    assert len(posts) == 1


@pytest.mark.parametrize("version", VERSIONS)
async def test_slow_command_within_its_timeout(sim: SimHandle, version: ApiVersion) -> None:
    # v3 answers 202 and streams the outcome when the car is slow; v2 just takes longer.
    sim.sim.config.command_delay_s = 0.3
    sim.sim.config.v3_command_sync_s = 0.1
    vehicle_id, owner = await _car(sim, plugged_in=True)
    auth = await sim.tokens(owner)
    result = await sim.client(version).start_charge(auth, vehicle_id)
    assert result.status == "success"
    assert sim.sim.vehicles[vehicle_id].charge_state == "CHARGING"


async def test_v3_streamed_command_failure_is_an_error(sim: SimHandle) -> None:
    sim.sim.config.command_delay_s = 0.2
    sim.sim.config.v3_command_sync_s = 0.05
    vehicle_id, owner = await _car(sim, plugged_in=True, charge_fault=True)
    auth = await sim.tokens(owner)
    with pytest.raises(VehicleStateError) as caught:
        await sim.client("3").start_charge(auth, vehicle_id)
    assert caught.value.code == "CHARGE_FAULT"


async def test_batch_has_per_item_status_and_errors(sim: SimHandle) -> None:
    vehicle_id, owner = await _car(sim, plugged_in=True)
    auth = await sim.tokens(owner)
    await sim.control(
        "POST",
        "/faults",
        {
            "type": "VEHICLE_STATE",
            "code": "ASLEEP",
            "vehicle_id": vehicle_id,
            "endpoint": "/charge",
        },
    )
    client = sim.client()
    result = await client.batch(auth, vehicle_id, ["/battery", "/charge", "/vin", "/location"])
    battery, charge, vin, location = (
        result.item(p) for p in ("/battery", "/charge", "/vin", "/location")
    )
    assert battery.ok and isinstance(battery.value, Battery)
    assert battery.value.percent_remaining == pytest.approx(0.42)
    assert battery.meta.data_age is not None
    assert isinstance(vin.value, Vin) and vin.value.vin == "5YJ3E1EA7KF000001"
    assert isinstance(location.value, Location)
    assert not charge.ok and charge.code == 409
    assert isinstance(charge.error, VehicleStateError)
    assert charge.error.code == "ASLEEP" and charge.error.retry_later
    # The top-level request id applies to every item.
    assert result.meta.request_id is not None
    assert battery.meta.request_id == result.meta.request_id
    # Each path counts as a call.
    assert client.metrics.by_vehicle[vehicle_id] == 4


@pytest.mark.parametrize("version", VERSIONS)
async def test_snapshot(sim: SimHandle, version: ApiVersion) -> None:
    vehicle_id, owner = await _car(sim, plugged_in=True)
    auth = await sim.tokens(owner)
    snapshot = await sim.client(version).snapshot(auth, vehicle_id)
    assert isinstance(snapshot.battery, Battery)
    assert isinstance(snapshot.charge, ChargeStatus)
    assert snapshot.charge.is_plugged_in
    assert snapshot.errors == {}


async def test_batch_is_v2_only(sim: SimHandle) -> None:
    vehicle_id, owner = await _car(sim)
    auth = await sim.tokens(owner)
    with pytest.raises(UnsupportedInVersion):
        await sim.client("3").batch(auth, vehicle_id, ["/battery"])


@pytest.mark.parametrize("version", VERSIONS)
async def test_missing_scope_is_permission_denied(sim: SimHandle, version: ApiVersion) -> None:
    vehicle_id, owner = await _car(sim)
    auth = await sim.tokens(owner, scopes=["read_vin", "read_vehicle_info"])
    client = sim.client(version)
    assert (await client.vin(auth, vehicle_id)).vin == "5YJ3E1EA7KF000001"
    with pytest.raises(PermissionDenied) as caught:
        await client.battery(auth, vehicle_id)
    assert caught.value.status == 403
    assert caught.value.resolution is not None
    assert caught.value.resolution.type == "REAUTHENTICATE"


async def test_nominal_capacity_unknown_gives_the_owner_a_link(sim: SimHandle) -> None:
    vehicle = await sim.vehicle()
    sim.sim.vehicles[vehicle["id"]].nominal_capacity_kwh = None
    auth = await sim.tokens(vehicle["owner_id"])
    nominal = await sim.client().nominal_capacity(auth, vehicle["id"])
    assert nominal.capacity_kwh is None
    assert nominal.url is not None and "battery-capacity" in nominal.url


async def test_imperial_range_is_converted_back_to_km(sim: SimHandle) -> None:
    vehicle_id, owner = await _car(sim)
    auth = await sim.tokens(owner)
    metric = await sim.client().battery(auth, vehicle_id)
    imperial = await sim.client(unit_system="imperial").battery(auth, vehicle_id)
    assert imperial.meta.unit_system == "imperial"
    assert metric.range_km is not None and imperial.range_km is not None
    assert imperial.range_km == pytest.approx(metric.range_km, rel=0.001)


async def test_disconnect_revokes_access(sim: SimHandle) -> None:
    vehicle_id, owner = await _car(sim)
    auth = await sim.tokens(owner)
    client = sim.client()
    await client.disconnect(auth, vehicle_id)
    with pytest.raises(PermissionDenied):
        await client.vin(auth, vehicle_id)


async def test_data_age_is_the_cars_time(sim: SimHandle) -> None:
    vehicle_id, owner = await _car(sim)
    recorded = sim.clock.now
    sim.clock.advance(3600)
    auth = await sim.tokens(owner)
    battery = await sim.client().battery(auth, vehicle_id)
    assert battery.meta.data_age == recorded
    assert battery.meta.fetched_at == sim.clock.now
    assert battery.meta.data_age is not None and battery.meta.data_age.utcoffset() == timedelta(0)
