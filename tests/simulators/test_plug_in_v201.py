"""OCPP 2.0.1 plug-and-charge on the station simulator: a car plugged in without any
authorization (Occupied, plug-in transaction when TxStartPoint says so) waits for
RequestStartTransaction, a MacAddress / eMAID authorization, or unplugging."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from ocpp.v201 import call

from simulators.charger import SimulatedCharger201
from tests.simulators.test_charger_v201 import MiniCsms, energy_of, flow, make_config

TX_START = ("TxCtrlr", "TxStartPoint")
CENTRAL = {"id_token": "ACCOUNT-1", "type": "Central"}


@pytest.fixture
async def csms() -> AsyncIterator[MiniCsms]:
    central = MiniCsms()
    await central.start()
    yield central
    await central.stop()
    assert central.invalid == []  # every frame the simulator sent was schema-valid


def statuses(csms: MiniCsms, evse_id: int) -> list[str]:
    return [status for evse, status in csms.statuses() if evse == evse_id]


async def test_plug_in_transaction_waits_for_remote_start_and_charges_until_stopped(
    csms: MiniCsms,
) -> None:
    async with SimulatedCharger201(make_config(csms), time_scale=60) as cp:
        cp.variables[TX_START].value = "EVConnected,PowerPathClosed"
        await cp.plug_in(1)
        plugged = await csms.wait_event("CablePluggedIn")
        assert statuses(csms, 1)[-1] == "Occupied"
        with pytest.raises(RuntimeError, match="busy"):
            await cp.plug_in(1)
        await asyncio.sleep(0.15)
        assert flow(csms.events()) == [("Started", "CablePluggedIn")]  # waiting

        request = call.RequestStartTransaction(id_token=CENTRAL, remote_start_id=42)
        assert (await csms.send(request)).status == "Accepted"  # no evseId: the plugged one
        remote = await csms.wait_event("RemoteStart")
        await csms.wait_event("MeterValuePeriodic", count=4)  # keeps charging
        tx = plugged["transactionInfo"]["transactionId"]
        assert cp.active_transactions() == {1: tx}
        stop = call.RequestStopTransaction(transaction_id=tx)
        assert (await csms.send(stop)).status == "Accepted"
        ended = await csms.wait_event("RemoteStop")
        await asyncio.sleep(0.1)
        assert statuses(csms, 1)[-1] == "Occupied"  # the cable is still in
        result = await cp.unplug(1)
        assert statuses(csms, 1)[-1] == "Available"
        assert await cp.unplug(1) is None

    assert plugged["eventType"] == "Started"
    assert "idToken" not in plugged
    assert plugged["transactionInfo"]["chargingState"] == "EVConnected"
    assert plugged["evse"] == {"id": 1, "connectorId": 1}
    assert remote["eventType"] == "Updated"
    assert remote["idToken"] == {"idToken": "ACCOUNT-1", "type": "Central"}
    assert remote["transactionInfo"]["remoteStartId"] == 42
    assert remote["transactionInfo"]["transactionId"] == tx
    assert flow(csms.events())[:3] == [
        ("Started", "CablePluggedIn"),
        ("Updated", "RemoteStart"),
        ("Updated", "ChargingStateChanged"),
    ]
    assert ended["eventType"] == "Ended"
    assert ended["transactionInfo"]["stoppedReason"] == "Remote"
    assert result is not None
    assert result.transaction_id == tx
    assert result.energy_wh == energy_of(ended) - energy_of(plugged) > 0


async def test_unplugging_ends_the_transaction_with_ev_disconnected(csms: MiniCsms) -> None:
    async with SimulatedCharger201(make_config(csms), time_scale=60) as cp:
        await cp.plug_in(2)  # TxStartPoint PowerPathClosed: no transaction at plug-in
        assert csms.events() == []
        request = call.RequestStartTransaction(id_token=CENTRAL, remote_start_id=5, evse_id=2)
        assert (await csms.send(request)).status == "Accepted"
        started = await csms.wait_event("RemoteStart")
        await csms.wait_event("MeterValuePeriodic", count=2)
        result = await cp.unplug(2)
    ended = csms.events()[-1]
    assert started["eventType"] == "Started"
    assert started["transactionInfo"]["remoteStartId"] == 5
    assert (ended["eventType"], ended["triggerReason"]) == ("Ended", "EVCommunicationLost")
    assert ended["transactionInfo"]["stoppedReason"] == "EVDisconnected"
    assert statuses(csms, 2)[-2:] == ["Occupied", "Available"]
    assert result is not None and result.energy_wh > 0


async def test_mac_and_emaid_tokens_at_neighbouring_evses(csms: MiniCsms) -> None:
    csms.token_status["AABBCCDDEEFF"] = "Invalid"  # the CSMS does not know this car yet
    async with SimulatedCharger201(make_config(csms), time_scale=60) as cp:
        cp.variables[TX_START].value = "EVConnected"
        await asyncio.gather(
            cp.plug_in(1, autocharge_mac="aa:bb:cc:dd:ee:ff"),
            cp.plug_in(2, emaid="DE8ACC12345678"),
        )
        authorized = await csms.wait_event("Authorized")  # EVSE 2 starts by itself
        await asyncio.sleep(0.1)
        waiting = cp.connectors[1]
        assert waiting.waiting_for_start  # EVSE 1 refused: still plugged in, waiting
        unplugged = await cp.unplug(1)
        await cp.unplug(2)
    tokens = sorted(
        (p["idToken"]["type"], p["idToken"]["idToken"]) for p in csms.payloads("Authorize")
    )
    assert tokens == [("MacAddress", "AABBCCDDEEFF"), ("eMAID", "DE8ACC12345678")]
    assert authorized["idToken"] == {"idToken": "DE8ACC12345678", "type": "eMAID"}
    assert authorized["eventType"] == "Updated"
    ended = [e for e in csms.events() if e["eventType"] == "Ended"]
    assert {e["transactionInfo"]["stoppedReason"] for e in ended} == {"EVDisconnected"}
    assert len(ended) == 2  # the waiting plug-in transaction ends too
    assert unplugged is not None and unplugged.energy_wh == 0
    assert statuses(csms, 1)[-1] == statuses(csms, 2)[-1] == "Available"


async def test_unplugging_a_waiting_car_without_a_transaction(csms: MiniCsms) -> None:
    async with SimulatedCharger201(make_config(csms)) as cp:
        await cp.plug_in(1)
        assert await cp.unplug(1) is None
        assert not cp.connectors[1].busy
    assert csms.events() == []
    assert statuses(csms, 1)[-2:] == ["Occupied", "Available"]


async def test_suspended_ev_is_reported_and_the_meter_stops(csms: MiniCsms) -> None:
    async with SimulatedCharger201(make_config(csms), time_scale=60) as cp:
        conn = cp.connectors[1]
        conn.ev_power_w = 0.0  # a car on a departure timer: plugged in, takes nothing
        await cp.plug_in(1)
        request = call.RequestStartTransaction(id_token=CENTRAL, remote_start_id=1, evse_id=1)
        await csms.send(request)
        await csms.wait_event("MeterValuePeriodic", count=3)
        conn.ev_power_w = 7_400.0
        await csms.wait_event("ChargingStateChanged", count=3)
        count = len([e for e in csms.events() if e["triggerReason"] == "MeterValuePeriodic"])
        await csms.wait_event("MeterValuePeriodic", count=count + 2)
        await cp.unplug(1)
    states = [
        e["transactionInfo"]["chargingState"]
        for e in csms.events()
        if e["triggerReason"] == "ChargingStateChanged"
    ]
    assert states == ["Charging", "SuspendedEV", "Charging"]
    periodic = [e for e in csms.events() if e["triggerReason"] == "MeterValuePeriodic"]
    assert energy_of(periodic[0]) == energy_of(periodic[2])  # suspended: no energy
    assert energy_of(periodic[-1]) > energy_of(periodic[2])
