"""A car plugged in without authorization: the charger waits for a remote start, the
car's wish (Smartcar STOP/START, departure timer, full) limits the charger's power."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from ocpp.v16 import call

from simulators.charger import SimulatedCharger
from simulators.ev import Faults
from tests.simulators.ev.conftest import CHARGER_AT, Smartcar
from tests.simulators.ev.test_coupling import eventually, soc_rise
from tests.simulators.test_charger_v16 import MiniCentralSystem, make_config


@pytest.fixture
async def central() -> AsyncIterator[MiniCentralSystem]:
    csms = MiniCentralSystem()
    await csms.start()
    yield csms
    await csms.stop()


@pytest.fixture
async def cp(central: MiniCentralSystem) -> AsyncIterator[SimulatedCharger]:
    config = make_config(central, ping_interval_s=None)
    async with SimulatedCharger(config, time_scale=3600) as charger:  # 550 Wh a step
        yield charger


def statuses(csms: MiniCentralSystem, connector_id: int = 1) -> list[str]:
    return [
        p["status"] for p in csms.payloads("StatusNotification") if p["connectorId"] == connector_id
    ]


async def test_plug_in_remote_start_stop_and_start_the_car_then_unplug(
    central: MiniCentralSystem, smartcar: Smartcar, cp: SimulatedCharger
) -> None:
    central.tag_status["VID:0A1B2C3D4E5F"] = "Invalid"
    car = await smartcar.car()
    soc0 = (await car.state())["soc"]
    coupling = await car.plug_into(cp, 1, location=CHARGER_AT, autocharge_mac="0a1b2c3d4e5f")
    assert statuses(central)[-1] == "Preparing"
    assert central.payloads("Authorize")[0]["idTag"] == "VID:0A1B2C3D4E5F"
    state = await car.state()
    assert (state["plugged_in"], state["charge_state"]) == (True, "NOT_CHARGING")

    await central.send(call.RemoteStartTransaction(id_tag="ACCOUNT-1", connector_id=1))
    await eventually(lambda: coupling.metered_wh > 0)
    await eventually(lambda: coupling.accepted_wh > 0)
    assert (await car.state())["charge_state"] == "CHARGING"

    await car.patch(wants_charge=False)  # what Smartcar POST /charge STOP does
    await central.wait_until(lambda: statuses(central)[-1] == "SuspendedEV")
    await eventually(lambda: coupling.connector.ev_power_w == 0)
    held = coupling.metered_wh
    await asyncio.sleep(0.2)
    assert coupling.metered_wh == held
    assert (await car.state())["charge_state"] == "NOT_CHARGING"

    await car.patch(wants_charge=True)  # START
    await central.wait_until(lambda: statuses(central)[-1] == "Charging")
    await eventually(lambda: coupling.metered_wh > held)
    result = await car.unplug()
    state = await car.state()
    (stop,) = central.payloads("StopTransaction")
    assert stop["reason"] == "EVDisconnected"
    assert result is not None and result.energy_wh == pytest.approx(coupling.metered_wh, abs=1)
    assert state["plugged_in"] is False
    assert state["soc"] - soc0 == pytest.approx(soc_rise(coupling.metered_wh), abs=1e-9)
    assert statuses(central)[-1] == "Available"


async def test_departure_timer_waits_for_start(
    central: MiniCentralSystem, smartcar: Smartcar, cp: SimulatedCharger
) -> None:
    car = await smartcar.car()
    coupling = await car.plug_into(cp, 2, faults=Faults(departure_timer=True))
    await central.send(call.RemoteStartTransaction(id_tag="ACCOUNT-1", connector_id=2))
    await central.wait_until(lambda: statuses(central, 2)[-1] == "SuspendedEV")
    await central.wait_for("MeterValues", count=3)
    assert coupling.metered_wh == 0
    assert (await car.state())["charge_state"] == "NOT_CHARGING"
    await car.patch(wants_charge=True)
    await eventually(lambda: coupling.accepted_wh > 0)
    await car.unplug()


async def test_diverted_energy_never_reaches_the_car(
    central: MiniCentralSystem, smartcar: Smartcar, cp: SimulatedCharger
) -> None:
    car = await smartcar.car()
    soc0 = (await car.state())["soc"]
    coupling = await car.plug_into(cp, 1, location=CHARGER_AT, faults=Faults(diverted=True))
    await central.send(call.RemoteStartTransaction(id_tag="ACCOUNT-1", connector_id=1))
    await eventually(lambda: coupling.metered_wh >= 1000)
    await asyncio.sleep(0.1)
    state = await car.state()
    assert (state["plugged_in"], state["charge_state"]) == (True, "NOT_CHARGING")
    assert state["soc"] == soc0
    assert coupling.accepted_wh == 0
    assert "SuspendedEV" not in statuses(central)
    await car.unplug()
