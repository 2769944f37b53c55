"""The OCPP 1.6 charger simulator against a tiny real central system on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

import pytest
from ocpp.routing import on as _untyped_on
from ocpp.v16 import ChargePoint, call, call_result
from websockets.asyncio.server import Server, ServerConnection, basic_auth, serve
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from simulators.charger import (
    ChargerConfig,
    ChargerOffline,
    EnergyMeter,
    OfflineQueue,
    QueuedMessage,
    SimulatedCharger,
    cli,
    create_charger,
)

ENERGY = "Energy.Active.Import.Register"
_F = TypeVar("_F", bound=Callable[..., Any])


def on(action: str) -> Callable[[_F], _F]:
    return cast(Callable[[_F], _F], _untyped_on(action))


# -- a tiny central system -------------------------------------------------------------


class MiniCentralSystem:
    """Records every CALL it receives (camelCase) and answers like a permissive CSMS."""

    def __init__(self, password: str | None = None) -> None:
        self.password = password
        self.received: list[tuple[str, str, dict[str, Any]]] = []  # (cp id, action, payload)
        self.changed = asyncio.Condition()
        self.cps: dict[str, CentralSideChargePoint] = {}
        self.boot_status = "Accepted"
        self.heartbeat_interval = 300
        self.tag_status: dict[str, str] = {}
        self.next_tx = 100
        self.server: Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"

    async def start(self) -> None:
        self.server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            subprotocols=[Subprotocol("ocpp1.6")],
            process_request=(
                basic_auth(check_credentials=self._check) if self.password is not None else None
            ),
        )
        self.port = self.server.sockets[0].getsockname()[1]

    def _check(self, username: str, password: str) -> bool:
        return password == self.password

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _handle(self, ws: ServerConnection) -> None:
        cp_id = ws.request.path.rsplit("/", 1)[-1] if ws.request else "?"
        cp = CentralSideChargePoint(cp_id, ws, self)
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

    async def wait_until(self, check: Callable[[], bool], seconds: float = 3.0) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(check), seconds)

    async def wait_for(self, action: str, count: int = 1, cp_id: str = "CP1") -> dict[str, Any]:
        await self.wait_until(lambda: len(self.payloads(action, cp_id)) >= count)
        return self.payloads(action, cp_id)[count - 1]

    async def send(self, payload: Any, cp_id: str = "CP1") -> Any:
        return await self.cps[cp_id].call(payload)


class CentralSideChargePoint(ChargePoint):  # type: ignore[misc]
    def __init__(self, cp_id: str, ws: ServerConnection, csms: MiniCentralSystem) -> None:
        super().__init__(cp_id, ws, response_timeout=5)
        self.csms = csms

    async def route_message(self, raw_msg: str) -> None:
        try:
            msg = json.loads(raw_msg)
        except ValueError:
            msg = None
        if isinstance(msg, list) and len(msg) == 4 and msg[0] == 2:
            await self.csms.record(self.id, msg[2], msg[3])
        await super().route_message(raw_msg)

    @staticmethod
    def _now() -> str:
        return datetime.now(UTC).isoformat()

    @on("BootNotification")
    def on_boot(self, **_: Any) -> Any:
        return call_result.BootNotification(
            current_time=self._now(),
            interval=self.csms.heartbeat_interval,
            status=self.csms.boot_status,
        )

    @on("Heartbeat")
    def on_heartbeat(self, **_: Any) -> Any:
        return call_result.Heartbeat(current_time=self._now())

    @on("StatusNotification")
    def on_status(self, **_: Any) -> Any:
        return call_result.StatusNotification()

    @on("Authorize")
    def on_authorize(self, id_tag: str, **_: Any) -> Any:
        return call_result.Authorize(
            id_tag_info={"status": self.csms.tag_status.get(id_tag, "Accepted")}
        )

    @on("StartTransaction")
    def on_start(self, id_tag: str, **_: Any) -> Any:
        self.csms.next_tx += 1
        return call_result.StartTransaction(
            transaction_id=self.csms.next_tx,
            id_tag_info={"status": self.csms.tag_status.get(id_tag, "Accepted")},
        )

    @on("MeterValues")
    def on_meter_values(self, **_: Any) -> Any:
        return call_result.MeterValues()

    @on("StopTransaction")
    def on_stop(self, **_: Any) -> Any:
        return call_result.StopTransaction(id_tag_info={"status": "Accepted"})

    @on("DiagnosticsStatusNotification")
    def on_diagnostics(self, **_: Any) -> Any:
        return call_result.DiagnosticsStatusNotification()

    @on("FirmwareStatusNotification")
    def on_firmware(self, **_: Any) -> Any:
        return call_result.FirmwareStatusNotification()


@pytest.fixture
async def csms() -> AsyncIterator[MiniCentralSystem]:
    central = MiniCentralSystem()
    await central.start()
    yield central
    await central.stop()


def make_config(csms: MiniCentralSystem, **overrides: Any) -> ChargerConfig:
    values: dict[str, Any] = {
        "url": csms.url,
        "charge_point_id": "CP1",
        "meter_interval_s": 0.05,
        "call_timeout_s": 2.0,
        "reconnect_delay_s": 0.05,
    }
    values.update(overrides)
    return ChargerConfig(**values)


async def eventually(check: Callable[[], bool], seconds: float = 3.0) -> None:
    """Wait for charger-side state that follows a reply the CSMS has already sent."""
    for _ in range(int(seconds / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    assert check()


def energy_of(meter_values: dict[str, Any]) -> int:
    (sample,) = [
        s for s in meter_values["meterValue"][0]["sampledValue"] if s.get("measurand") == ENERGY
    ]
    return int(sample["value"])


# -- sessions ----------------------------------------------------------------------------


async def test_run_session_sends_a_real_chargers_sequence(csms: MiniCentralSystem) -> None:
    async with SimulatedCharger(make_config(csms), time_scale=60) as cp:
        assert cp.boot_status == "Accepted"
        assert cp.heartbeat_interval == 300
        result = await cp.run_session(1, "TAG1", meter_samples=3)
        await csms.wait_for("StatusNotification", count=7)

    statuses = [(p["connectorId"], p["status"]) for p in csms.payloads("StatusNotification")]
    assert statuses == [
        (0, "Available"),
        (1, "Available"),
        (2, "Available"),
        (1, "Preparing"),
        (1, "Charging"),
        (1, "Finishing"),
        (1, "Available"),
    ]
    flow = [a for a in csms.actions() if a != "StatusNotification"]
    assert flow == [
        "BootNotification",
        "Authorize",
        "StartTransaction",
        "MeterValues",
        "MeterValues",
        "MeterValues",
        "StopTransaction",
    ]
    start = csms.payloads("StartTransaction")[0]
    assert start["connectorId"] == 1
    assert start["idTag"] == "TAG1"
    assert start["meterStart"] == 1_000_000
    energies = [energy_of(mv) for mv in csms.payloads("MeterValues")]
    # 11 kW for 0.05 s x 60 = 3 simulated seconds per sample = 9.17 Wh.
    assert energies == [1_000_009, 1_000_018, 1_000_027]
    for mv in csms.payloads("MeterValues"):
        assert mv["transactionId"] == result.transaction_id == 101
        sampled = mv["meterValue"][0]["sampledValue"]
        measurands = [s["measurand"] for s in sampled]
        assert measurands.count("Current.Import") == 3
        assert {"Power.Active.Import", ENERGY} <= set(measurands)
        assert all(s["context"] == "Sample.Periodic" for s in sampled)

    stop = csms.payloads("StopTransaction")[0]
    assert stop["transactionId"] == 101
    assert stop["reason"] == "Local"
    assert stop["meterStop"] == result.meter_stop == 1_000_027
    begin, end = stop["transactionData"]
    assert begin["sampledValue"][0]["context"] == "Transaction.Begin"
    assert begin["sampledValue"][0]["value"] == "1000000"
    assert end["sampledValue"][0]["context"] == "Transaction.End"
    assert end["sampledValue"][0]["value"] == "1000027"
    assert result.id_tag_status == "Accepted"
    assert (result.meter_start, result.energy_wh, result.samples_sent) == (1_000_000, 27, 3)


async def test_session_limits_and_rising_lifetime_register(csms: MiniCentralSystem) -> None:
    async with SimulatedCharger(make_config(csms), time_scale=60) as cp:
        by_energy = await cp.run_session(1, "TAG", energy_wh=20, authorize=False)
        by_time = await cp.run_session(1, "TAG", duration_s=7.5, authorize=False)
    assert by_energy.energy_wh == 20
    assert by_energy.samples_sent == 3  # 9.17 + 9.17 + 1.67 Wh
    assert by_time.meter_start == by_energy.meter_stop
    assert by_time.samples_sent == 3  # 3 s + 3 s + 1.5 s simulated
    assert by_time.energy_wh == 22  # 11 kW x 7.5 s = 22.9 Wh; the register reads whole Wh
    assert "Authorize" not in csms.actions()
    energies = [energy_of(mv) for mv in csms.payloads("MeterValues")]
    assert energies == sorted(energies)


async def test_refused_authorization_aborts_before_start(csms: MiniCentralSystem) -> None:
    csms.tag_status["BAD"] = "Blocked"
    async with SimulatedCharger(make_config(csms)) as cp:
        result = await cp.run_session(2, "BAD", meter_samples=2)
        await csms.wait_for("StatusNotification", count=5)
    assert result.transaction_id is None
    assert result.id_tag_status == "Blocked"
    assert "StartTransaction" not in csms.actions()
    last = csms.payloads("StatusNotification")[-2:]
    assert [(p["connectorId"], p["status"]) for p in last] == [(2, "Preparing"), (2, "Available")]


# -- answering the central system --------------------------------------------------------


async def test_remote_start_and_stop(csms: MiniCentralSystem) -> None:
    async with SimulatedCharger(make_config(csms), time_scale=60) as cp:
        answer = await csms.send(call.RemoteStartTransaction(id_tag="REM", connector_id=1))
        assert answer.status == "Accepted"
        busy = await csms.send(call.RemoteStartTransaction(id_tag="REM", connector_id=1))
        assert busy.status == "Rejected"
        start = await csms.wait_for("StartTransaction")
        await csms.wait_for("MeterValues", count=2)
        assert "Authorize" not in csms.actions()  # AuthorizeRemoteTxRequests is false
        assert cp.active_transactions() == {1: 101}
        unknown = await csms.send(call.RemoteStopTransaction(transaction_id=999))
        assert unknown.status == "Rejected"
        stopped = await csms.send(call.RemoteStopTransaction(transaction_id=101))
        assert stopped.status == "Accepted"
        stop = await csms.wait_for("StopTransaction")
        await csms.wait_until(
            lambda: csms.payloads("StatusNotification")[-1]["status"] == "Available"
        )
        assert cp.active_transactions() == {}
        assert cp.received_calls[0] == (
            "RemoteStartTransaction",
            {"idTag": "REM", "connectorId": 1},
        )
        assert await cp.wait_for_call("RemoteStopTransaction") == {"transactionId": 999}
        assert await cp.wait_for_call("RemoteStopTransaction") == {"transactionId": 101}

    assert start["idTag"] == "REM"
    assert stop["reason"] == "Remote"
    assert stop["meterStop"] > start["meterStart"]
    assert [p["status"] for p in csms.payloads("StatusNotification")][-4:] == [
        "Preparing",
        "Charging",
        "Finishing",
        "Available",
    ]


async def test_remote_start_authorizes_when_configured(csms: MiniCentralSystem) -> None:
    async with SimulatedCharger(make_config(csms)) as cp:
        changed = await csms.send(
            call.ChangeConfiguration(key="AuthorizeRemoteTxRequests", value="true")
        )
        assert changed.status == "Accepted"
        answer = await csms.send(call.RemoteStartTransaction(id_tag="REM"))
        assert answer.status == "Accepted"
        await csms.wait_for("StartTransaction")
        await eventually(lambda: cp.active_transactions() == {1: 101})  # first free connector
        await csms.send(call.RemoteStopTransaction(transaction_id=101))
        await csms.wait_for("StopTransaction")
    flow = csms.actions()
    assert flow.index("Authorize") < flow.index("StartTransaction")


async def test_reset_stops_transactions_and_reboots(csms: MiniCentralSystem) -> None:
    async with SimulatedCharger(make_config(csms)) as cp:
        started = await cp.start_transaction(2, "TAG")
        answer = await csms.send(call.Reset(type="Soft"))
        assert answer.status == "Accepted"
        stop = await csms.wait_for("StopTransaction")
        await csms.wait_for("BootNotification", count=2)
        await csms.wait_until(lambda: csms.actions().count("StatusNotification") >= 8)
        assert cp.connected
        assert cp.active_transactions() == {}
    assert stop["transactionId"] == started.transaction_id
    assert stop["reason"] == "SoftReset"
    after_boot = csms.actions()[csms.actions().index("BootNotification", 1) :]
    assert after_boot[:4] == ["BootNotification"] + ["StatusNotification"] * 3


async def test_unlock_connector(csms: MiniCentralSystem) -> None:
    async with SimulatedCharger(make_config(csms)) as cp:
        started = await cp.start_transaction(1, "TAG")
        answer = await csms.send(call.UnlockConnector(connector_id=1))
        assert answer.status == "Unlocked"
        stop = await csms.wait_for("StopTransaction")
        assert stop == {**stop, "transactionId": started.transaction_id, "reason": "UnlockCommand"}
        assert (await csms.send(call.UnlockConnector(connector_id=7))).status == "NotSupported"


async def test_change_availability(csms: MiniCentralSystem) -> None:
    async with SimulatedCharger(make_config(csms)) as cp:
        answer = await csms.send(call.ChangeAvailability(connector_id=2, type="Inoperative"))
        assert answer.status == "Accepted"
        await csms.wait_until(lambda: cp.connector_status.get(2) == "Unavailable")
        rejected = await csms.send(call.RemoteStartTransaction(id_tag="T", connector_id=2))
        assert rejected.status == "Rejected"

        started = await cp.start_transaction(1, "TAG")
        await cp.status(1, "Charging")
        scheduled = await csms.send(call.ChangeAvailability(connector_id=1, type="Inoperative"))
        assert scheduled.status == "Scheduled"
        await csms.send(call.RemoteStopTransaction(transaction_id=started.transaction_id))
        await csms.wait_until(lambda: cp.connector_status.get(1) == "Unavailable")

        back = await csms.send(call.ChangeAvailability(connector_id=0, type="Operative"))
        assert back.status == "Accepted"
        await csms.wait_until(
            lambda: cp.connector_status.get(1) == cp.connector_status.get(2) == "Available"
        )
        assert (
            await csms.send(call.ChangeAvailability(connector_id=9, type="Operative"))
        ).status == ("Rejected")
    statuses = [(p["connectorId"], p["status"]) for p in csms.payloads("StatusNotification")]
    assert (2, "Unavailable") in statuses
    assert statuses.index((1, "Finishing")) < statuses.index((1, "Unavailable"))


async def test_configuration_keys(csms: MiniCentralSystem) -> None:
    async with SimulatedCharger(make_config(csms)) as cp:
        everything = await csms.send(call.GetConfiguration())
        keys = {item["key"]: item for item in everything.configuration_key}
        assert keys["NumberOfConnectors"] == {
            "key": "NumberOfConnectors",
            "readonly": True,
            "value": "2",
        }
        assert keys["HeartbeatInterval"]["value"] == "300"  # from BootNotification
        assert everything.unknown_key is None

        some = await csms.send(call.GetConfiguration(key=["MeterValuesSampledData", "Nope"]))
        assert [item["key"] for item in some.configuration_key] == ["MeterValuesSampledData"]
        assert some.unknown_key == ["Nope"]

        async def change(key: str, value: str) -> str:
            return str((await csms.send(call.ChangeConfiguration(key=key, value=value))).status)

        assert await change("HeartbeatInterval", "60") == "Accepted"
        assert cp.configuration["HeartbeatInterval"] == "60"
        assert cp.heartbeat_interval == 60
        assert await change("HeartbeatInterval", "soon") == "Rejected"
        assert await change("NumberOfConnectors", "4") == "Rejected"
        assert await change("MadeUpKey", "1") == "NotSupported"
        assert await change("MeterValuesSampledData", "Energy.Active.Import.Register") == (
            "Accepted"
        )
        await cp.meter_values(1, None)
        mv = await csms.wait_for("MeterValues")
        assert [s["measurand"] for s in mv["meterValue"][0]["sampledValue"]] == [ENERGY]


async def test_cache_data_transfer_and_trigger_message(csms: MiniCentralSystem) -> None:
    async with SimulatedCharger(make_config(csms)) as cp:
        assert (await csms.send(call.ClearCache())).status == "Accepted"
        transfer = await csms.send(call.DataTransfer(vendor_id="com.example", data="x"))
        assert transfer.status == "UnknownVendorId"

        for message in (
            "BootNotification",
            "Heartbeat",
            "StatusNotification",
            "MeterValues",
            "DiagnosticsStatusNotification",
            "FirmwareStatusNotification",
        ):
            before = csms.actions().count(message)
            answer = await csms.send(call.TriggerMessage(requested_message=message))
            assert answer.status == "Accepted"
            await csms.wait_for(message, count=before + 1)

        refused = await csms.send(
            call.TriggerMessage(requested_message="StatusNotification", connector_id=9)
        )
        assert refused.status == "Rejected"
        triggered = csms.payloads("MeterValues")[0]["meterValue"][0]["sampledValue"]
        assert {s["context"] for s in triggered} == {"Trigger"}
        assert [name for name, _ in cp.received_calls][:2] == ["ClearCache", "DataTransfer"]


# -- offline queue -------------------------------------------------------------------------


async def test_offline_transaction_is_replayed_in_order(csms: MiniCentralSystem) -> None:
    cp = SimulatedCharger(make_config(csms), time_scale=60)
    await cp.connect()
    await cp.disconnect()
    assert not cp.connected
    t0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)

    started = await cp.start_transaction(1, "OFF", timestamp=t0)
    assert started.status == "Queued"
    assert started.transaction_id < 0
    assert cp.active_transactions() == {1: started.transaction_id}
    await cp.meter_values(
        1, started.transaction_id, energy_wh=1_000_500, timestamp=t0 + timedelta(minutes=5)
    )
    with pytest.raises(ChargerOffline):
        await cp.heartbeat()
    status = await cp.stop_transaction(
        started.transaction_id, timestamp=t0 + timedelta(minutes=10), id_tag="OFF"
    )
    assert status is None
    assert len(cp.queue) == 3
    assert csms.actions().count("StartTransaction") == 0

    await cp.connect()
    await csms.wait_for("StopTransaction")
    await asyncio.sleep(0.1)  # nothing is sent twice
    await cp.aclose()

    flow = [
        a
        for a in csms.actions()
        if a in ("BootNotification", "StartTransaction", "MeterValues", "StopTransaction")
    ]
    assert flow == [
        "BootNotification",
        "BootNotification",
        "StartTransaction",
        "MeterValues",
        "StopTransaction",
    ]
    (start,) = csms.payloads("StartTransaction")
    (mv,) = csms.payloads("MeterValues")
    (stop,) = csms.payloads("StopTransaction")
    assert start["timestamp"] == "2024-05-01T08:00:00.000Z"
    assert mv["meterValue"][0]["timestamp"] == "2024-05-01T08:05:00.000Z"
    assert stop["timestamp"] == "2024-05-01T08:10:00.000Z"
    assert mv["transactionId"] == stop["transactionId"] == 101
    assert stop["meterStop"] == 1_000_500
    assert len(cp.queue) == 0


async def test_session_survives_a_dropped_connection(csms: MiniCentralSystem) -> None:
    async with SimulatedCharger(make_config(csms), time_scale=60) as cp:
        session = asyncio.create_task(cp.run_session(1, "TAG", meter_samples=8, authorize=False))
        await csms.wait_for("MeterValues", count=2)
        await cp.disconnect()
        await asyncio.sleep(0.15)
        await cp.connect()
        result = await session
        await csms.wait_for("StopTransaction")
    meter_values = csms.payloads("MeterValues")
    assert len(meter_values) == 8
    assert {mv["transactionId"] for mv in meter_values} == {result.transaction_id}
    energies = [energy_of(mv) for mv in meter_values]
    assert energies == sorted(energies)
    assert len(set(energies)) == 8
    assert csms.actions().count("StopTransaction") == 1


async def test_session_started_offline_gets_the_real_id(csms: MiniCentralSystem) -> None:
    cp = SimulatedCharger(make_config(csms), time_scale=60)
    await cp.connect()
    await cp.disconnect()
    session = asyncio.create_task(cp.run_session(1, "TAG", meter_samples=6, authorize=False))
    await asyncio.sleep(0.12)
    assert cp.active_transactions()[1] < 0
    await cp.connect()
    result = await session
    await cp.aclose()
    assert result.transaction_id == 101
    assert {mv["transactionId"] for mv in csms.payloads("MeterValues")} == {101}
    assert len(csms.payloads("MeterValues")) == 6
    assert csms.payloads("StopTransaction")[0]["transactionId"] == 101


# -- raw frames, auth, boot, lifecycle -----------------------------------------------------


async def test_call_raw_returns_the_servers_reply(csms: MiniCentralSystem) -> None:
    async with SimulatedCharger(make_config(csms)) as cp:
        reply = await cp.call_raw('[2,"raw-1","Heartbeat",{}]')
        assert reply is not None
        assert json.loads(reply)[:2] == [3, "raw-1"]
        error = await cp.call_raw('[2,"raw-2","NoSuchAction",{}]')
        assert error is not None
        assert json.loads(error)[:3] == [4, "raw-2", "NotSupported"]
        assert await cp.call_raw("this is not json", timeout=0.2) is None
        assert isinstance(await cp.heartbeat(), datetime)  # still usable


async def test_basic_auth() -> None:
    central = MiniCentralSystem(password="s3cret")
    await central.start()
    try:
        wrong = SimulatedCharger(make_config(central, password="nope"))
        with pytest.raises(InvalidStatus) as refused:
            await wrong.connect()
        assert refused.value.response.status_code == 401
        assert not wrong.connected
        async with SimulatedCharger(make_config(central, password="s3cret")) as cp:
            assert cp.boot_status == "Accepted"
    finally:
        await central.stop()


async def test_pending_boot_waits_for_acceptance(csms: MiniCentralSystem) -> None:
    csms.boot_status = "Pending"
    async with SimulatedCharger(make_config(csms)) as cp:
        assert cp.boot_status == "Pending"
        await cp.status(1, "Available")
        assert "StatusNotification" not in csms.actions()
        csms.boot_status = "Accepted"
        await csms.send(call.TriggerMessage(requested_message="BootNotification"))
        await csms.wait_until(lambda: csms.actions().count("StatusNotification") == 3)
        assert cp.boot_status == "Accepted"


async def test_aclose_cancels_every_task(csms: MiniCentralSystem) -> None:
    owners = ("SimulatedCharger.", "V16Messages.", "BaseCharger.")

    def owned() -> set[asyncio.Task[object]]:
        return {
            t
            for t in asyncio.all_tasks()
            if getattr(t.get_coro(), "__qualname__", "").startswith(owners)
        }

    before = owned()  # the event loop is shared by the whole test session
    cp = SimulatedCharger(make_config(csms, auto_heartbeat=True))
    await cp.connect()
    await csms.send(call.RemoteStartTransaction(id_tag="REM", connector_id=1))
    await csms.wait_for("MeterValues")
    await cp.aclose()
    assert not cp.connected
    assert not cp._tasks
    assert owned() - before == set()


async def test_auto_reconnect_after_the_csms_drops_the_connection(
    csms: MiniCentralSystem,
) -> None:
    async with SimulatedCharger(make_config(csms, auto_reconnect=True), time_scale=60) as cp:
        session = asyncio.create_task(cp.run_session(1, "TAG", meter_samples=6, authorize=False))
        await csms.wait_for("MeterValues", count=2)
        await csms.cps["CP1"]._connection.close()
        await csms.wait_for("BootNotification", count=2)
        result = await session
        await csms.wait_for("StopTransaction")
        assert cp.connected
    assert result.samples_sent == 6
    assert {mv["transactionId"] for mv in csms.payloads("MeterValues")} == {101}
    # Whatever was in flight when the link died is replayed, so nothing is lost.
    assert len(csms.payloads("MeterValues")) >= 6
    assert csms.actions().count("StopTransaction") == 1


async def test_reset_hard_ends_a_running_session(csms: MiniCentralSystem) -> None:
    async with SimulatedCharger(make_config(csms), time_scale=60) as cp:
        session = asyncio.create_task(cp.run_session(2, "TAG", authorize=False))
        await csms.wait_for("MeterValues")
        assert (await csms.send(call.Reset(type="Hard"))).status == "Accepted"
        result = await session
        await csms.wait_for("BootNotification", count=2)
        await eventually(lambda: cp.connected)
    stop = csms.payloads("StopTransaction")[0]
    assert stop["reason"] == "HardReset"
    assert stop["meterStop"] == result.meter_stop
    assert csms.actions().index("StopTransaction") < csms.actions().index("BootNotification", 1)


async def test_factory_and_models() -> None:
    config = ChargerConfig(url="ws://127.0.0.1:1/ocpp/", charge_point_id="X")
    assert config.endpoint == "ws://127.0.0.1:1/ocpp/X"
    assert isinstance(create_charger(config), SimulatedCharger)
    with pytest.raises(ValueError, match="unsupported protocol"):
        create_charger(ChargerConfig(url="ws://h", charge_point_id="X", protocol="ocpp9"))

    meter = EnergyMeter(1_000_000)
    meter.advance(11_000, 1.0)
    assert meter.register_wh == 1_000_003
    meter.raise_to(5)
    meter.add_energy(-10)
    assert meter.register_wh == 1_000_003

    queue = OfflineQueue()
    placeholder = queue.new_placeholder()
    queue.append(QueuedMessage("StartTransaction", {}, placeholder=placeholder))
    queue.append(
        QueuedMessage("MeterValues", {"transactionId": placeholder}, transaction_ref=placeholder)
    )
    assert queue.rewrite_transaction_id(placeholder, 42, "transactionId") == 1
    assert [m.payload for m in queue] == [{}, {"transactionId": 42}]


# -- command line -----------------------------------------------------------------------


def test_cli_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "simulators.charger", "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert done.returncode == 0
    assert "--time-scale" in done.stdout


async def test_cli_runs_sessions(
    csms: MiniCentralSystem, capsys: pytest.CaptureFixture[str]
) -> None:
    args = cli.build_parser().parse_args(
        [
            "--url",
            csms.url,
            "--id",
            "SIM",
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
    assert len(lines) == 4
    assert {line.split()[0] for line in lines} == {"SIM-1", "SIM-2"}
    assert all("energy_wh=18" in line for line in lines)


async def test_cli_reports_a_refused_handshake(capsys: pytest.CaptureFixture[str]) -> None:
    central = MiniCentralSystem(password="right")
    await central.start()
    try:
        args = cli.build_parser().parse_args(
            ["--url", central.url, "--id", "CP9", "--password", "wrong"]
        )
        assert await cli.run(args) == 1
    finally:
        await central.stop()
    assert "handshake refused: HTTP 401" in capsys.readouterr().err
