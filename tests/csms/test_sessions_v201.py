"""OCPP 2.0.1 sessions end to end with the simulator, and a mixed 1.6 + 2.0.1 run whose
sessions come out of the same API in the same shape."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from simulators.charger import BaseCharger, ChargerConfig, create_charger
from tests.conftest import TIME_FACTOR
from tests.csms.conftest import PASSWORD, System

pytestmark = pytest.mark.slow

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def config(system: System, charge_point_id: str, protocol: str = "ocpp2.0.1") -> ChargerConfig:
    return ChargerConfig(
        url=system.ocpp_url,
        charge_point_id=charge_point_id,
        password=PASSWORD,
        protocol=protocol,
        connectors=2,
        meter_interval_s=0.05,
    )


async def eventually(check: Callable[[], Awaitable[Any]], within_s: float = 5.0) -> Any:
    """Poll until ``check`` returns something truthy (work done after an answer)."""
    deadline = asyncio.get_running_loop().time() + within_s * TIME_FACTOR
    while True:
        value = await check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.05)


@pytest.fixture
async def charger(system: System) -> AsyncIterator[BaseCharger]:
    await system.register("CP-2")
    await system.token("TAG-2")
    async with create_charger(config(system, "CP-2"), time_scale=60) as cp:
        yield cp


async def _sessions(system: System, query: str = "") -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await system.api("GET", f"/sessions{query}", expect=200))[
        "items"
    ]
    return items


@pytest.mark.parametrize("start_point", ["EVConnected", "Authorized"])
async def test_session_lifecycle(system: System, charger: BaseCharger, start_point: str) -> None:
    assert charger.boot_status == "Accepted"
    result = await charger.run_session(
        1,
        "TAG-2",
        meter_samples=3,  # type: ignore[call-arg]
        tx_start_point=start_point,
    )
    assert result.id_tag_status == "Accepted"
    (session,) = await _sessions(system)
    assert session["protocol"] == "ocpp2.0.1"
    assert session["transaction_id"] == result.transaction_id
    assert (session["evse_id"], session["connector_id"]) == (1, 1)
    assert session["id_token"] == "TAG-2" and session["id_token_status"] == "Accepted"
    assert session["status"] == "completed"
    assert session["energy_wh"] == result.energy_wh > 0
    assert session["meter_start_wh"] == result.meter_start
    assert session["meter_stop_wh"] == result.meter_stop
    detail = await system.api("GET", f"/sessions/{session['id']}", expect=200)
    events = detail["transaction_events"]
    seq = [e["seq_no"] for e in events]
    assert seq == sorted(seq) and len(set(seq)) == len(seq)
    assert events[0]["event_type"] == "Started" and events[-1]["event_type"] == "Ended"
    first_trigger = events[0]["trigger_reason"]
    assert first_trigger == ("CablePluggedIn" if start_point == "EVConnected" else "Authorized")
    if start_point == "EVConnected":
        assert events[0]["id_token"] is None  # the token arrives in a later Updated event
    history = [
        r["raw_status"]
        for r in await system.fetch(
            "SELECT raw_status FROM connector_status_history WHERE evse_id = 1 "
            "ORDER BY status_at, id"
        )
    ]
    assert history[-2:] == ["Occupied", "Available"]


async def test_no_authorization_session(system: System, charger: BaseCharger) -> None:
    result = await charger.run_session(
        2,
        "",
        token_type="NoAuthorization",  # type: ignore[call-arg]
        meter_samples=2,
    )
    assert result.id_tag_status == "Accepted"
    (session,) = await _sessions(system)
    assert (session["id_token"], session["status"]) == ("", "completed")
    assert session["energy_wh"] == result.energy_wh


async def test_seqno_replays_and_offline_queue(system: System, charger: BaseCharger) -> None:
    tx = "OFF-1"
    send = charger.transaction_event  # type: ignore[attr-defined]
    await send(
        "Started",
        "Authorized",
        tx,
        evse_id=1,
        id_token="TAG-2",
        meter_wh=1000,
        timestamp=T0,
        seq_no=100,
    )
    await send(
        "Started",
        "Authorized",
        tx,
        evse_id=1,
        id_token="TAG-2",
        meter_wh=1000,
        timestamp=T0,
        seq_no=100,
    )  # re-sent: nothing changes
    await charger.disconnect()
    queued = await send(
        "Updated",
        "MeterValuePeriodic",
        tx,
        meter_wh=1500,
        timestamp=T0 + timedelta(minutes=5),
        seq_no=101,
    )
    assert queued is None
    await send(
        "Ended",
        "EVDeparted",
        tx,
        meter_wh=1800,
        stopped_reason="EVDisconnected",
        timestamp=T0 + timedelta(minutes=9),
        seq_no=102,
    )
    assert await system.fetchval("SELECT count(*) FROM transaction_events") == 1
    await charger.connect()

    async def completed() -> Any:
        return await system.fetchval("SELECT count(*) FROM sessions WHERE status = 'completed'")

    assert await eventually(completed)
    (session,) = await _sessions(system)
    assert session["energy_wh"] == 800 and session["replayed_offline"] is True
    assert session["ended_at"] == "2026-03-01T08:09:00Z"
    events = await system.fetch("SELECT seq_no, offline FROM transaction_events ORDER BY seq_no")
    assert [tuple(e) for e in events] == [(100, False), (101, True), (102, True)]


async def test_unknown_token_in_transaction_event(system: System, charger: BaseCharger) -> None:
    reply = await charger.transaction_event(  # type: ignore[attr-defined]
        "Started", "Authorized", "U-1", evse_id=1, id_token="NOBODY", meter_wh=10
    )
    assert reply["idTokenInfo"]["status"] == "Unknown"
    (session,) = await _sessions(system)
    assert (session["id_token"], session["id_token_status"]) == ("NOBODY", "Invalid")


async def test_remote_start_and_stop_from_the_admin_api(
    system: System, charger: BaseCharger
) -> None:
    reply = await system.api(
        "POST",
        "/charge-points/CP-2/commands/remote-start",
        {"connector_id": 2, "id_token": "TAG-2"},
        expect=200,
    )
    assert reply["status"] == "Accepted"
    request = await charger.wait_for_call("RequestStartTransaction")
    assert request["idToken"] == {"idToken": "TAG-2", "type": "Central"}
    assert request["evseId"] == 2

    async def active() -> list[dict[str, Any]]:
        return await _sessions(system, "?status=active")

    (session,) = await eventually(active)
    assert session["remote_start_id"] == request["remoteStartId"]
    assert session["evse_id"] == 2
    reply = await system.api(
        "POST",
        "/charge-points/CP-2/commands/remote-stop",
        {"session_id": session["id"]},
        expect=200,
    )
    assert reply["status"] == "Accepted"
    assert (await charger.wait_for_call("RequestStopTransaction"))["transactionId"] == session[
        "transaction_id"
    ]

    async def stopped() -> Any:
        done = await system.api("GET", f"/sessions/{session['id']}", expect=200)
        return done if done["status"] == "completed" else None

    done = await eventually(stopped)
    assert done is not None and done["stop_reason"] == "Remote"


async def test_commands_reach_a_201_charger(system: System, charger: BaseCharger) -> None:
    path = "/charge-points/CP-2/commands/"
    # 1.6 configuration commands do not exist in 2.0.1.
    error = await system.api("POST", path + "get-configuration", {}, expect=400)
    assert error["error"]["code"] == "command_not_supported"
    item = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
    got = await system.api(
        "POST", path + "get-variables", {"get_variable_data": [item]}, expect=200
    )
    (result,) = got["get_variable_result"]
    assert result["attribute_status"] == "Accepted" and result["attribute_value"]
    put = await system.api(
        "POST",
        path + "set-variables",
        {"set_variable_data": [{**item, "attribute_value": "120"}]},
        expect=200,
    )
    assert put["set_variable_result"][0]["attribute_status"] == "Accepted"
    report = await system.api(
        "POST",
        path + "get-base-report",
        {"request_id": 7, "report_base": "FullInventory"},
        expect=200,
    )
    assert report["status"] == "Accepted"

    async def reported() -> Any:
        return await system.fetchval(
            "SELECT value FROM device_model WHERE component = 'OCPPCommCtrlr' "
            "AND variable = 'HeartbeatInterval'"
        )

    assert await eventually(reported) == "120"
    for command, body, expected in [
        ("clear-cache", {}, "Accepted"),
        ("unlock-connector", {"connector_id": 1}, "Unlocked"),
        ("change-availability", {"connector_id": 2, "operative": False}, "Accepted"),
        ("trigger-message", {"message": "Heartbeat"}, "Accepted"),
        ("data-transfer", {"vendor_id": "acme"}, "UnknownVendorId"),
        ("reset", {"type": "soft"}, "Accepted"),
    ]:
        answer = await system.api("POST", path + command, body, expect=200)
        assert answer["status"] == expected, (command, answer)
    reset = await charger.wait_for_call("Reset")
    assert reset["type"] == "OnIdle"


async def test_mixed_16_and_201_sessions_share_one_shape(system: System) -> None:
    await system.register("MIX-16")
    await system.register("MIX-201")
    await system.token("TAG-MIX")
    async with (
        create_charger(config(system, "MIX-16", "ocpp1.6"), time_scale=60) as old,
        create_charger(config(system, "MIX-201"), time_scale=60) as new,
    ):
        results = await asyncio.gather(
            old.run_session(1, "TAG-MIX", meter_samples=3),
            new.run_session(1, "TAG-MIX", meter_samples=3),
        )
    sessions = await _sessions(system, "?status=completed")
    by_charger = {s["charge_point_id"]: s for s in sessions}
    assert set(by_charger) == {"MIX-16", "MIX-201"}
    assert by_charger["MIX-16"].keys() == by_charger["MIX-201"].keys()
    assert by_charger["MIX-16"]["protocol"] == "ocpp1.6"
    assert by_charger["MIX-201"]["protocol"] == "ocpp2.0.1"
    for result, charge_point_id in zip(results, ["MIX-16", "MIX-201"], strict=True):
        session = by_charger[charge_point_id]
        assert session["energy_wh"] == result.energy_wh > 0
        assert session["id_token"] == "TAG-MIX"
    chargers = (await system.api("GET", "/charge-points", expect=200))["items"]
    assert {c["id"]: c["connected_protocol"] for c in chargers} == {
        "MIX-16": "ocpp1.6",
        "MIX-201": "ocpp2.0.1",
    }
