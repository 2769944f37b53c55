"""OCPP 2.0.1 over a raw websocket: version negotiation, error codes of 2.0.1, and
transaction events with seqNo replays, NoAuthorization and unknown transactions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from tests.csms.conftest import PASSWORD, System, basic_auth

pytestmark = pytest.mark.slow

T = "2026-02-01T10:00:00Z"


async def _open(system: System, charge_point_id: str, offered: list[str]) -> ClientConnection:
    return await connect(
        f"{system.ocpp_url}/{charge_point_id}",
        subprotocols=offered,  # type: ignore[arg-type]
        additional_headers=basic_auth(charge_point_id, PASSWORD),
        open_timeout=5,
    )


async def _exchange(ws: ClientConnection, frame: Any) -> list[Any]:
    await ws.send(frame if isinstance(frame, str) else json.dumps(frame))
    parsed: list[Any] = json.loads(await asyncio.wait_for(ws.recv(), 5))
    return parsed


@pytest.mark.parametrize(
    ("offered", "pinned", "chosen"),
    [
        (["ocpp1.6", "ocpp2.0.1"], None, "ocpp2.0.1"),
        (["ocpp2.0.1"], None, "ocpp2.0.1"),
        (["ocpp1.6"], None, "ocpp1.6"),
        (["ocpp2.0.1", "ocpp1.6"], "ocpp1.6", "ocpp1.6"),
    ],
)
async def test_version_negotiation(
    system: System, offered: list[str], pinned: str | None, chosen: str
) -> None:
    extra = {"protocol": pinned} if pinned else {}
    await system.register("CP-NEG", **extra)
    ws = await _open(system, "CP-NEG", offered)
    try:
        assert ws.subprotocol == chosen
        await system.settle()
        charger = await system.api("GET", "/charge-points/CP-NEG", expect=200)
        assert charger["online"] is True
        row = await system.fetch("SELECT connected_protocol FROM charge_points")
        assert row[0]["connected_protocol"] == chosen
    finally:
        await ws.close()


@pytest.mark.parametrize("offered", [[], ["ocpp2.1"]])
async def test_no_usable_subprotocol_is_refused(system: System, offered: list[str]) -> None:
    await system.register("CP-NONE")
    with pytest.raises(InvalidStatus) as refused:
        await _open(system, "CP-NONE", offered)
    assert refused.value.response.status_code == 400


async def test_pinned_protocol_not_offered_is_refused(system: System) -> None:
    await system.register("CP-PIN", protocol="ocpp1.6")
    with pytest.raises(InvalidStatus) as refused:
        await _open(system, "CP-PIN", ["ocpp2.0.1"])
    assert refused.value.response.status_code == 400


@pytest.fixture
async def cp(system: System) -> AsyncIterator[ClientConnection]:
    await system.register("CP-201")
    await system.token("TAG-201")
    ws = await _open(system, "CP-201", ["ocpp2.0.1"])
    yield ws
    await ws.close()


BOOT = {"chargingStation": {"vendorName": "V", "model": "M"}, "reason": "PowerUp"}


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ("not json", ["-1", "RpcFrameworkError"]),
        ([7, "m1", "Heartbeat", {}], ["m1", "MessageTypeNotSupported"]),
        ([2, "m2", "NoSuchAction", {}], ["m2", "NotImplemented"]),
        (
            [
                2,
                "m3",
                "RequestStartTransaction",
                {"idToken": {"idToken": "x", "type": "Central"}, "remoteStartId": 1},
            ],
            ["m3", "NotSupported"],
        ),
        (
            [2, "m4", "BootNotification", {"reason": "PowerUp"}],
            ["m4", "OccurrenceConstraintViolation"],
        ),
        ([2, "m5", "BootNotification", {**BOOT, "extra": 1}], ["m5", "FormatViolation"]),
        (
            [2, "m6", "BootNotification", {**BOOT, "reason": "Bored"}],
            ["m6", "PropertyConstraintViolation"],
        ),
        ([2, "m7", "Heartbeat", []], ["m7", "RpcFrameworkError"]),
    ],
)
async def test_bad_frames_get_the_201_error_code(
    cp: ClientConnection, frame: Any, expected: list[str]
) -> None:
    reply = await _exchange(cp, frame)
    assert reply[0] == 4
    assert reply[1:3] == expected


def _event(
    event_type: str,
    seq_no: int,
    trigger: str,
    *,
    tx: str = "TX-1",
    token: dict[str, str] | None = None,
    meter_wh: float | None = None,
    multiplier: int = 0,
    unit: str = "Wh",
    **info: Any,
) -> dict[str, Any]:
    # One minute per seqNo: samples are unique per (timestamp, measurand, phase, location).
    at = f"2026-02-01T10:{seq_no:02d}:00Z"
    payload: dict[str, Any] = {
        "eventType": event_type,
        "timestamp": at,
        "triggerReason": trigger,
        "seqNo": seq_no,
        "transactionInfo": {"transactionId": tx, **info},
    }
    if event_type == "Started":
        payload["evse"] = {"id": 1, "connectorId": 1}
    if token is not None:
        payload["idToken"] = token
    if meter_wh is not None:
        payload["meterValue"] = [
            {
                "timestamp": at,
                "sampledValue": [
                    {"value": meter_wh, "unitOfMeasure": {"unit": unit, "multiplier": multiplier}}
                ],
            }
        ]
    return payload


async def test_transaction_events_seqno_replays_and_units(
    system: System, cp: ClientConnection
) -> None:
    token = {"idToken": "TAG-201", "type": "ISO14443"}
    started = _event(
        "Started", 0, "CablePluggedIn", meter_wh=10.0, unit="kWh", chargingState="EVConnected"
    )
    reply = await _exchange(cp, [2, "e0", "TransactionEvent", started])
    assert reply == [3, "e0", {}]  # no idToken yet, so no idTokenInfo
    updated = _event("Updated", 1, "Authorized", token=token, chargingState="Charging")
    for unique_id in ("e1", "e1-again"):  # a re-sent seqNo changes nothing
        reply = await _exchange(cp, [2, unique_id, "TransactionEvent", updated])
        assert reply[2] == {"idTokenInfo": {"status": "Accepted"}}
    periodic = _event("Updated", 2, "MeterValuePeriodic", meter_wh=105, multiplier=2)
    await _exchange(cp, [2, "e2", "TransactionEvent", periodic])
    ended = _event(
        "Ended",
        3,
        "EVCommunicationLost",
        meter_wh=10.75,
        unit="kWh",
        stoppedReason="EVDisconnected",
        chargingState="Idle",
    )
    assert (await _exchange(cp, [2, "e3", "TransactionEvent", ended]))[0] == 3
    assert (await _exchange(cp, [2, "e3b", "TransactionEvent", ended]))[0] == 3

    (session,) = (await system.api("GET", "/sessions?charge_point_id=CP-201", expect=200))["items"]
    assert session["transaction_id"] == "TX-1"
    assert session["protocol"] == "ocpp2.0.1"
    assert (session["evse_id"], session["connector_id"]) == (1, 1)
    assert session["id_token"] == "TAG-201" and session["id_token_status"] == "Accepted"
    assert (session["meter_start_wh"], session["meter_stop_wh"], session["energy_wh"]) == (
        10_000,
        10_750,
        750,
    )
    assert session["status"] == "completed" and session["stop_reason"] == "EVDisconnected"
    events = await system.fetch(
        "SELECT seq_no, trigger_reason FROM transaction_events ORDER BY seq_no"
    )
    assert [(e["seq_no"], e["trigger_reason"]) for e in events] == [
        (0, "CablePluggedIn"),
        (1, "Authorized"),
        (2, "MeterValuePeriodic"),
        (3, "EVCommunicationLost"),
    ]
    registers = await system.fetch("SELECT energy_wh FROM meter_samples ORDER BY energy_wh")
    assert [r["energy_wh"] for r in registers] == [10_000, 10_500, 10_750]


async def test_no_authorization_start_is_accepted_and_recorded(
    system: System, cp: ClientConnection
) -> None:
    free = {"idToken": "", "type": "NoAuthorization"}
    started = _event("Started", 10, "Authorized", tx="FREE-1", token=free, meter_wh=500)
    reply = await _exchange(cp, [2, "f0", "TransactionEvent", started])
    assert reply[2] == {"idTokenInfo": {"status": "Accepted"}}
    ended = _event("Ended", 11, "StopAuthorized", tx="FREE-1", meter_wh=800)
    await _exchange(cp, [2, "f1", "TransactionEvent", ended])
    row = (
        await system.fetch(
            "SELECT id_token, id_token_status, energy_wh, stop_reason, status FROM sessions"
        )
    )[0]
    assert tuple(row) == ("", "Accepted", 300, "Local", "completed")


async def test_unknown_token_and_unknown_transaction(system: System, cp: ClientConnection) -> None:
    reply = await _exchange(
        cp, [2, "a1", "Authorize", {"idToken": {"idToken": "NOBODY", "type": "ISO14443"}}]
    )
    assert reply[2] == {"idTokenInfo": {"status": "Unknown"}}
    ended = _event(
        "Ended", 40, "EVDeparted", tx="GHOST", meter_wh=900, stoppedReason="EVDisconnected"
    )
    for unique_id in ("g1", "g2"):
        assert (await _exchange(cp, [2, unique_id, "TransactionEvent", ended]))[0] == 3
    rows = await system.fetch("SELECT transaction_id, status, stop_reason FROM sessions")
    assert [tuple(r) for r in rows] == [("GHOST", "orphaned", "EVDisconnected")]


async def test_updated_before_started_opens_the_session(
    system: System, cp: ClientConnection
) -> None:
    updated = _event(
        "Updated", 5, "MeterValuePeriodic", tx="LATE", meter_wh=2000, chargingState="Charging"
    )
    await _exchange(cp, [2, "l1", "TransactionEvent", updated])
    ended = _event("Ended", 6, "EVDeparted", tx="LATE", meter_wh=2600)
    await _exchange(cp, [2, "l2", "TransactionEvent", ended])
    rows = await system.fetch("SELECT status, energy_wh FROM sessions")
    assert [tuple(r) for r in rows] == [("completed", 600)]


async def test_status_boot_report_and_events(system: System, cp: ClientConnection) -> None:
    reply = await _exchange(cp, [2, "b", "BootNotification", BOOT])
    assert reply[2]["status"] == "Accepted" and reply[2]["interval"] == 300
    status = {"timestamp": T, "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1}
    assert (await _exchange(cp, [2, "s", "StatusNotification", status]))[0] == 3
    report = {
        "requestId": 1,
        "generatedAt": T,
        "seqNo": 0,
        "reportData": [
            {
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
                "variableAttribute": [
                    {"type": "Actual", "value": "300", "mutability": "ReadWrite"}
                ],
            },
            {
                "component": {"name": "EVSE", "evse": {"id": 1}},
                "variable": {"name": "Power"},
                "variableAttribute": [{"value": "22000", "mutability": "ReadOnly"}],
            },
        ],
    }
    assert (await _exchange(cp, [2, "r", "NotifyReport", report]))[0] == 3
    for action, payload in [
        ("SecurityEventNotification", {"type": "StartupOfTheDevice", "timestamp": T}),
        ("FirmwareStatusNotification", {"status": "Installed"}),
        ("LogStatusNotification", {"status": "Uploaded", "requestId": 3}),
        (
            "NotifyEvent",
            {
                "generatedAt": T,
                "seqNo": 0,
                "eventData": [
                    {
                        "eventId": 1,
                        "timestamp": T,
                        "trigger": "Delta",
                        "actualValue": "1",
                        "eventNotificationType": "HardWiredMonitor",
                        "component": {"name": "Door"},
                        "variable": {"name": "Open"},
                    }
                ],
            },
        ),
    ]:
        assert (await _exchange(cp, [2, action, action, payload]))[0] == 3
    reply = await _exchange(cp, [2, "dt", "DataTransfer", {"vendorId": "acme"}])
    assert reply[2] == {"status": "UnknownVendorId"}

    charger = await system.api("GET", "/charge-points/CP-201", expect=200)
    assert charger["boot"]["vendor"] == "V"
    assert {(c["evse_id"], c["connector_id"]): c["status"] for c in charger["connectors"]} == {
        (1, 1): "Occupied"
    }
    model = await system.fetch(
        "SELECT component, evse_id, variable, value, mutability "
        "FROM device_model ORDER BY component"
    )
    assert [tuple(r) for r in model] == [
        ("EVSE", 1, "Power", "22000", "ReadOnly"),
        ("OCPPCommCtrlr", 0, "HeartbeatInterval", "300", "ReadWrite"),
    ]
    kinds = {r["kind"] for r in await system.fetch("SELECT kind FROM charge_point_events")}
    assert kinds == {"SecurityEvent", "FirmwareStatus", "LogStatus", "NotifyEvent", "DataTransfer"}


async def test_admin_api_shows_201_detail(system: System, cp: ClientConnection) -> None:
    report = {
        "requestId": 1,
        "generatedAt": T,
        "seqNo": 0,
        "reportData": [
            {
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
                "variableAttribute": [{"value": "300"}],
            }
        ],
    }
    await _exchange(cp, [2, "r", "NotifyReport", report])
    model = await system.api("GET", "/charge-points/CP-201/device-model", expect=200)
    assert [(i["component"], i["variable"], i["value"]) for i in model["items"]] == [
        ("OCPPCommCtrlr", "HeartbeatInterval", "300")
    ]
    started = _event(
        "Started",
        0,
        "RemoteStart",
        tx="R-1",
        remoteStartId=17,
        meter_wh=1,
        chargingState="Charging",
    )
    started["offline"] = True
    await _exchange(cp, [2, "s", "TransactionEvent", started])
    (session,) = (await system.api("GET", "/sessions", expect=200))["items"]
    assert (session["remote_start_id"], session["charging_state"], session["replayed_offline"]) == (
        17,
        "Charging",
        True,
    )
    detail = await system.api("GET", f"/sessions/{session['id']}", expect=200)
    assert [
        (e["seq_no"], e["trigger_reason"], e["offline"]) for e in detail["transaction_events"]
    ] == [(0, "RemoteStart", True)]
    charger = await system.api("GET", "/charge-points/CP-201", expect=200)
    assert charger["connected_protocol"] == "ocpp2.0.1"
