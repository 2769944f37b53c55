"""The OCPP 2.0.1 charger simulator against a tiny real 2.0.1 CSMS on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

import pytest
from ocpp.exceptions import OCPPError
from ocpp.messages import unpack, validate_payload
from ocpp.routing import on as _untyped_on
from ocpp.v201 import ChargePoint, call, call_result
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from simulators.charger import (
    OCPP201,
    ChargerConfig,
    SimulatedCharger201,
    cli,
    create_charger,
)

ENERGY = "Energy.Active.Import.Register"
_F = TypeVar("_F", bound=Callable[..., Any])


def on(action: str) -> Callable[[_F], _F]:
    return cast(Callable[[_F], _F], _untyped_on(action))


# -- a tiny 2.0.1 central system ---------------------------------------------------------


class MiniCsms:
    """Records every CALL it receives (camelCase), checks it against the 2.0.1 schemas,
    and answers like a permissive CSMS."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str, dict[str, Any]]] = []  # (cp id, action, payload)
        self.invalid: list[str] = []  # frames that failed schema validation
        self.changed = asyncio.Condition()
        self.cps: dict[str, CsmsSide] = {}
        self.boot_status = "Accepted"
        self.boot_interval = 300
        self.token_status: dict[str, str] = {}  # Authorize and TransactionEvent idTokenInfo
        self.server: Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"

    async def start(self) -> None:
        self.server = await serve(
            self._handle, "127.0.0.1", 0, subprotocols=[Subprotocol("ocpp2.0.1")]
        )
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _handle(self, ws: ServerConnection) -> None:
        cp_id = ws.request.path.rsplit("/", 1)[-1] if ws.request else "?"
        cp = CsmsSide(cp_id, ws, self)
        self.cps[cp_id] = cp
        with contextlib.suppress(ConnectionClosed):
            await cp.start()

    async def record(self, cp_id: str, action: str, payload: dict[str, Any]) -> None:
        async with self.changed:
            self.received.append((cp_id, action, payload))
            self.changed.notify_all()

    def actions(self, cp_id: str = "CP1") -> list[str]:
        return [action for who, action, _ in self.received if who == cp_id]

    def payloads(self, action: str, cp_id: str = "CP1") -> list[dict[str, Any]]:
        return [p for who, name, p in self.received if who == cp_id and name == action]

    def events(self, cp_id: str = "CP1") -> list[dict[str, Any]]:
        return self.payloads("TransactionEvent", cp_id)

    def statuses(self, cp_id: str = "CP1") -> list[tuple[int, str]]:
        return [
            (p["evseId"], p["connectorStatus"]) for p in self.payloads("StatusNotification", cp_id)
        ]

    async def wait_until(self, check: Callable[[], bool], seconds: float = 3.0) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(check), seconds)

    async def wait_for(self, action: str, count: int = 1, cp_id: str = "CP1") -> dict[str, Any]:
        await self.wait_until(lambda: len(self.payloads(action, cp_id)) >= count)
        return self.payloads(action, cp_id)[count - 1]

    async def wait_event(self, trigger: str, count: int = 1) -> dict[str, Any]:
        def matching() -> list[dict[str, Any]]:
            return [e for e in self.events() if e["triggerReason"] == trigger]

        await self.wait_until(lambda: len(matching()) >= count)
        return matching()[count - 1]

    async def send(self, payload: Any, cp_id: str = "CP1") -> Any:
        return await self.cps[cp_id].call(payload)


class CsmsSide(ChargePoint):  # type: ignore[misc]
    def __init__(self, cp_id: str, ws: ServerConnection, csms: MiniCsms) -> None:
        super().__init__(cp_id, ws, response_timeout=5)
        self.csms = csms

    async def route_message(self, raw_msg: str) -> None:
        msg = json.loads(raw_msg)
        if isinstance(msg, list) and len(msg) == 4 and msg[0] == 2:
            try:
                await validate_payload(unpack(raw_msg), "2.0.1")
            except OCPPError as exc:
                self.csms.invalid.append(f"{raw_msg}: {exc}")
            await self.csms.record(self.id, msg[2], msg[3])
        await super().route_message(raw_msg)

    @staticmethod
    def _now() -> str:
        return datetime.now(UTC).isoformat()

    @on("BootNotification")
    def on_boot(self, **_: Any) -> Any:
        return call_result.BootNotification(
            current_time=self._now(), interval=self.csms.boot_interval, status=self.csms.boot_status
        )

    @on("Heartbeat")
    def on_heartbeat(self, **_: Any) -> Any:
        return call_result.Heartbeat(current_time=self._now())

    @on("StatusNotification")
    def on_status(self, **_: Any) -> Any:
        return call_result.StatusNotification()

    @on("Authorize")
    def on_authorize(self, id_token: dict[str, Any], **_: Any) -> Any:
        status = self.csms.token_status.get(id_token["id_token"], "Accepted")
        return call_result.Authorize(id_token_info={"status": status})

    @on("TransactionEvent")
    def on_transaction_event(self, id_token: dict[str, Any] | None = None, **_: Any) -> Any:
        if id_token is None:
            return call_result.TransactionEvent()
        status = self.csms.token_status.get(id_token["id_token"], "Accepted")
        return call_result.TransactionEvent(id_token_info={"status": status})

    @on("MeterValues")
    def on_meter_values(self, **_: Any) -> Any:
        return call_result.MeterValues()

    @on("NotifyReport")
    def on_notify_report(self, **_: Any) -> Any:
        return call_result.NotifyReport()

    @on("NotifyEvent")
    def on_notify_event(self, **_: Any) -> Any:
        return call_result.NotifyEvent()

    @on("SecurityEventNotification")
    def on_security_event(self, **_: Any) -> Any:
        return call_result.SecurityEventNotification()

    @on("FirmwareStatusNotification")
    def on_firmware_status(self, **_: Any) -> Any:
        return call_result.FirmwareStatusNotification()

    @on("LogStatusNotification")
    def on_log_status(self, **_: Any) -> Any:
        return call_result.LogStatusNotification()

    @on("DataTransfer")
    def on_data_transfer(self, vendor_id: str, **_: Any) -> Any:
        return call_result.DataTransfer(status="Accepted", data={"echo": vendor_id})


@pytest.fixture
async def csms() -> AsyncIterator[MiniCsms]:
    central = MiniCsms()
    await central.start()
    yield central
    await central.stop()
    assert central.invalid == []  # every frame the simulator sent was schema-valid


def make_config(csms: MiniCsms, **overrides: Any) -> ChargerConfig:
    values: dict[str, Any] = {
        "url": csms.url,
        "charge_point_id": "CP1",
        "protocol": OCPP201,
        "meter_interval_s": 0.05,
        "call_timeout_s": 2.0,
        "reconnect_delay_s": 0.05,
    }
    values.update(overrides)
    return ChargerConfig(**values)


def energy_of(event: dict[str, Any]) -> float:
    (sample,) = [s for s in event["meterValue"][0]["sampledValue"] if s.get("measurand") == ENERGY]
    return cast(float, sample["value"])


def contexts(event: dict[str, Any]) -> set[str]:
    return {s["context"] for s in event["meterValue"][0]["sampledValue"]}


def flow(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["eventType"], e["triggerReason"]) for e in events]


def variable_item(component: str, variable: str, **extra: Any) -> dict[str, Any]:
    return {"component": {"name": component}, "variable": {"name": variable}, **extra}


# -- boot, sessions ----------------------------------------------------------------------


async def test_boot_and_statuses(csms: MiniCsms) -> None:
    config = make_config(csms, serial_number="SN-1")
    cp = create_charger(config)
    assert isinstance(cp, SimulatedCharger201)
    async with cp:
        await csms.wait_for("StatusNotification", count=2)
        assert cp.boot_status == "Accepted"
        assert cp.heartbeat_interval == 300
        assert cp.variable("OCPPCommCtrlr", "HeartbeatInterval") == "300"
        assert cp.connector_status == {(1, 1): "Available", (2, 1): "Available"}
        assert isinstance(await cp.heartbeat(), datetime)
    boot = csms.payloads("BootNotification")[0]
    assert boot == {
        "chargingStation": {
            "vendorName": "SimVendor",
            "model": "SimModel-1",
            "firmwareVersion": "1.0.0",
            "serialNumber": "SN-1",
        },
        "reason": "PowerUp",
    }
    status = csms.payloads("StatusNotification")[0]
    assert status["evseId"] == 1
    assert status["connectorId"] == 1
    assert status["connectorStatus"] == "Available"
    assert csms.statuses() == [(1, "Available"), (2, "Available")]
    assert csms.actions()[:3] == ["BootNotification", "StatusNotification", "StatusNotification"]


async def test_session_starting_at_plug_in(csms: MiniCsms) -> None:
    async with SimulatedCharger201(make_config(csms), time_scale=60) as cp:
        result = await cp.run_session(1, "TAG1", meter_samples=3, tx_start_point="EVConnected")
        await csms.wait_until(lambda: csms.statuses()[-1] == (1, "Available"))
    events = csms.events()
    assert flow(events) == [
        ("Started", "CablePluggedIn"),
        ("Updated", "Authorized"),
        ("Updated", "ChargingStateChanged"),
        ("Updated", "MeterValuePeriodic"),
        ("Updated", "MeterValuePeriodic"),
        ("Updated", "MeterValuePeriodic"),
        ("Ended", "EVCommunicationLost"),
    ]
    started, authorized, charging, *periodic, ended = events
    # The transaction starts at plug-in, before Authorize, without an idToken.
    actions = csms.actions()
    assert actions.index("TransactionEvent") < actions.index("Authorize")
    assert "idToken" not in started
    assert started["evse"] == {"id": 1, "connectorId": 1}
    assert started["transactionInfo"]["chargingState"] == "EVConnected"
    assert energy_of(started) == 1_000_000
    assert contexts(started) == {"Transaction.Begin"}
    assert authorized["idToken"] == {"idToken": "TAG1", "type": "ISO14443"}
    assert csms.payloads("Authorize") == [{"idToken": {"idToken": "TAG1", "type": "ISO14443"}}]
    assert charging["transactionInfo"]["chargingState"] == "Charging"
    assert all("evse" not in e for e in events[1:])
    # 11 kW for 0.05 s x 60 = 3 simulated seconds per sample = 9.17 Wh.
    assert [energy_of(e) for e in periodic] == [1_000_009, 1_000_018, 1_000_027]
    assert all(contexts(e) == {"Sample.Periodic"} for e in periodic)
    assert ended["transactionInfo"]["stoppedReason"] == "EVDisconnected"
    assert ended["transactionInfo"]["chargingState"] == "Idle"
    assert energy_of(ended) == 1_000_027
    assert contexts(ended) == {"Transaction.End"}
    tx_ids = {e["transactionInfo"]["transactionId"] for e in events}
    assert tx_ids == {result.transaction_id}
    assert isinstance(result.transaction_id, str)
    assert [e["seqNo"] for e in events] == list(range(7))
    assert csms.statuses()[-2:] == [(1, "Occupied"), (1, "Available")]
    assert (result.id_tag_status, result.energy_wh, result.samples_sent) == ("Accepted", 27, 3)
    assert cp.active_transactions() == {}


async def test_session_starting_when_authorized(csms: MiniCsms) -> None:
    async with SimulatedCharger201(make_config(csms), time_scale=60) as cp:
        assert cp.variable("TxCtrlr", "TxStartPoint") == "PowerPathClosed"
        first = await cp.run_session(2, "TAG2", energy_wh=20)
        cp.variables[("TxCtrlr", "TxStopPoint")].value = "EVConnected,Authorized"
        second = await cp.run_session(2, "TAG2", duration_s=6)
    events = csms.events()
    first_events = [
        e for e in events if e["transactionInfo"]["transactionId"] == first.transaction_id
    ]
    assert flow(first_events) == [
        ("Started", "Authorized"),
        ("Updated", "ChargingStateChanged"),
        ("Updated", "MeterValuePeriodic"),
        ("Updated", "MeterValuePeriodic"),
        ("Updated", "MeterValuePeriodic"),
        ("Ended", "EVCommunicationLost"),
    ]
    started = first_events[0]
    assert started["idToken"] == {"idToken": "TAG2", "type": "ISO14443"}
    assert started["evse"] == {"id": 2, "connectorId": 1}
    actions = csms.actions()
    assert actions.index("Authorize") < actions.index("TransactionEvent")
    assert first.energy_wh == 20
    # TxStopPoint with Authorized: the driver's card stops the transaction.
    ended = events[-1]
    assert ended["triggerReason"] == "StopAuthorized"
    assert ended["transactionInfo"]["stoppedReason"] == "Local"
    assert ended["idToken"]["idToken"] == "TAG2"
    assert second.meter_start == first.meter_stop
    assert second.transaction_id != first.transaction_id
    # seqNo runs on across transactions: one counter per charger.
    seq = [e["seqNo"] for e in events]
    assert seq == list(range(len(events)))


async def test_free_charging_without_authorization(csms: MiniCsms) -> None:
    async with SimulatedCharger201(make_config(csms), time_scale=60) as cp:
        result = await cp.run_session(1, "", token_type="NoAuthorization", meter_samples=1)
        await cp.run_session(
            2, "", token_type="NoAuthorization", meter_samples=1, tx_start_point="EVConnected"
        )
    assert "Authorize" not in csms.actions()
    started = [e for e in csms.events() if e["eventType"] == "Started"]
    free = {"idToken": "", "type": "NoAuthorization"}
    assert [(e["triggerReason"], e["idToken"]) for e in started] == [
        ("Authorized", free),
        ("CablePluggedIn", free),
    ]
    assert not [e for e in csms.events() if e["triggerReason"] == "Authorized"][1:]
    assert result.id_tag_status == "Accepted"


async def test_refused_tokens(csms: MiniCsms) -> None:
    csms.token_status["BAD"] = "Invalid"
    async with SimulatedCharger201(make_config(csms), time_scale=60) as cp:
        refused = await cp.run_session(1, "BAD", meter_samples=3)
        assert refused.transaction_id is None
        assert refused.id_tag_status == "Invalid"
        assert csms.events() == []
        # Not authorized locally, but the CSMS refuses it in the TransactionEvent answer.
        csms.token_status["BAD"] = "Blocked"
        deauthorized = await cp.run_session(1, "BAD", meter_samples=3, authorize=False)
    assert deauthorized.id_tag_status == "Blocked"
    assert deauthorized.samples_sent == 0
    assert flow(csms.events()) == [("Started", "Authorized"), ("Ended", "Deauthorized")]
    assert csms.events()[-1]["transactionInfo"]["stoppedReason"] == "DeAuthorized"
    assert csms.statuses()[-4:] == [
        (1, "Occupied"),
        (1, "Available"),
        (1, "Occupied"),
        (1, "Available"),
    ]


async def test_measurands_and_energy_units(csms: MiniCsms) -> None:
    with pytest.raises(ValueError, match="energy_unit"):
        SimulatedCharger201(make_config(csms, energy_unit="MWh"))
    config = make_config(csms, energy_unit="kWh", energy_multiplier=0)
    async with SimulatedCharger201(config, time_scale=60) as cp:
        answer = await csms.send(
            call.SetVariables(
                set_variable_data=[
                    variable_item(
                        "SampledDataCtrlr",
                        "TxUpdatedMeasurands",
                        attribute_value=f"{ENERGY},Power.Active.Import,Current.Import,Voltage",
                    )
                ]
            )
        )
        assert answer.set_variable_result[0]["attribute_status"] == "Accepted"
        await cp.run_session(1, "TAG", meter_samples=1)
        tx = "a" * 32
        await cp.transaction_event(
            "Started",
            "Authorized",
            tx,
            evse_id=2,
            id_token="T",
            meter_wh=1_234_567,
            unit="Wh",
            multiplier=3,
        )
        await cp.transaction_event("Ended", "StopAuthorized", tx, meter_wh=1_234_600, unit="Wh")
        await cp.meter_values(2, unit="kWh", multiplier=-1)
    periodic = next(e for e in csms.events() if e["triggerReason"] == "MeterValuePeriodic")
    sampled = periodic["meterValue"][0]["sampledValue"]
    by_measurand: dict[str, list[dict[str, Any]]] = {}
    for sample in sampled:
        by_measurand.setdefault(sample["measurand"], []).append(sample)
    (energy,) = by_measurand[ENERGY]
    assert energy["value"] == 1000.009
    assert energy["unitOfMeasure"] == {"unit": "kWh", "multiplier": 0}
    assert by_measurand["Power.Active.Import"][0]["value"] == 11_000
    assert [s["phase"] for s in by_measurand["Current.Import"]] == ["L1", "L2", "L3"]
    assert by_measurand["Current.Import"][0]["value"] == pytest.approx(15.9)
    assert [s["phase"] for s in by_measurand["Voltage"]] == ["L1-N", "L2-N", "L3-N"]
    started, ended = csms.events()[-2:]
    assert started["meterValue"][0]["sampledValue"][0]["value"] == 1234.567
    assert started["meterValue"][0]["sampledValue"][0]["unitOfMeasure"] == {
        "unit": "Wh",
        "multiplier": 3,
    }
    assert ended["meterValue"][0]["sampledValue"][0]["value"] == 1_234_600
    assert ended["meterValue"][0]["sampledValue"][0]["context"] == "Transaction.End"
    (mv,) = csms.payloads("MeterValues")
    assert mv["evseId"] == 2
    sample = mv["meterValue"][0]["sampledValue"][0]
    assert (sample["value"], sample["context"]) == (12346, "Sample.Clock")
    assert sample["unitOfMeasure"] == {"unit": "kWh", "multiplier": -1}


# -- answering the CSMS ------------------------------------------------------------------


async def test_request_start_and_stop(csms: MiniCsms) -> None:
    async with SimulatedCharger201(make_config(csms), time_scale=60) as cp:
        request = call.RequestStartTransaction(
            id_token={"id_token": "REM", "type": "Central"}, remote_start_id=7, evse_id=1
        )
        assert (await csms.send(request)).status == "Accepted"
        assert (await csms.send(request)).status == "Rejected"  # EVSE 1 is taken
        started = await csms.wait_event("RemoteStart")
        await csms.wait_event("MeterValuePeriodic", count=2)
        tx = started["transactionInfo"]["transactionId"]
        assert cp.active_transactions() == {1: tx}
        unknown = await csms.send(call.RequestStopTransaction(transaction_id="nope"))
        assert unknown.status == "Rejected"
        stopped = await csms.send(call.RequestStopTransaction(transaction_id=tx))
        assert stopped.status == "Accepted"
        ended = await csms.wait_event("RemoteStop")
        await csms.wait_until(lambda: csms.statuses()[-1] == (1, "Available"))
        assert cp.active_transactions() == {}
        assert cp.received_calls[0] == (
            "RequestStartTransaction",
            {"idToken": {"idToken": "REM", "type": "Central"}, "remoteStartId": 7, "evseId": 1},
        )
        assert await cp.wait_for_call("RequestStopTransaction") == {"transactionId": "nope"}
    assert started["eventType"] == "Started"
    assert started["transactionInfo"]["remoteStartId"] == 7
    assert started["idToken"] == {"idToken": "REM", "type": "Central"}
    assert "Authorize" not in csms.actions()  # AuthCtrlr.AuthorizeRemoteStart is false
    assert ended["eventType"] == "Ended"
    assert ended["transactionInfo"]["stoppedReason"] == "Remote"
    assert flow(csms.events())[:2] == [
        ("Started", "RemoteStart"),
        ("Updated", "ChargingStateChanged"),
    ]
    assert csms.statuses()[-2:] == [(1, "Occupied"), (1, "Available")]


async def test_remote_start_at_plug_in_authorizes_when_configured(csms: MiniCsms) -> None:
    async with SimulatedCharger201(make_config(csms), time_scale=60) as cp:
        cp.variables[("AuthCtrlr", "AuthorizeRemoteStart")].value = "true"
        cp.variables[("TxCtrlr", "TxStartPoint")].value = "EVConnected"
        request = call.RequestStartTransaction(
            id_token={"id_token": "REM", "type": "ISO14443"}, remote_start_id=3
        )
        assert (await csms.send(request)).status == "Accepted"
        remote = await csms.wait_event("RemoteStart")
        await csms.send(
            call.RequestStopTransaction(transaction_id=remote["transactionInfo"]["transactionId"])
        )
        await csms.wait_event("RemoteStop")
    assert flow(csms.events())[:2] == [("Started", "CablePluggedIn"), ("Updated", "RemoteStart")]
    assert remote["transactionInfo"]["remoteStartId"] == 3
    actions = csms.actions()
    assert actions.index("Authorize") < actions.index(
        "TransactionEvent", actions.index("TransactionEvent") + 1
    )


async def test_reset_immediate_ends_transactions_and_reboots(csms: MiniCsms) -> None:
    async with SimulatedCharger201(make_config(csms), time_scale=60) as cp:
        session = asyncio.create_task(cp.run_session(2, "TAG"))
        await csms.wait_event("MeterValuePeriodic")
        assert (await csms.send(call.Reset(type="Immediate"))).status == "Accepted"
        result = await session
        reboot = await csms.wait_for("BootNotification", count=2)
        await csms.wait_until(lambda: csms.actions().count("StatusNotification") >= 6)
        assert cp.connected
    ended = csms.events()[-1]
    assert ended["triggerReason"] == "ResetCommand"
    assert ended["transactionInfo"]["stoppedReason"] == "ImmediateReset"
    assert energy_of(ended) == result.meter_stop
    assert reboot["reason"] == "RemoteReset"
    actions = csms.actions()
    assert "TransactionEvent" not in actions[actions.index("BootNotification", 1) :]


async def test_reset_on_idle_waits_for_the_transaction(csms: MiniCsms) -> None:
    async with SimulatedCharger201(make_config(csms), time_scale=60) as cp:
        assert (await csms.send(call.Reset(type="OnIdle", evse_id=9))).status == "Rejected"
        session = asyncio.create_task(cp.run_session(1, "TAG"))
        started = await csms.wait_event("MeterValuePeriodic")
        assert (await csms.send(call.Reset(type="OnIdle"))).status == "Scheduled"
        await asyncio.sleep(0.1)
        assert csms.actions().count("BootNotification") == 1
        tx = started["transactionInfo"]["transactionId"]
        await csms.send(call.RequestStopTransaction(transaction_id=tx))
        await session
        reboot = await csms.wait_for("BootNotification", count=2)
    assert reboot["reason"] == "RemoteReset"
    assert csms.events()[-1]["transactionInfo"]["stoppedReason"] == "Remote"


async def test_evse_reset_and_parking_bay_points(csms: MiniCsms) -> None:
    async with SimulatedCharger201(make_config(csms), time_scale=60) as cp:
        cp.variables[("TxCtrlr", "TxStopPoint")].value = "ParkingBayOccupancy"
        parked = await cp.run_session(
            1, "TAG", meter_samples=1, tx_start_point="ParkingBayOccupancy"
        )
        session = asyncio.create_task(cp.run_session(2, "TAG"))
        await csms.wait_event("MeterValuePeriodic", count=2)
        assert (await csms.send(call.Reset(type="Immediate", evse_id=2))).status == "Accepted"
        reset = await session
        await asyncio.sleep(0.05)
        assert cp.connected  # an EVSE reset does not reboot the station
        assert csms.actions().count("BootNotification") == 1
    parked_events = [
        e for e in csms.events() if e["transactionInfo"]["transactionId"] == parked.transaction_id
    ]
    assert flow(parked_events)[0] == ("Started", "EVDetected")
    assert flow(parked_events)[-1] == ("Ended", "EVDeparted")
    ended = csms.events()[-1]
    assert ended["transactionInfo"]["transactionId"] == reset.transaction_id
    assert (ended["triggerReason"], ended["transactionInfo"]["stoppedReason"]) == (
        "ResetCommand",
        "ImmediateReset",
    )


async def test_unlock_connector(csms: MiniCsms) -> None:
    async with SimulatedCharger201(make_config(csms)) as cp:
        unlocked = await csms.send(call.UnlockConnector(evse_id=1, connector_id=1))
        assert unlocked.status == "Unlocked"
        unknown = await csms.send(call.UnlockConnector(evse_id=5, connector_id=1))
        assert unknown.status == "UnknownConnector"
        await cp.transaction_event("Started", "Authorized", "tx-1", evse_id=1, id_token="TAG")
        ongoing = await csms.send(call.UnlockConnector(evse_id=1, connector_id=1))
        assert ongoing.status == "OngoingAuthorizedTransaction"


async def test_change_availability(csms: MiniCsms) -> None:
    async with SimulatedCharger201(make_config(csms)) as cp:
        inoperative = call.ChangeAvailability(operational_status="Inoperative", evse={"id": 2})
        assert (await csms.send(inoperative)).status == "Accepted"
        await csms.wait_until(lambda: (2, "Unavailable") in csms.statuses())
        start_on_2 = call.RequestStartTransaction(
            id_token={"id_token": "T", "type": "ISO14443"}, remote_start_id=1, evse_id=2
        )
        assert (await csms.send(start_on_2)).status == "Rejected"

        await cp.transaction_event("Started", "Authorized", "tx-9", evse_id=1, id_token="TAG")
        await cp.status(1, "Occupied")
        busy = call.ChangeAvailability(operational_status="Inoperative", evse={"id": 1})
        assert (await csms.send(busy)).status == "Scheduled"
        await csms.send(call.RequestStopTransaction(transaction_id="tx-9"))
        await csms.wait_until(lambda: cp.connector_status.get((1, 1)) == "Unavailable")

        back = call.ChangeAvailability(operational_status="Operative")
        assert (await csms.send(back)).status == "Accepted"
        await csms.wait_until(
            lambda: (
                cp.connector_status.get((1, 1)) == cp.connector_status.get((2, 1)) == "Available"
            )
        )
        unknown = call.ChangeAvailability(operational_status="Operative", evse={"id": 7})
        assert (await csms.send(unknown)).status == "Rejected"
    ended = csms.events()[-1]
    assert (ended["triggerReason"], ended["transactionInfo"]["stoppedReason"]) == (
        "RemoteStop",
        "Remote",
    )
    statuses = csms.statuses()
    assert statuses.index((1, "Available"), 2) > statuses.index((1, "Unavailable"))


async def test_get_and_set_variables(csms: MiniCsms) -> None:
    async with SimulatedCharger201(make_config(csms)) as cp:
        got = await csms.send(
            call.GetVariables(
                get_variable_data=[
                    variable_item("OCPPCommCtrlr", "HeartbeatInterval"),
                    variable_item("TxCtrlr", "TxStartPoint", attribute_type="Actual"),
                    variable_item("SecurityCtrlr", "Identity"),
                    variable_item("NoSuchCtrlr", "HeartbeatInterval"),
                    variable_item("TxCtrlr", "NoSuchVariable"),
                    variable_item("TxCtrlr", "TxStopPoint", attribute_type="Target"),
                ]
            )
        )
        results = [
            (r["attribute_status"], r.get("attribute_value")) for r in got.get_variable_result
        ]
        assert results == [
            ("Accepted", "300"),
            ("Accepted", "PowerPathClosed"),
            ("Accepted", "CP1"),
            ("UnknownComponent", None),
            ("UnknownVariable", None),
            ("NotSupportedAttributeType", None),
        ]
        assert got.get_variable_result[1]["component"] == {"name": "TxCtrlr"}
        assert got.get_variable_result[1]["attribute_type"] == "Actual"

        async def set_one(component: str, variable: str, value: str) -> str:
            answer = await csms.send(
                call.SetVariables(
                    set_variable_data=[variable_item(component, variable, attribute_value=value)]
                )
            )
            return str(answer.set_variable_result[0]["attribute_status"])

        assert await set_one("OCPPCommCtrlr", "HeartbeatInterval", "60") == "Accepted"
        assert cp.heartbeat_interval == 60
        assert await set_one("OCPPCommCtrlr", "HeartbeatInterval", "soon") == "Rejected"
        assert await set_one("SecurityCtrlr", "Identity", "X") == "Rejected"
        assert await set_one("DeviceDataCtrlr", "ItemsPerMessage", "5") == "Rejected"
        assert await set_one("TxCtrlr", "TxStartPoint", "EVConnected, Authorized") == "Accepted"
        assert await set_one("TxCtrlr", "TxStartPoint", "Whenever") == "Rejected"
        assert await set_one("TxCtrlr", "TxStopPoint", "") == "Rejected"
        assert await set_one("AuthCtrlr", "AuthorizeRemoteStart", "TRUE") == "Accepted"
        assert await set_one("AuthCtrlr", "Enabled", "maybe") == "Rejected"
        assert await set_one("SampledDataCtrlr", "TxUpdatedInterval", "2") == "Accepted"
        assert cp.meter_interval_s == 2.0
        assert await set_one("Nope", "X", "1") == "UnknownComponent"
        assert await set_one("TxCtrlr", "X", "1") == "UnknownVariable"
        assert cp.variable("TxCtrlr", "TxStartPoint") == "EVConnected,Authorized"
        assert cp.variable("AuthCtrlr", "AuthorizeRemoteStart") == "true"
        again = await csms.send(
            call.GetVariables(
                get_variable_data=[variable_item("OCPPCommCtrlr", "HeartbeatInterval")]
            )
        )
        assert again.get_variable_result[0]["attribute_value"] == "60"
        assert [name for name, _ in cp.received_calls].count("SetVariables") == 12


async def test_get_base_report_sends_notify_reports(csms: MiniCsms) -> None:
    async with SimulatedCharger201(make_config(csms)) as cp:
        full = await csms.send(call.GetBaseReport(request_id=11, report_base="FullInventory"))
        assert full.status == "Accepted"
        await csms.wait_until(lambda: any(not p["tbc"] for p in csms.payloads("NotifyReport")))
        reports = csms.payloads("NotifyReport")
        assert len(reports) > 1
        assert [r["seqNo"] for r in reports] == list(range(len(reports)))
        assert [r["tbc"] for r in reports] == [True] * (len(reports) - 1) + [False]
        assert {r["requestId"] for r in reports} == {11}
        assert all(len(r["reportData"]) <= 10 for r in reports)  # ItemsPerMessage
        items = [item for r in reports for item in r["reportData"]]
        by_name = {(i["component"]["name"], i["variable"]["name"]): i for i in items}
        heartbeat = by_name[("OCPPCommCtrlr", "HeartbeatInterval")]
        assert heartbeat["variableAttribute"] == [
            {
                "type": "Actual",
                "value": "300",
                "mutability": "ReadWrite",
                "persistent": True,
                "constant": False,
            }
        ]
        assert heartbeat["variableCharacteristics"]["dataType"] == "integer"
        assert (
            by_name[("SecurityCtrlr", "Identity")]["variableAttribute"][0]["mutability"]
            == "ReadOnly"
        )
        assert ("TxCtrlr", "TxStartPoint") in by_name
        # + ChargingStation, EVSE and Connector AvailabilityState (one name for all EVSEs)
        assert len(by_name) == len(cp.variables) + 3

        csms.received.clear()
        config = await csms.send(
            call.GetBaseReport(request_id=12, report_base="ConfigurationInventory")
        )
        assert config.status == "Accepted"
        await csms.wait_until(lambda: any(not p["tbc"] for p in csms.payloads("NotifyReport")))
        items = [item for r in csms.payloads("NotifyReport") for item in r["reportData"]]
        assert {i["variableAttribute"][0]["mutability"] for i in items} == {"ReadWrite"}

        csms.received.clear()
        summary = await csms.send(call.GetBaseReport(request_id=13, report_base="SummaryInventory"))
        assert summary.status == "Accepted"
        (report,) = [await csms.wait_for("NotifyReport")]
        assert report["tbc"] is False
        assert [
            (i["component"]["name"], i["component"].get("evse")) for i in report["reportData"]
        ] == [
            ("ChargingStation", None),
            ("EVSE", {"id": 1}),
            ("Connector", {"id": 1, "connectorId": 1}),
            ("EVSE", {"id": 2}),
            ("Connector", {"id": 2, "connectorId": 1}),
        ]
        assert {i["variableAttribute"][0]["value"] for i in report["reportData"]} == {"Available"}


async def test_trigger_message(csms: MiniCsms) -> None:
    async with SimulatedCharger201(make_config(csms)) as cp:

        async def trigger(message: str, evse: dict[str, int] | None = None) -> str:
            answer = await csms.send(call.TriggerMessage(requested_message=message, evse=evse))
            return str(answer.status)

        for message in ("Heartbeat", "FirmwareStatusNotification", "LogStatusNotification"):
            assert await trigger(message) == "Accepted"
            await csms.wait_for(message)
        before = len(csms.statuses())
        assert await trigger("StatusNotification", {"id": 2, "connectorId": 1}) == "Accepted"
        await csms.wait_until(lambda: len(csms.statuses()) == before + 1)
        assert csms.statuses()[-1] == (2, "Available")
        assert await trigger("MeterValues", {"id": 1}) == "Accepted"
        meter = await csms.wait_for("MeterValues")
        assert meter["meterValue"][0]["sampledValue"][0]["context"] == "Trigger"

        assert await trigger("TransactionEvent") == "Rejected"  # no transaction
        await cp.transaction_event("Started", "Authorized", "tx-t", evse_id=1, id_token="TAG")
        assert await trigger("TransactionEvent", {"id": 1}) == "Accepted"
        triggered = await csms.wait_event("Trigger")
        assert triggered["transactionInfo"]["transactionId"] == "tx-t"
        assert contexts(triggered) == {"Trigger"}

        assert await trigger("BootNotification") == "Rejected"  # already accepted
        assert await trigger("SignV2GCertificate") == "NotImplemented"
        assert await trigger("Heartbeat", {"id": 9}) == "Rejected"
    assert csms.payloads("FirmwareStatusNotification") == [{"status": "Idle"}]


async def test_clear_cache_and_data_transfer(csms: MiniCsms) -> None:
    async with SimulatedCharger201(make_config(csms)) as cp:
        await cp.authorize("TAG")
        assert cp.auth_cache == {"TAG": "Accepted"}
        assert (await csms.send(call.ClearCache())).status == "Accepted"
        assert cp.auth_cache == {}
        transfer = await csms.send(call.DataTransfer(vendor_id="com.example", data="x"))
        assert transfer.status == "UnknownVendorId"
        assert [name for name, _ in cp.received_calls] == ["ClearCache", "DataTransfer"]


async def test_pending_boot_retries_and_triggered_boot(csms: MiniCsms) -> None:
    csms.boot_status, csms.boot_interval = "Pending", 1
    async with SimulatedCharger201(make_config(csms)) as cp:
        assert cp.boot_status == "Pending"
        await cp.status(1, "Available")
        assert "StatusNotification" not in csms.actions()
        csms.boot_status, csms.boot_interval = "Accepted", 300
        retried = await csms.wait_for("BootNotification", count=2)
        await csms.wait_until(lambda: len(csms.statuses()) == 2)
        assert cp.boot_status == "Accepted"
        assert retried["reason"] == "PowerUp"

    csms.received.clear()
    csms.boot_status, csms.boot_interval = "Pending", 60
    async with SimulatedCharger201(make_config(csms)) as cp:
        assert cp.boot_status == "Pending"
        csms.boot_status = "Accepted"
        assert (
            await csms.send(call.TriggerMessage(requested_message="BootNotification"))
        ).status == "Accepted"
        triggered = await csms.wait_for("BootNotification", count=2)
        await csms.wait_until(lambda: len(csms.statuses()) == 2)
    assert triggered["reason"] == "Triggered"


# -- offline queue -------------------------------------------------------------------------


async def test_offline_events_are_replayed_in_order(csms: MiniCsms) -> None:
    cp = SimulatedCharger201(make_config(csms))
    await cp.connect()
    online = await cp.transaction_event(
        "Started", "Authorized", "tx-off", evse_id=1, id_token="TAG", meter_wh=1_000_000
    )
    assert online == {"idTokenInfo": {"status": "Accepted"}}
    await cp.disconnect()
    t0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    queued = await cp.transaction_event(
        "Updated", "MeterValuePeriodic", "tx-off", meter_wh=1_000_500, timestamp=t0
    )
    assert queued is None
    await cp.transaction_event(
        "Ended",
        "StopAuthorized",
        "tx-off",
        meter_wh=1_001_000,
        stopped_reason="Local",
        timestamp=t0 + timedelta(minutes=5),
    )
    assert len(cp.queue) == 2
    assert cp.active_transactions() == {}
    assert csms.actions().count("TransactionEvent") == 1

    await cp.connect()
    await csms.wait_until(lambda: csms.actions().count("TransactionEvent") == 3)
    await asyncio.sleep(0.1)  # nothing is sent twice
    await cp.aclose()
    started, updated, ended = csms.events()
    assert "offline" not in started
    assert [e["seqNo"] for e in csms.events()] == [0, 1, 2]
    assert updated["offline"] is True
    assert ended["offline"] is True
    assert updated["timestamp"] == "2024-05-01T08:00:00.000Z"
    assert ended["timestamp"] == "2024-05-01T08:05:00.000Z"
    assert energy_of(ended) == 1_001_000
    assert {e["transactionInfo"]["transactionId"] for e in csms.events()} == {"tx-off"}
    # Replayed after the new boot and its statuses.
    actions = csms.actions()
    assert actions[actions.index("BootNotification", 1) :].count("TransactionEvent") == 2
    assert len(cp.queue) == 0


async def test_session_survives_a_dropped_connection(csms: MiniCsms) -> None:
    async with SimulatedCharger201(make_config(csms), time_scale=60) as cp:
        session = asyncio.create_task(cp.run_session(1, "TAG", meter_samples=8, authorize=False))
        await csms.wait_event("MeterValuePeriodic", count=2)
        await cp.disconnect()
        await asyncio.sleep(0.15)
        await cp.connect()
        result = await session
        await csms.wait_event("EVCommunicationLost")
    events = csms.events()
    assert [e["seqNo"] for e in events] == list(range(len(events)))  # none lost, none twice
    assert len([e for e in events if e["triggerReason"] == "MeterValuePeriodic"]) == 8
    assert any(e.get("offline") for e in events)
    assert not any(e.get("offline") for e in events[:3])
    assert {e["transactionInfo"]["transactionId"] for e in events} == {result.transaction_id}
    energies = [energy_of(e) for e in events if "meterValue" in e]
    assert energies == sorted(energies)


# -- station-initiated notifications, lifecycle, CLI ------------------------------------------


async def test_notifications(csms: MiniCsms) -> None:
    async with SimulatedCharger201(make_config(csms)) as cp:
        event_id = await cp.notify_event(
            "EVSE", "Problem", "true", evse_id=1, tech_info="overheated", cleared=False
        )
        await cp.security_event("FirmwareUpdated", tech_info="1.0.1")
        await cp.firmware_status("Installed", request_id=4)
        await cp.log_status("Uploaded", request_id=5)
        transfer = await cp.data_transfer("com.example", message_id="hello", data={"a": 1})
        await cp.meter_values(1, 1_000_100)
    assert transfer == {"status": "Accepted", "data": {"echo": "com.example"}}
    (notify,) = csms.payloads("NotifyEvent")
    assert notify["seqNo"] == 0
    (data,) = notify["eventData"]
    assert data["eventId"] == event_id
    assert data["component"] == {"name": "EVSE", "evse": {"id": 1}}
    assert (data["actualValue"], data["trigger"], data["cleared"]) == ("true", "Delta", False)
    assert csms.payloads("SecurityEventNotification")[0]["type"] == "FirmwareUpdated"
    assert csms.payloads("FirmwareStatusNotification") == [{"status": "Installed", "requestId": 4}]
    assert csms.payloads("LogStatusNotification") == [{"status": "Uploaded", "requestId": 5}]
    assert csms.payloads("DataTransfer")[0]["messageId"] == "hello"
    assert csms.payloads("MeterValues")[0]["meterValue"][0]["sampledValue"][0]["value"] == 1_000_100


async def test_aclose_cancels_every_task(csms: MiniCsms) -> None:
    owners = ("SimulatedCharger201.", "V201Transactions.", "V201Messages.", "BaseCharger.")

    def owned() -> set[asyncio.Task[object]]:
        return {
            t
            for t in asyncio.all_tasks()
            if getattr(t.get_coro(), "__qualname__", "").startswith(owners)
        }

    before = owned()  # the event loop is shared by the whole test session
    cp = SimulatedCharger201(make_config(csms, auto_heartbeat=True))
    await cp.connect()
    await csms.send(
        call.RequestStartTransaction(
            id_token={"id_token": "R", "type": "Central"}, remote_start_id=1
        )
    )
    await csms.wait_event("MeterValuePeriodic")
    await csms.send(call.Reset(type="OnIdle"))  # scheduled: waits for the session
    await cp.aclose()
    assert not cp.connected
    assert not cp._tasks
    assert owned() - before == set()


async def test_cli_runs_201_sessions(csms: MiniCsms, capsys: pytest.CaptureFixture[str]) -> None:
    args = cli.build_parser().parse_args(
        [
            "--url",
            csms.url,
            "--id",
            "SIM",
            "--protocol",
            "ocpp2.0.1",
            "--connectors",
            "1",
            "--count",
            "2",
            "--duration",
            "6",
            "--meter-interval",
            "0.05",
            "--time-scale",
            "60",
        ]
    )
    assert await cli.run(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert {line.split()[0] for line in lines} == {"SIM-1", "SIM-2"}
    assert all("energy_wh=18" in line for line in lines)
    for cp_id in ("SIM-1", "SIM-2"):
        assert csms.events(cp_id)[0]["eventType"] == "Started"
        assert csms.events(cp_id)[-1]["eventType"] == "Ended"
