"""OCPP 1.6 plug-and-charge on the charger simulator: a car plugged in without any
authorization waits (Preparing) for RemoteStartTransaction, Autocharge, or unplugging."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from ocpp.v16 import call

from simulators.charger import SimulatedCharger
from tests.simulators.test_charger_v16 import (
    MiniCentralSystem,
    energy_of,
    eventually,
    make_config,
)


@pytest.fixture
async def csms() -> AsyncIterator[MiniCentralSystem]:
    central = MiniCentralSystem()
    await central.start()
    yield central
    await central.stop()


def statuses(csms: MiniCentralSystem, connector_id: int) -> list[str]:
    return [
        p["status"] for p in csms.payloads("StatusNotification") if p["connectorId"] == connector_id
    ]


async def test_plugged_car_waits_for_remote_start_and_charges_until_stopped(
    csms: MiniCentralSystem,
) -> None:
    async with SimulatedCharger(make_config(csms), time_scale=60) as cp:
        await cp.plug_in(1)
        assert statuses(csms, 1)[-1] == "Preparing"
        assert cp.connectors[1].busy
        with pytest.raises(RuntimeError, match="busy"):
            await cp.plug_in(1)
        with pytest.raises(ValueError, match="MAC"):
            await cp.plug_in(2, autocharge_mac="not-a-mac")
        await asyncio.sleep(0.15)  # nothing happens by itself
        assert "StartTransaction" not in csms.actions()
        assert "Authorize" not in csms.actions()

        answer = await csms.send(call.RemoteStartTransaction(id_tag="ACCOUNT-1"))  # no id
        assert answer.status == "Accepted"
        start = await csms.wait_for("StartTransaction")
        assert (start["connectorId"], start["idTag"]) == (1, "ACCOUNT-1")
        again = await csms.send(call.RemoteStartTransaction(id_tag="X", connector_id=1))
        assert again.status == "Rejected"
        await csms.wait_for("MeterValues", count=4)  # no duration limit: keeps charging
        assert cp.active_transactions() == {1: 101}
        await csms.send(call.RemoteStopTransaction(transaction_id=101))
        stop = await csms.wait_for("StopTransaction")
        await csms.wait_until(lambda: statuses(csms, 1)[-1] == "Finishing")
        await asyncio.sleep(0.1)
        assert statuses(csms, 1)[-1] == "Finishing"  # the cable is still in
        assert cp.connectors[1].busy

        result = await cp.unplug(1)
        assert statuses(csms, 1)[-1] == "Available"
        assert await cp.unplug(1) is None  # nothing plugged in any more
        await cp.plug_in(1)  # the connector is free again
        assert await cp.unplug(1) is None

    assert statuses(csms, 1)[:5] == ["Available", "Preparing", "Charging", "Finishing", "Available"]
    assert stop["reason"] == "Remote"
    assert result is not None
    assert result.transaction_id == 101
    assert result.meter_stop == stop["meterStop"]
    assert result.energy_wh == stop["meterStop"] - start["meterStart"] > 0


async def test_unplugging_a_charging_car_stops_with_ev_disconnected(
    csms: MiniCentralSystem,
) -> None:
    async with SimulatedCharger(make_config(csms), time_scale=60) as cp:
        await cp.plug_in(2)
        await csms.send(call.RemoteStartTransaction(id_tag="ACCOUNT-1", connector_id=2))
        await csms.wait_for("MeterValues", count=2)
        result = await cp.unplug(2)
        (stop,) = csms.payloads("StopTransaction")
    assert stop["reason"] == "EVDisconnected"
    assert statuses(csms, 2)[-2:] == ["Finishing", "Available"]
    assert result is not None and result.energy_wh > 0
    assert result.meter_stop == stop["meterStop"]


async def test_neighbouring_connectors_plug_in_at_once_and_autocharge_tags(
    csms: MiniCentralSystem,
) -> None:
    csms.tag_status["VID:AABBCCDDEEFF"] = "Invalid"  # the CSMS does not know this car yet
    async with SimulatedCharger(make_config(csms), time_scale=60) as cp:
        await asyncio.gather(
            cp.plug_in(1, autocharge_mac="aa:bb:cc:dd:ee:ff"),
            cp.plug_in(2, autocharge_mac="0011223344AA"),
        )
        # Connector 1's tag is unknown: it waits. Connector 2's is accepted: it starts.
        start = await csms.wait_for("StartTransaction")
        assert (start["connectorId"], start["idTag"]) == (2, "VID:0011223344AA")
        await asyncio.sleep(0.1)
        assert statuses(csms, 1)[-1] == "Preparing"
        assert cp.active_transactions() == {2: 101}

        answer = await csms.send(call.RemoteStartTransaction(id_tag="ACCOUNT-7", connector_id=1))
        assert answer.status == "Accepted"
        second = await csms.wait_for("StartTransaction", count=2)
        assert (second["connectorId"], second["idTag"]) == (1, "ACCOUNT-7")
        first, other = await asyncio.gather(cp.unplug(1), cp.unplug(2))
    tags = sorted(p["idTag"] for p in csms.payloads("Authorize"))
    assert tags == ["VID:0011223344AA", "VID:AABBCCDDEEFF"]
    assert {p["reason"] for p in csms.payloads("StopTransaction")} == {"EVDisconnected"}
    assert first is not None and other is not None
    assert {first.transaction_id, other.transaction_id} == {101, 102}


async def test_unplugging_a_waiting_car_frees_the_connector(csms: MiniCentralSystem) -> None:
    async with SimulatedCharger(make_config(csms), time_scale=60) as cp:
        await cp.plug_in(1)
        assert await cp.unplug(1) is None
        assert not cp.connectors[1].busy
        result = await cp.run_session(1, "RFID-1", meter_samples=1)  # still usable
    assert result.energy_wh > 0
    assert statuses(csms, 1)[:3] == ["Available", "Preparing", "Available"]
    assert "StartTransaction" in csms.actions()


async def test_remote_start_on_a_plugged_connector_authorizes_when_configured(
    csms: MiniCentralSystem,
) -> None:
    async with SimulatedCharger(make_config(csms)) as cp:
        await csms.send(call.ChangeConfiguration(key="AuthorizeRemoteTxRequests", value="true"))
        csms.tag_status["BLOCKED"] = "Blocked"
        await cp.plug_in(1)
        await csms.send(call.RemoteStartTransaction(id_tag="BLOCKED", connector_id=1))
        await csms.wait_for("Authorize")
        await asyncio.sleep(0.1)
        assert "StartTransaction" not in csms.actions()
        assert statuses(csms, 1)[-1] == "Preparing"  # refused: still plugged in, waiting
        await eventually(lambda: cp.connectors[1].waiting_for_start)
        await csms.send(call.RemoteStartTransaction(id_tag="OK", connector_id=1))
        await csms.wait_for("StartTransaction")
        await cp.unplug(1)
    flow = csms.actions()
    assert flow.count("Authorize") == 2
    assert flow.index("Authorize") < flow.index("StartTransaction")


async def test_charger_power_follows_the_ev(csms: MiniCentralSystem) -> None:
    async with SimulatedCharger(make_config(csms), time_scale=60) as cp:
        conn = cp.connectors[1]
        conn.ev_power_w = 3_600.0  # the car takes 3.6 kW of the charger's 11 kW
        await cp.plug_in(1)
        await csms.send(call.RemoteStartTransaction(id_tag="A", connector_id=1))
        await csms.wait_for("MeterValues", count=2)
        conn.ev_power_w = 0.0  # the car stops taking energy
        await csms.wait_until(lambda: statuses(csms, 1)[-1] == "SuspendedEV")
        count = len(csms.payloads("MeterValues"))
        await csms.wait_for("MeterValues", count=count + 3)  # still sampled every interval
        idle = [energy_of(p) for p in csms.payloads("MeterValues")[count:]]
        conn.ev_power_w = None  # takes energy again, at the charger's full power
        await csms.wait_until(lambda: statuses(csms, 1)[-1] == "Charging")
        count = len(csms.payloads("MeterValues"))
        await csms.wait_for("MeterValues", count=count + 2)
        await cp.unplug(1)
    meters = [energy_of(p) for p in csms.payloads("MeterValues")]
    assert meters[1] - meters[0] == pytest.approx(3_600 * 0.05 * 60 / 3600, abs=1)  # 3 Wh
    assert len(set(idle)) == 1  # the meter did not rise while suspended
    assert meters[-1] - meters[-2] == pytest.approx(11_000 * 0.05 * 60 / 3600, abs=1)
    assert statuses(csms, 1)[1:6] == [
        "Preparing",
        "Charging",
        "SuspendedEV",
        "Charging",
        "Finishing",
    ]
