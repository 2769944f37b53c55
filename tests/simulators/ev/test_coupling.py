"""A simulated car coupled to a simulated charger: the meter's energy reaches the car's
SoC in the Smartcar simulator, plug state and location follow, faults show."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from simulators.charger import BaseCharger, SimulatedCharger
from simulators.ev import Coupling, EVSimError, Faults, SimulatedEV, offset_north
from tests.simulators.ev.conftest import CHARGER_AT, MiniCSMS, Smartcar

CAPACITY_WH = 50_000.0
EFFICIENCY = 0.9


async def eventually(check: Callable[[], bool], seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    assert check()


def soc_rise(wh: float) -> float:
    return wh * EFFICIENCY / CAPACITY_WH


async def test_soc_rises_by_metered_energy_times_efficiency(
    csms: MiniCSMS, smartcar: Smartcar, charger: SimulatedCharger
) -> None:
    car = await smartcar.car()
    before = await car.state()
    assert before["plugged_in"] is False
    coupling = await car.plug_into(charger, 1, location=CHARGER_AT)
    session = asyncio.create_task(coupling.run_session("TAG1", energy_wh=2000))

    await eventually(lambda: coupling.metered_mwh > 0)
    during = await car.state()
    assert during["plugged_in"] is True
    assert during["charge_state"] == "CHARGING"
    assert during["location"] == {"latitude": CHARGER_AT[0], "longitude": CHARGER_AT[1]}

    result = await session
    after = await car.state()
    assert result.energy_wh == 2000
    assert coupling.metered_wh == pytest.approx(2000, abs=1e-9)
    assert coupling.accepted_wh == pytest.approx(2000, abs=1e-6)
    assert after["soc"] - before["soc"] == pytest.approx(soc_rise(2000), abs=1e-9)  # 0.036
    assert after["plugged_in"] is False
    assert after["charge_state"] == "NOT_CHARGING"
    assert car.coupling is None
    assert csms.payloads("StopTransaction")[0]["meterStop"] == result.meter_stop


async def test_over_reporting_meter_raises_soc_less_than_it_claims(
    smartcar: Smartcar, charger: SimulatedCharger
) -> None:
    car = await smartcar.car()
    soc0 = (await car.state())["soc"]
    coupling = await car.plug_into(charger, 1, location=CHARGER_AT, faults=Faults(1.25))
    result = await coupling.run_session("TAG1", energy_wh=2000)
    rise = (await car.state())["soc"] - soc0
    assert result.energy_wh == 2000
    assert rise == pytest.approx(soc_rise(2000 / 1.25), abs=1e-9)
    assert rise < soc_rise(result.energy_wh) * 0.81


async def test_unplug_mid_session_ends_the_chargers_session(
    csms: MiniCSMS, smartcar: Smartcar, charger: SimulatedCharger
) -> None:
    car = await smartcar.car()
    soc0 = (await car.state())["soc"]
    faults = Faults(unplug_after_wh=1000)
    coupling = await car.plug_into(charger, 1, location=CHARGER_AT, faults=faults)
    result = await asyncio.wait_for(coupling.run_session("TAG1"), 10)  # no limit of its own
    (stop,) = csms.payloads("StopTransaction")
    assert stop["reason"] == "EVDisconnected"
    assert result.energy_wh >= 1000
    state = await car.state()
    assert state["plugged_in"] is False
    assert state["soc"] - soc0 == pytest.approx(soc_rise(coupling.metered_wh), abs=1e-9)
    assert abs(coupling.metered_wh - result.energy_wh) < 1


async def test_the_car_unplugs_itself(
    csms: MiniCSMS, smartcar: Smartcar, charger: SimulatedCharger
) -> None:
    car = await smartcar.car()
    coupling = await car.plug_into(charger, 2, location=CHARGER_AT)
    session = asyncio.create_task(charger.run_session(2, "TAG1"))
    await eventually(lambda: coupling.metered_mwh > 0)
    await car.unplug()
    result = await asyncio.wait_for(session, 5)
    assert csms.payloads("StopTransaction")[0]["reason"] == "EVDisconnected"
    assert (await car.state())["plugged_in"] is False
    assert result.energy_wh == pytest.approx(coupling.metered_wh, abs=1)
    await car.unplug()  # idempotent


async def test_an_asleep_car_still_charges(smartcar: Smartcar, charger: SimulatedCharger) -> None:
    car = await smartcar.car()
    soc0 = (await car.state())["soc"]
    coupling = await car.plug_into(charger, 1, location=CHARGER_AT, faults=Faults(asleep=True))
    await coupling.run_session("TAG1", energy_wh=550)
    state = await car.state()
    assert state["asleep"] is True
    assert state["soc"] - soc0 == pytest.approx(soc_rise(550), abs=1e-9)


async def test_a_full_battery_stops_taking_energy(
    csms: MiniCSMS, smartcar: Smartcar, charger: SimulatedCharger
) -> None:
    car = await smartcar.car(soc=0.99)
    coupling = await car.plug_into(charger, 1, location=CHARGER_AT)
    session = asyncio.create_task(coupling.run_session("TAG1", energy_wh=5000))
    await eventually(
        lambda: any(p["status"] == "SuspendedEV" for p in csms.payloads("StatusNotification"))
    )
    metered = coupling.metered_wh
    await asyncio.sleep(0.2)
    assert coupling.metered_wh == metered  # the charger holds back: the car takes nothing
    assert (await car.state())["charge_state"] == "FULLY_CHARGED"
    await car.unplug()
    result = await asyncio.wait_for(session, 5)
    assert result.energy_wh == pytest.approx(coupling.metered_wh, abs=1)
    assert result.energy_wh < 5000
    assert coupling.accepted_wh == pytest.approx(0.01 * CAPACITY_WH / EFFICIENCY, abs=0.01)
    assert (await car.state())["soc"] == pytest.approx(1.0)


async def test_a_second_car_parks_nearby_unplugged(
    smartcar: Smartcar, charger: SimulatedCharger
) -> None:
    car, neighbour = await smartcar.car(), await smartcar.car(soc=0.5)
    faults = Faults(neighbour=neighbour, neighbour_offset_m=12)
    coupling = await car.plug_into(charger, 1, location=CHARGER_AT, faults=faults)
    await coupling.run_session("TAG1", energy_wh=550)
    other = await neighbour.state()
    assert other["plugged_in"] is False
    assert other["soc"] == 0.5
    assert other["location"] == {
        "latitude": pytest.approx(offset_north(CHARGER_AT[0], 12)),
        "longitude": CHARGER_AT[1],
    }


async def test_misuse_is_refused(smartcar: Smartcar, charger: SimulatedCharger) -> None:
    with pytest.raises(ValueError, match="over_report"):
        Faults(over_report=0.5)
    car = await smartcar.car()
    with pytest.raises(ValueError, match="no connector"):
        Coupling(car, charger, 9)
    coupling = await car.plug_into(charger, 1)
    with pytest.raises(RuntimeError, match="already plugged in"):
        await car.plug_into(charger, 2)
    await coupling.unplug()
    with pytest.raises(EVSimError):
        await SimulatedEV(smartcar.base, "no-such-car", smartcar.http).state()
    with pytest.raises(EVSimError):
        await car.patch(soc=7)


async def test_an_ocpp_201_charger_couples_the_same_way(
    csms: MiniCSMS, smartcar: Smartcar, charger201: BaseCharger
) -> None:
    car = await smartcar.car()
    soc0 = (await car.state())["soc"]
    faults = Faults(unplug_after_wh=1000)
    coupling = await car.plug_into(charger201, 1, location=CHARGER_AT, faults=faults)
    result = await asyncio.wait_for(coupling.run_session("TAG201"), 10)
    ended = [e for e in csms.payloads("TransactionEvent") if e["eventType"] == "Ended"]
    assert [e["transactionInfo"]["stoppedReason"] for e in ended] == ["EVDisconnected"]
    assert result.energy_wh >= 1000
    state = await car.state()
    assert state["plugged_in"] is False
    assert state["soc"] - soc0 == pytest.approx(soc_rise(coupling.metered_wh), abs=1e-9)
