"""OCPP 2.0.1 charging profile reports and EV charging needs end to end:
get-charging-profiles (Accepted with its request id, then the charger's
ReportChargingProfiles stored as a ChargingProfileReport event; NoProfiles when nothing
matches; not a 1.6 command) and NotifyEVChargingNeeds answered Accepted and stored."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from simulators.charger import BaseCharger
from tests.csms.conftest import System
from tests.csms.test_smart_charging import (
    CP,
    DEFAULT_TX,
    _charger,
    command,
    exchange,
    schema_valid,
)

pytestmark = pytest.mark.slow


@pytest.fixture
async def charger_16(system: System) -> AsyncIterator[BaseCharger]:
    async for cp in _charger(system, "ocpp1.6"):
        yield cp


@pytest.fixture
async def charger_201(system: System) -> AsyncIterator[BaseCharger]:
    async for cp in _charger(system, "ocpp2.0.1"):
        yield cp


def _payload(row: asyncpg.Record) -> dict[str, Any]:
    value = row["payload"]
    return json.loads(value) if isinstance(value, str) else dict(value)


async def _events(system: System, kind: str, count: int = 1) -> list[asyncpg.Record]:
    """The charger's ``kind`` events, once ``count`` of them have arrived."""
    async with asyncio.timeout(10):
        while True:
            rows = await system.fetch(
                "SELECT status, payload FROM charge_point_events "
                "WHERE charge_point_id = $1 AND kind = $2 ORDER BY id",
                CP,
                kind,
            )
            if len(rows) >= count:
                return rows
            await asyncio.sleep(0.05)


async def test_get_charging_profiles_is_answered_then_reported(
    system: System, charger_201: BaseCharger
) -> None:
    reply = await command(system, "set-charging-profile", {"evse_id": 1, "profile": DEFAULT_TX})
    assert reply["status"] == "Accepted"
    profile_id = reply.get("charging_profile_id")

    reply = await command(
        system,
        "get-charging-profiles",
        {"evse_id": 1, "charging_profile": {"charging_profile_purpose": "TxDefaultProfile"}},
    )
    assert reply["status"] == "Accepted"
    assert isinstance(reply["request_id"], int)
    ((request, answer),) = await exchange(system, "GetChargingProfiles")
    schema_valid(charger_201, "GetChargingProfiles", request)
    assert request == {
        "requestId": reply["request_id"],
        "evseId": 1,
        "chargingProfile": {"chargingProfilePurpose": "TxDefaultProfile"},
    }
    assert answer == {"status": "Accepted"}

    (row,) = await _events(system, "ChargingProfileReport")
    assert row["status"] == "CSO"
    report = _payload(row)
    assert report["request_id"] == reply["request_id"]
    assert report["evse_id"] == 1 and report["tbc"] is False
    (profile,) = report["charging_profile"]
    assert profile["charging_profile_purpose"] == "TxDefaultProfile"
    assert profile["stack_level"] == DEFAULT_TX["stack_level"]
    if profile_id is not None:
        assert profile["id"] == profile_id

    # The same through the events endpoint.
    page = await system.api("GET", f"/charge-points/{CP}/events", expect=200)
    kinds = [item["kind"] for item in page["items"]]
    assert "ChargingProfileReport" in kinds

    # A request id given by the operator is sent as it is.
    reply = await command(
        system, "get-charging-profiles", {"request_id": 4242, "charging_profile": {}}
    )
    assert reply == {"status": "Accepted", "request_id": 4242}
    rows = await _events(system, "ChargingProfileReport", 2)
    assert _payload(rows[1])["request_id"] == 4242


async def test_no_profiles_when_none_match(system: System, charger_201: BaseCharger) -> None:
    reply = await command(system, "get-charging-profiles", {"charging_profile": {}})
    assert reply["status"] == "NoProfiles" and isinstance(reply["request_id"], int)

    reply = await command(system, "set-charging-profile", {"evse_id": 1, "profile": DEFAULT_TX})
    assert reply["status"] == "Accepted"
    for criteria in (
        {"charging_profile": {"stack_level": 7}},
        {"evse_id": 2, "charging_profile": {}},
        {"charging_profile": {"charging_profile_purpose": "ChargingStationMaxProfile"}},
        {"charging_profile": {"charging_limit_source": ["EMS"]}},
        {"charging_profile": {"charging_profile_id": [999999]}},
    ):
        reply = await command(system, "get-charging-profiles", criteria)
        assert reply["status"] == "NoProfiles", criteria
    await system.settle()
    rows = await system.fetch(
        "SELECT 1 FROM charge_point_events WHERE charge_point_id = $1 "
        "AND kind = 'ChargingProfileReport'",
        CP,
    )
    assert rows == []


async def test_get_charging_profiles_is_not_a_16_command(
    system: System, charger_16: BaseCharger
) -> None:
    reply = await command(system, "get-charging-profiles", {"charging_profile": {}}, expect=400)
    assert reply["error"]["code"] == "command_not_supported"
    assert await exchange(system, "GetChargingProfiles") == []


async def test_get_charging_profiles_body_is_validated(
    system: System, charger_201: BaseCharger
) -> None:
    await command(system, "get-charging-profiles", {}, expect=400)
    await command(
        system,
        "get-charging-profiles",
        {"charging_profile": {"charging_limit_source": ["Nobody"]}},
        expect=400,
    )


async def test_ev_charging_needs_are_accepted_and_stored(
    system: System, charger_201: BaseCharger
) -> None:
    departure = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3)
    status = await charger_201.notify_ev_charging_needs(1, 20000, departure)  # type: ignore[attr-defined]
    assert status == "Accepted"
    (row,) = await _events(system, "EVChargingNeeds")
    needs = _payload(row)
    assert needs["evse_id"] == 1
    assert needs["charging_needs"]["requested_energy_transfer"] == "AC_three_phase"
    assert needs["charging_needs"]["ac_charging_parameters"]["energy_amount"] == 20000
    assert needs["charging_needs"]["departure_time"].startswith(
        departure.strftime("%Y-%m-%dT%H:%M:%S")
    )
