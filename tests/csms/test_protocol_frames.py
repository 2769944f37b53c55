"""Frames from a raw websocket client: the right CALLERROR (or close) for bad input, and
the server keeps serving other chargers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.csms.conftest import PASSWORD, System, basic_auth

pytestmark = pytest.mark.slow


async def _open(
    system: System,
    charge_point_id: str,
    password: str = PASSWORD,
    subprotocols: list[str] | None = None,
) -> ClientConnection:
    return await connect(
        f"{system.ocpp_url}/{charge_point_id}",
        subprotocols=["ocpp1.6"] if subprotocols is None else subprotocols,  # type: ignore[list-item]
        additional_headers=basic_auth(charge_point_id, password),
        open_timeout=5,
    )


async def _exchange(ws: ClientConnection, frame: Any) -> list[Any]:
    await ws.send(frame if isinstance(frame, str) else json.dumps(frame))
    reply = await asyncio.wait_for(ws.recv(), 5)
    parsed: list[Any] = json.loads(reply)
    return parsed


@pytest.fixture
async def cp(system: System) -> AsyncIterator[ClientConnection]:
    await system.register("CP-RAW")
    ws = await _open(system, "CP-RAW")
    yield ws
    await ws.close()


BOOT = {"chargePointVendor": "V", "chargePointModel": "M"}


async def test_timestamps_without_offset_pass_and_garbage_does_not(cp: ClientConnection) -> None:
    status = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
    # Some chargers drop the Z; OCPP means UTC, so it is accepted.
    reply = await _exchange(
        cp, [2, "t1", "StatusNotification", {**status, "timestamp": "2026-01-15T12:00:00"}]
    )
    assert reply == [3, "t1", {}]
    reply = await _exchange(cp, [2, "t2", "StatusNotification", {**status, "timestamp": "soon"}])
    assert reply[:3] == [4, "t2", "PropertyConstraintViolation"]


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ("this is not json", ["-1", "FormationViolation"]),
        ('{"an": "object"}', ["-1", "FormationViolation"]),
        ([9, "m1", "Heartbeat", {}], ["m1", "FormationViolation"]),
        ([2, "m2", "Heartbeat"], ["m2", "FormationViolation"]),
        ([2, "m3", "NoSuchAction", {}], ["m3", "NotImplemented"]),
        # Known to OCPP 1.6 but a central-system-to-charger action: not supported here.
        ([2, "m4", "RemoteStartTransaction", {"idTag": "X"}], ["m4", "NotSupported"]),
        (
            [2, "m5", "BootNotification", {"chargePointVendor": "V"}],
            ["m5", "OccurenceConstraintViolation"],
        ),
        (
            [2, "m6", "BootNotification", {**BOOT, "chargePointVendor": 7}],
            ["m6", "TypeConstraintViolation"],
        ),
        ([2, "m7", "BootNotification", {**BOOT, "surprise": 1}], ["m7", "FormationViolation"]),
        (
            [
                2,
                "m8",
                "StatusNotification",
                {"connectorId": 1, "errorCode": "NoError", "status": "Dancing"},
            ],
            ["m8", "PropertyConstraintViolation"],
        ),
        (
            [2, "m9", "BootNotification", {**BOOT, "chargePointVendor": "V" * 21}],
            ["m9", "PropertyConstraintViolation"],
        ),
    ],
)
async def test_bad_frames_get_the_16_error_code(
    cp: ClientConnection, frame: Any, expected: list[str]
) -> None:
    reply = await _exchange(cp, frame)
    assert reply[0] == 4
    assert reply[1:3] == expected


async def test_bad_frames_do_not_disturb_the_connection_or_others(
    system: System, cp: ClientConnection
) -> None:
    await system.register("CP-OTHER")
    other = await _open(system, "CP-OTHER")
    try:
        for junk in ["{", "[]", "[2]", '[2, "x", "Heartbeat", []]']:
            reply = await _exchange(cp, junk)
            assert reply[0] == 4
        assert (await _exchange(cp, [2, "ok1", "Heartbeat", {}]))[:2] == [3, "ok1"]
        assert (await _exchange(other, [2, "ok2", "Heartbeat", {}]))[:2] == [3, "ok2"]
    finally:
        await other.close()


async def test_oversized_frame_closes_that_connection_only(
    system: System, cp: ClientConnection
) -> None:
    await system.register("CP-BIG")
    other = await _open(system, "CP-BIG")
    try:
        huge = json.dumps(
            [
                2,
                "big",
                "DataTransfer",
                {"vendorId": "V", "data": "x" * (system.settings.ws_max_message_bytes)},
            ]
        )
        await cp.send(huge)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(cp.recv(), 5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009  # message too big
        assert (await _exchange(other, [2, "hb", "Heartbeat", {}]))[:2] == [3, "hb"]
    finally:
        await other.close()


async def test_unknown_charger_and_wrong_password_are_refused(system: System) -> None:
    await system.register("CP-AUTH")
    for charge_point_id, password in [("CP-NOBODY", PASSWORD), ("CP-AUTH", "wrong-password")]:
        with pytest.raises(InvalidStatus) as refused:
            await _open(system, charge_point_id, password)
        assert refused.value.response.status_code == 401
    # Basic auth whose username is another charger's id.
    with pytest.raises(InvalidStatus) as refused:
        await connect(
            f"{system.ocpp_url}/CP-AUTH",
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            additional_headers=basic_auth("CP-OTHER", PASSWORD),
            open_timeout=5,
        )
    assert refused.value.response.status_code == 401
    # No credentials at all.
    with pytest.raises(InvalidStatus) as refused:
        await connect(
            f"{system.ocpp_url}/CP-AUTH",
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            open_timeout=5,
        )
    assert refused.value.response.status_code == 401


async def test_missing_or_unknown_subprotocol_is_refused(system: System) -> None:
    await system.register("CP-SUB")
    for offered in ([], ["ocpp1.2"]):
        with pytest.raises(InvalidStatus) as refused:
            await _open(system, "CP-SUB", subprotocols=offered)
        assert refused.value.response.status_code == 400


async def test_wrong_path_is_refused(system: System) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await connect(
            f"ws://127.0.0.1:{system.ready.ocpp_port}/elsewhere/CP",
            subprotocols=["ocpp1.6"],
            open_timeout=5,
        )  # type: ignore[list-item]
    assert refused.value.response.status_code == 404


async def test_second_connection_replaces_the_first(system: System) -> None:
    await system.register("CP-TWICE")
    first = await _open(system, "CP-TWICE")
    second = await _open(system, "CP-TWICE")
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(first.recv(), 5)
    assert first.close_code == 1000
    assert (await _exchange(second, [2, "hb", "Heartbeat", {}]))[:2] == [3, "hb"]
    await system.settle()
    assert await system.fetchval("SELECT online FROM charge_points WHERE id = 'CP-TWICE'")
    charger = await system.api("GET", "/charge-points/CP-TWICE", expect=200)
    assert charger["online"] is True
    await second.close()
    await system.settle()
    assert not await system.fetchval("SELECT online FROM charge_points WHERE id = 'CP-TWICE'")


async def test_every_frame_is_logged_in_and_out(system: System, cp: ClientConnection) -> None:
    await _exchange(cp, [2, "log1", "Heartbeat", {}])
    await _exchange(cp, "garbage")
    await system.settle()
    rows = await system.fetch(
        "SELECT direction, message_type, unique_id, action, frame FROM message_log "
        "WHERE charge_point_id = 'CP-RAW' ORDER BY id"
    )
    assert [(r["direction"], r["message_type"], r["unique_id"]) for r in rows] == [
        ("in", 2, "log1"),
        ("out", 3, "log1"),
        ("in", None, None),
        ("out", 4, "-1"),
    ]
    assert rows[0]["action"] == "Heartbeat"
    assert rows[2]["frame"] == "garbage"
    page = await system.api("GET", "/charge-points/CP-RAW/messages?limit=2", expect=200)
    assert [m["unique_id"] for m in page["items"]] == ["-1", None]
    assert page["next"] is not None


async def test_changed_password_takes_effect_despite_the_verification_cache(
    system: System,
) -> None:
    await system.register("CP-ROTATE")
    first = await _open(system, "CP-ROTATE")  # verified once, then remembered
    await first.close()
    await system.api(
        "PATCH", "/charge-points/CP-ROTATE", {"password": "rotated-password-99"}, expect=200
    )
    with pytest.raises(InvalidStatus) as refused:
        await _open(system, "CP-ROTATE")
    assert refused.value.response.status_code == 401
    second = await _open(system, "CP-ROTATE", "rotated-password-99")
    await second.close()
