"""Settings that change how chargers are admitted and answered."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import asyncpg
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.csms.conftest import System, basic_auth, make_settings, start_system

pytestmark = pytest.mark.slow


@pytest.fixture
async def open_system(pool: asyncpg.Pool) -> AsyncIterator[System]:
    settings = make_settings(auto_register_charge_points=True, boot_registration_status="Pending")
    async for running in start_system(pool, settings):
        yield running


async def test_auto_registration_and_pending_boot(open_system: System) -> None:
    system = open_system
    url = f"{system.ocpp_url}/NEW-CP"
    # Without a password nothing is registered, even in this mode.
    with pytest.raises(InvalidStatus):
        await connect(url, subprotocols=["ocpp1.6"], open_timeout=5)  # type: ignore[list-item]
    async with connect(
        url,
        subprotocols=["ocpp2.0.1"],  # type: ignore[list-item]
        additional_headers=basic_auth("NEW-CP", "first-password-123"),
    ) as ws:
        boot = {"chargingStation": {"vendorName": "V", "model": "M"}, "reason": "PowerUp"}
        await ws.send(json.dumps([2, "b1", "BootNotification", boot]))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert reply[2]["status"] == "Pending"
    registered = await system.api("GET", "/charge-points/NEW-CP", expect=200)
    assert registered["registration_status"] == "Pending"
    # The password it first presented is now the one it must keep using.
    with pytest.raises(InvalidStatus) as refused:
        await connect(
            url,
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            additional_headers=basic_auth("NEW-CP", "other-password"),
            open_timeout=5,
        )
    assert refused.value.response.status_code == 401


async def test_201_meter_values_outside_a_transaction(system: System) -> None:
    await system.register("CP-MV")
    async with connect(
        f"{system.ocpp_url}/CP-MV",
        subprotocols=["ocpp2.0.1"],  # type: ignore[list-item]
        additional_headers=basic_auth("CP-MV", "secret-password-1"),
    ) as ws:
        payload = {
            "evseId": 0,
            "meterValue": [
                {
                    "timestamp": "2026-02-01T00:00:00Z",
                    "sampledValue": [
                        {"value": 1.5, "context": "Sample.Clock", "unitOfMeasure": {"unit": "kWh"}}
                    ],
                }
            ],
        }
        await ws.send(json.dumps([2, "m", "MeterValues", payload]))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == [3, "m", {}]
    rows = await system.fetch("SELECT session_id, evse_id, context, energy_wh FROM meter_samples")
    assert [tuple(r) for r in rows] == [(None, 0, "Sample.Clock", 1500)]
