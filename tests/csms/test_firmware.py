"""Firmware updates and diagnostics / log uploads end to end, OCPP 1.6 and 2.0.1:
update-firmware, get-diagnostics and get-log from the admin API, the frame as it left the
server, the simulator's answer and its status notifications, and the firmware history
read back from the admin API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from simulators.charger import BaseCharger, ChargerConfig, create_charger
from tests.conftest import TIME_FACTOR
from tests.csms.conftest import PASSWORD, System

pytestmark = pytest.mark.slow

CP = "CP-FW"
RETRIEVE = "2026-01-02T03:04:05Z"


async def _charger(system: System, protocol: str) -> AsyncIterator[BaseCharger]:
    await system.register(CP)
    config = ChargerConfig(
        url=system.ocpp_url, charge_point_id=CP, password=PASSWORD, protocol=protocol
    )
    async with create_charger(config, time_scale=60) as cp:
        yield cp


@pytest.fixture
async def charger_16(system: System) -> AsyncIterator[BaseCharger]:
    async for cp in _charger(system, "ocpp1.6"):
        yield cp


@pytest.fixture
async def charger_201(system: System) -> AsyncIterator[BaseCharger]:
    async for cp in _charger(system, "ocpp2.0.1"):
        yield cp


async def command(system: System, name: str, body: Any, expect: int = 200) -> Any:
    return await system.api("POST", f"/charge-points/{CP}/commands/{name}", body, expect)


async def exchange(system: System, action: str) -> list[tuple[list[Any], list[Any]]]:
    """Each ``action`` CALL that left the server with the charger's CALLRESULT."""
    await system.settle()
    rows = await system.fetch(
        "SELECT direction, unique_id, action, frame FROM message_log "
        "WHERE charge_point_id = $1 ORDER BY id",
        CP,
    )
    calls = [r for r in rows if r["direction"] == "out" and r["action"] == action]
    pairs = []
    for out in calls:
        (answer,) = [
            r for r in rows if r["direction"] == "in" and r["unique_id"] == out["unique_id"]
        ]
        pairs.append((json.loads(out["frame"]), json.loads(answer["frame"])))
    return pairs


async def history(system: System, want: int, query: str = "") -> list[dict[str, Any]]:
    """The firmware history once it holds ``want`` items (or after the wait)."""
    deadline = asyncio.get_running_loop().time() + 5 * TIME_FACTOR
    while True:
        page = await system.api("GET", f"/charge-points/{CP}/firmware-history{query}", expect=200)
        assert set(page) == {"items", "next"}
        items: list[dict[str, Any]] = page["items"]
        if len(items) >= want or asyncio.get_running_loop().time() > deadline:
            return items
        await asyncio.sleep(0.05)


def statuses(items: list[dict[str, Any]], kind: str) -> list[str]:
    """Oldest first, for comparing with the order the charger sent them."""
    return [item["status"] for item in reversed(items) if item["kind"] == kind]


async def test_v16_update_firmware_and_diagnostics(system: System, charger_16: BaseCharger) -> None:
    body = {"location": "https://fw.example/cp-1.2.bin", "retrieve_date": RETRIEVE, "retries": 2}
    assert await command(system, "update-firmware", body) == {}
    [(sent, answer)] = await exchange(system, "UpdateFirmware")
    assert sent[3] == {
        "location": "https://fw.example/cp-1.2.bin",
        "retrieveDate": RETRIEVE,
        "retries": 2,
    }
    assert answer[2] == {}
    items = await history(system, 4)
    assert statuses(items, "FirmwareStatus") == [
        "Downloading",
        "Downloaded",
        "Installing",
        "Installed",
    ]
    assert [item["id"] for item in items] == sorted((item["id"] for item in items), reverse=True)
    assert all(item["request_id"] is None and item["received_at"] for item in items)

    reply = await command(
        system,
        "get-diagnostics",
        {"location": "ftp://logs.example/", "start_time": "2026-01-01T00:00:00Z"},
    )
    assert reply == {"file_name": f"{CP}-diagnostics.log"}
    [(sent, answer)] = await exchange(system, "GetDiagnostics")
    assert sent[3] == {"location": "ftp://logs.example/", "startTime": "2026-01-01T00:00:00Z"}
    assert answer[2] == {"fileName": f"{CP}-diagnostics.log"}
    items = await history(system, 6)
    assert statuses(items, "DiagnosticsStatus") == ["Uploading", "Uploaded"]
    assert items[0]["kind"] == "DiagnosticsStatus" and items[0]["status"] == "Uploaded"

    # get-log with a DiagnosticsLog is GetDiagnostics on 1.6; a failing upload.
    reply = await command(
        system,
        "get-log",
        {"log_type": "DiagnosticsLog", "log": {"remote_location": "fail:ftp://down/"}},
    )
    assert reply == {"file_name": f"{CP}-diagnostics.log"}
    assert len(await exchange(system, "GetDiagnostics")) == 2
    items = await history(system, 8)
    assert statuses(items, "DiagnosticsStatus") == [
        "Uploading",
        "Uploaded",
        "Uploading",
        "UploadFailed",
    ]

    # Paging: newest first across pages.
    first = await system.api("GET", f"/charge-points/{CP}/firmware-history?limit=3", expect=200)
    assert len(first["items"]) == 3 and first["next"]
    second = await system.api(
        "GET", f"/charge-points/{CP}/firmware-history?limit=3&cursor={first['next']}", expect=200
    )
    assert [i["id"] for i in first["items"] + second["items"]] == [i["id"] for i in items[:6]]


async def test_v16_refusals(system: System, charger_16: BaseCharger) -> None:
    await command(
        system,
        "get-log",
        {"log_type": "SecurityLog", "log": {"remote_location": "ftp://x/"}},
        expect=400,
    )
    await command(
        system,
        "update-firmware",
        {"location": "https://fw/", "retrieve_date": RETRIEVE, "request_id": 5},
        expect=400,
    )
    await command(system, "update-firmware", {"location": "https://fw/"}, expect=400)
    assert await exchange(system, "UpdateFirmware") == []


async def test_v201_update_firmware_and_get_log(system: System, charger_201: BaseCharger) -> None:
    body = {
        "location": "https://fw.example/cs-2.0.bin",
        "retrieve_date": RETRIEVE,
        "install_date": "2026-01-02T04:00:00Z",
        "retry_interval": 30,
    }
    reply = await command(system, "update-firmware", body)
    request_id = reply["request_id"]
    assert reply == {"status": "Accepted", "request_id": request_id}
    assert isinstance(request_id, int)
    [(sent, answer)] = await exchange(system, "UpdateFirmware")
    assert sent[3] == {
        "requestId": request_id,
        "firmware": {
            "location": "https://fw.example/cs-2.0.bin",
            "retrieveDateTime": RETRIEVE,
            "installDateTime": "2026-01-02T04:00:00Z",
        },
        "retryInterval": 30,
    }
    assert answer[2] == {"status": "Accepted"}
    items = await history(system, 4)
    assert statuses(items, "FirmwareStatus") == [
        "Downloading",
        "Downloaded",
        "Installing",
        "Installed",
    ]
    assert {item["request_id"] for item in items} == {request_id}

    # A failing download, with the operator's own request id.
    reply = await command(
        system,
        "update-firmware",
        {"location": "fail:https://nowhere/", "retrieve_date": RETRIEVE, "request_id": 4242},
    )
    assert reply == {"status": "Accepted", "request_id": 4242}
    items = await history(system, 6)
    assert [(i["status"], i["request_id"]) for i in items[:2]] == [
        ("DownloadFailed", 4242),
        ("Downloading", 4242),
    ]

    reply = await command(
        system,
        "get-log",
        {
            "log_type": "SecurityLog",
            "request_id": 77,
            "log": {"remote_location": "https://logs.example/up"},
        },
    )
    assert reply == {"status": "Accepted", "filename": f"{CP}-securitylog.log", "request_id": 77}
    [(sent, answer)] = await exchange(system, "GetLog")
    assert sent[3] == {
        "log": {"remoteLocation": "https://logs.example/up"},
        "logType": "SecurityLog",
        "requestId": 77,
    }
    assert answer[2] == {"status": "Accepted", "filename": f"{CP}-securitylog.log"}
    items = await history(system, 8)
    assert [(i["kind"], i["status"], i["request_id"]) for i in items[:2]] == [
        ("LogStatus", "Uploaded", 77),
        ("LogStatus", "Uploading", 77),
    ]

    # get-diagnostics is GetLog (DiagnosticsLog) on 2.0.1, with a generated request id.
    reply = await command(
        system,
        "get-diagnostics",
        {"location": "fail:https://logs.example/", "stop_time": "2026-01-03T00:00:00Z"},
    )
    generated = reply["request_id"]
    assert generated != request_id and reply["status"] == "Accepted"
    sent, _ = (await exchange(system, "GetLog"))[1]
    assert sent[3] == {
        "log": {
            "remoteLocation": "fail:https://logs.example/",
            "latestTimestamp": "2026-01-03T00:00:00Z",
        },
        "logType": "DiagnosticsLog",
        "requestId": generated,
    }
    items = await history(system, 10)
    assert [(i["kind"], i["status"], i["request_id"]) for i in items[:2]] == [
        ("LogStatus", "UploadFailure", generated),
        ("LogStatus", "Uploading", generated),
    ]


async def test_offline_and_unknown(system: System) -> None:
    await system.register(CP)
    await command(
        system, "update-firmware", {"location": "https://fw/", "retrieve_date": RETRIEVE}, 409
    )
    page = await system.api("GET", f"/charge-points/{CP}/firmware-history", expect=200)
    assert page == {"items": [], "next": None}
    await system.api("GET", "/charge-points/NOPE/firmware-history", expect=404)
