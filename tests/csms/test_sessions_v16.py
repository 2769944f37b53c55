"""OCPP 1.6 sessions end to end: the charger simulator over real websockets against the
running central system and a real database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from simulators.charger import ChargerConfig, SimulatedCharger
from tests.csms.conftest import PASSWORD, System

pytestmark = pytest.mark.slow

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def config(system: System, charge_point_id: str, **extra: object) -> ChargerConfig:
    return ChargerConfig(
        url=system.ocpp_url,
        charge_point_id=charge_point_id,
        password=PASSWORD,
        protocol="ocpp1.6",
        connectors=2,
        meter_interval_s=0.05,
        **extra,
    )  # type: ignore[arg-type]


@pytest.fixture
async def charger(system: System) -> AsyncIterator[SimulatedCharger]:
    await system.register("CP-1", location={"latitude": 48.1, "longitude": 11.5})
    await system.token("TAG-OK")
    async with SimulatedCharger(config(system, "CP-1"), time_scale=60) as cp:
        yield cp


async def test_full_session_is_stored(system: System, charger: SimulatedCharger) -> None:
    assert charger.boot_status == "Accepted"
    assert charger.heartbeat_interval == 300
    result = await charger.run_session(1, "TAG-OK", meter_samples=4)
    assert result.id_tag_status == "Accepted"
    assert result.samples_sent == 4
    await system.settle()

    cp = await system.api("GET", "/charge-points/CP-1", expect=200)
    assert cp["online"] is True
    assert cp["boot"]["vendor"] == "SimVendor"
    statuses = {(c["connector_id"]): c["status"] for c in cp["connectors"]}
    assert statuses[0] == "Available" and statuses[1] == "Available"
    history = [
        r["raw_status"]
        for r in await system.fetch(
            "SELECT raw_status FROM connector_status_history WHERE charge_point_id = 'CP-1' "
            "AND connector_id = 1 ORDER BY status_at, id"
        )
    ]
    assert history[-4:] == ["Preparing", "Charging", "Finishing", "Available"]

    (session,) = (await system.api("GET", "/sessions?charge_point_id=CP-1", expect=200))["items"]
    assert session["transaction_id"] == str(result.transaction_id)
    assert session["status"] == "completed"
    assert session["id_token"] == "TAG-OK" and session["id_token_status"] == "Accepted"
    assert session["meter_start_wh"] == result.meter_start
    assert session["meter_stop_wh"] == result.meter_stop
    assert session["energy_wh"] == result.meter_stop - result.meter_start == result.energy_wh > 0
    assert session["stop_reason"] == "Local"

    detail = await system.api("GET", f"/sessions/{session['id']}", expect=200)
    registers = [
        s
        for s in detail["meter_samples"]
        if s["measurand"] == "Energy.Active.Import.Register" and not s["phase"]
    ]
    contexts = {s["context"] for s in registers}
    assert {"Sample.Periodic", "Transaction.Begin", "Transaction.End"} <= contexts
    values = [s["energy_wh"] for s in registers if s["context"] == "Sample.Periodic"]
    assert values == sorted(values) and len(values) == 4
    # The actions the charger sent are all in the frame log, in and out.
    actions = {
        r["action"]
        for r in await system.fetch(
            "SELECT DISTINCT action FROM message_log WHERE charge_point_id = 'CP-1' "
            "AND direction = 'in'"
        )
    }
    assert {
        "BootNotification",
        "StatusNotification",
        "Authorize",
        "StartTransaction",
        "MeterValues",
        "StopTransaction",
    } <= actions


async def test_replays_change_nothing(system: System, charger: SimulatedCharger) -> None:
    first = await charger.start_transaction(1, "TAG-OK", meter_start=5000, timestamp=T0)
    again = await charger.start_transaction(1, "TAG-OK", meter_start=5000, timestamp=T0)
    assert first.transaction_id == again.transaction_id
    assert again.status == "Accepted"
    tx = first.transaction_id
    for _ in range(2):
        await charger.meter_values(1, tx, energy_wh=5400, timestamp=T0 + timedelta(minutes=5))
    for _ in range(2):
        status = await charger.stop_transaction(
            tx, meter_stop=5900, id_tag="TAG-OK", timestamp=T0 + timedelta(minutes=10)
        )
        assert status == "Accepted"
    sessions = await system.fetch("SELECT status, energy_wh, ended_at FROM sessions")
    assert [(s["status"], s["energy_wh"]) for s in sessions] == [("completed", 900)]
    samples = await system.fetchval(
        "SELECT count(*) FROM meter_samples WHERE measurand = 'Energy.Active.Import.Register' "
        "AND phase = ''"
    )
    assert samples == 1


async def test_unknown_and_blocked_tags_are_recorded_and_answered(
    system: System, charger: SimulatedCharger
) -> None:
    await system.token("TAG-BLOCKED", status="Blocked")
    assert await charger.authorize("TAG-NOBODY") == "Invalid"
    assert await charger.authorize("TAG-BLOCKED") == "Blocked"
    unknown = await charger.start_transaction(1, "TAG-NOBODY", meter_start=100, timestamp=T0)
    blocked = await charger.start_transaction(2, "TAG-BLOCKED", meter_start=100, timestamp=T0)
    assert (unknown.status, blocked.status) == ("Invalid", "Blocked")
    assert unknown.transaction_id != blocked.transaction_id
    rows = await system.fetch(
        "SELECT id_token, id_token_status, status FROM sessions ORDER BY connector_id"
    )
    assert [tuple(r) for r in rows] == [
        ("TAG-NOBODY", "Invalid", "active"),
        ("TAG-BLOCKED", "Blocked", "active"),
    ]


async def test_stop_for_unknown_transaction_is_answered_and_recorded(
    system: System, charger: SimulatedCharger
) -> None:
    for _ in range(2):  # the replay does not record it twice
        status = await charger.stop_transaction(
            424242, meter_stop=1200, id_tag="TAG-OK", timestamp=T0, reason="EVDisconnected"
        )
        assert status == "Accepted"
    await charger.meter_values(1, 424242, energy_wh=1100, timestamp=T0 - timedelta(minutes=1))
    rows = await system.fetch(
        "SELECT transaction_id, status, meter_stop_wh, stop_reason FROM sessions"
    )
    assert [tuple(r) for r in rows] == [("424242", "orphaned", 1200, "EVDisconnected")]
    orphan_samples = await system.fetchval(
        "SELECT count(*) FROM meter_samples WHERE transaction_id = '424242' AND session_id IS NULL"
    )
    assert orphan_samples >= 1
    listed = await system.api("GET", "/sessions?status=orphaned", expect=200)
    assert [s["transaction_id"] for s in listed["items"]] == ["424242"]


async def test_offline_queue_lands_exactly_once(system: System, charger: SimulatedCharger) -> None:
    await charger.disconnect()
    started = await charger.start_transaction(1, "TAG-OK", meter_start=7000, timestamp=T0)
    assert started.status == "Queued" and started.transaction_id < 0
    await charger.meter_values(
        1, started.transaction_id, energy_wh=7300, timestamp=T0 + timedelta(minutes=2)
    )
    await charger.stop_transaction(
        started.transaction_id,
        meter_stop=7600,
        id_tag="TAG-OK",
        timestamp=T0 + timedelta(minutes=4),
    )
    assert await system.fetchval("SELECT count(*) FROM sessions") == 0
    await charger.connect()  # replays the queue
    for _ in range(50):
        if await system.fetchval("SELECT count(*) FROM sessions WHERE status = 'completed'"):
            break
        await asyncio.sleep(0.05)
    rows = await system.fetch("SELECT started_at, ended_at, energy_wh, status FROM sessions")
    assert [tuple(r) for r in rows] == [(T0, T0 + timedelta(minutes=4), 600, "completed")]
    periodic = await system.fetch(
        "SELECT sampled_at, energy_wh FROM meter_samples WHERE context = 'Sample.Periodic' "
        "AND measurand = 'Energy.Active.Import.Register' AND phase = ''"
    )
    assert [tuple(r) for r in periodic] == [(T0 + timedelta(minutes=2), 7300)]


async def test_remote_start_and_stop_from_the_admin_api(
    system: System, charger: SimulatedCharger
) -> None:
    reply = await system.api(
        "POST",
        "/charge-points/CP-1/commands/remote-start",
        {"connector_id": 2, "id_token": "TAG-OK"},
        expect=200,
    )
    assert reply == {"status": "Accepted"}
    assert (await charger.wait_for_call("RemoteStartTransaction"))["idTag"] == "TAG-OK"
    session = None
    for _ in range(100):
        items = (await system.api("GET", "/sessions?status=active", expect=200))["items"]
        if items:
            session = items[0]
            break
        await asyncio.sleep(0.05)
    assert session is not None and session["connector_id"] == 2
    reply = await system.api(
        "POST",
        "/charge-points/CP-1/commands/remote-stop",
        {"session_id": session["id"]},
        expect=200,
    )
    assert reply == {"status": "Accepted"}
    for _ in range(100):
        done = await system.api("GET", f"/sessions/{session['id']}", expect=200)
        if done["status"] == "completed":
            break
        await asyncio.sleep(0.05)
    assert done["status"] == "completed" and done["stop_reason"] == "Remote"
    # Stopping it again is a conflict, not a call to the charger.
    await system.api(
        "POST",
        "/charge-points/CP-1/commands/remote-stop",
        {"session_id": session["id"]},
        expect=409,
    )


async def test_commands_reach_the_charger_and_return_its_reply(
    system: System, charger: SimulatedCharger
) -> None:
    path = "/charge-points/CP-1/commands/"
    # 2.0.1-only commands are refused for a 1.6 charger.
    error = await system.api(
        "POST",
        path + "get-variables",
        {
            "get_variable_data": [
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
            ]
        },
        expect=400,
    )
    assert error["error"]["code"] == "command_not_supported"
    config_reply = await system.api(
        "POST", path + "get-configuration", {"keys": ["HeartbeatInterval", "NoSuchKey"]}, expect=200
    )
    assert [k["key"] for k in config_reply["configuration_key"]] == ["HeartbeatInterval"]
    assert config_reply["unknown_key"] == ["NoSuchKey"]
    assert (
        await system.api(
            "POST",
            path + "change-configuration",
            {"key": "HeartbeatInterval", "value": "120"},
            expect=200,
        )
    ) == {"status": "Accepted"}
    assert charger.configuration["HeartbeatInterval"] == "120"
    assert (await system.api("POST", path + "clear-cache", {}, expect=200)) == {
        "status": "Accepted"
    }
    assert (
        await system.api("POST", path + "unlock-connector", {"connector_id": 1}, expect=200)
    ) == {"status": "Unlocked"}
    assert (
        await system.api(
            "POST",
            path + "change-availability",
            {"connector_id": 2, "operative": False},
            expect=200,
        )
    ) == {"status": "Accepted"}
    assert (
        await system.api("POST", path + "trigger-message", {"message": "Heartbeat"}, expect=200)
    ) == {"status": "Accepted"}
    assert (await system.api("POST", path + "data-transfer", {"vendor_id": "acme"}, expect=200))[
        "status"
    ] == "UnknownVendorId"
    assert (await system.api("POST", path + "reset", {"type": "soft"}, expect=200)) == {
        "status": "Accepted"
    }
    received = [action for action, _ in charger.received_calls]
    assert received[:8] == [
        "GetConfiguration",
        "ChangeConfiguration",
        "ClearCache",
        "UnlockConnector",
        "ChangeAvailability",
        "TriggerMessage",
        "DataTransfer",
        "Reset",
    ]


async def test_command_to_an_offline_charger_is_409(system: System) -> None:
    await system.register("CP-OFF")
    error = await system.api("POST", "/charge-points/CP-OFF/commands/clear-cache", {}, expect=409)
    assert error["error"]["code"] == "charger_not_connected"


async def test_remote_start_token_too_long_for_16(
    system: System, charger: SimulatedCharger
) -> None:
    error = await system.api(
        "POST", "/charge-points/CP-1/commands/remote-start", {"id_token": "X" * 21}, expect=400
    )
    assert error["error"]["field"] == "id_token"
    assert not [a for a, _ in charger.received_calls if a == "RemoteStartTransaction"]
