"""Smart charging end to end, OCPP 1.6 and 2.0.1: named charging profiles from the admin
API (CRUD and validation), set-charging-profile by name and inline, clear-charging-profile
and get-composite-schedule; the frame as it left the server (schema-valid), the
simulator's answer and installed profiles, what the central system stored, and a
TxProfile on a remote-started session."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from ocpp.messages import get_validator

from simulators.charger import BaseCharger, ChargerConfig, create_charger
from simulators.charger.smart_charging import SmartCharging
from tests.conftest import TIME_FACTOR
from tests.csms.conftest import PASSWORD, System

pytestmark = pytest.mark.slow

CP = "CP-SC"
PROTOCOLS = ["ocpp1.6", "ocpp2.0.1"]

SITE_MAX: dict[str, Any] = {
    "name": "site-max",
    "purpose": "ChargePointMaxProfile",
    "stack_level": 0,
    "kind": "Absolute",
    "charging_rate_unit": "W",
    "start_schedule": "2026-01-01T00:00:00Z",
    "periods": [{"start_period": 0, "limit": 11000}],
}
DEFAULT_TX: dict[str, Any] = {
    "purpose": "TxDefaultProfile",
    "stack_level": 1,
    "kind": "Relative",
    "charging_rate_unit": "W",
    "periods": [
        {"start_period": 0, "limit": 7000, "number_phases": 3},
        {"start_period": 600, "limit": 22000, "number_phases": 3},
    ],
}


async def _charger(system: System, protocol: str) -> AsyncIterator[BaseCharger]:
    await system.register(CP)
    await system.token("TAG-A")
    config = ChargerConfig(
        url=system.ocpp_url,
        charge_point_id=CP,
        password=PASSWORD,
        protocol=protocol,
        connectors=2,
        meter_interval_s=0.05,
    )
    async with create_charger(config, time_scale=60) as cp:
        yield cp


@pytest.fixture(params=PROTOCOLS)
async def charger(request: pytest.FixtureRequest, system: System) -> AsyncIterator[BaseCharger]:
    async for cp in _charger(system, request.param):
        yield cp


@pytest.fixture
async def charger_16(system: System) -> AsyncIterator[BaseCharger]:
    async for cp in _charger(system, "ocpp1.6"):
        yield cp


@pytest.fixture
async def charger_201(system: System) -> AsyncIterator[BaseCharger]:
    async for cp in _charger(system, "ocpp2.0.1"):
        yield cp


def version(charger: BaseCharger) -> str:
    return "1.6" if charger.config.protocol == "ocpp1.6" else "2.0.1"


def target(charger: BaseCharger, number: int) -> dict[str, int]:
    return {"connector_id": number} if version(charger) == "1.6" else {"evse_id": number}


def installed(charger: BaseCharger) -> dict[int, tuple[int, str, int]]:
    assert isinstance(charger, SmartCharging)
    return {p.id: (p.connector_id, p.purpose, p.stack_level) for p in charger.charging_profiles()}


async def command(system: System, name: str, body: Any, expect: int = 200) -> Any:
    return await system.api("POST", f"/charge-points/{CP}/commands/{name}", body, expect)


async def exchange(system: System, action: str) -> list[tuple[Any, Any]]:
    """Each ``action`` CALL payload that left the server with the charger's answer."""
    await system.settle()
    rows = await system.fetch(
        "SELECT direction, unique_id, action, frame FROM message_log "
        "WHERE charge_point_id = $1 ORDER BY id",
        CP,
    )
    pairs = []
    for out in (r for r in rows if r["direction"] == "out" and r["action"] == action):
        (answer,) = [
            r for r in rows if r["direction"] == "in" and r["unique_id"] == out["unique_id"]
        ]
        pairs.append((json.loads(out["frame"])[3], json.loads(answer["frame"])[2]))
    return pairs


def schema_valid(charger: BaseCharger, action: str, payload: Any) -> None:
    """The payload against the ocpp library's schema (decimals, as the library reads
    them, for multipleOf)."""
    exact = json.loads(json.dumps(payload), parse_float=Decimal)
    get_validator(2, action, version(charger), parse_float=Decimal).validate(exact)


async def set_on_charger(system: System) -> list[dict[str, Any]]:
    page = await system.api("GET", f"/charge-points/{CP}/charging-profiles", expect=200)
    assert set(page) == {"items", "next"}
    items: list[dict[str, Any]] = page["items"]
    return items


# -- named profiles -------------------------------------------------------------------


async def test_charging_profile_crud(system: System) -> None:
    created = await system.api("POST", "/charging-profiles", SITE_MAX, expect=201)
    assert created["name"] == "site-max" and isinstance(created["id"], int)
    assert created["periods"] == [{"start_period": 0, "limit": 11000.0}]
    assert created["start_schedule"].startswith("2026-01-01T00:00:00")
    await system.api("POST", "/charging-profiles", SITE_MAX, expect=409)
    other = await system.api(
        "POST", "/charging-profiles", {**DEFAULT_TX, "name": "default-tx"}, expect=201
    )
    page = await system.api("GET", "/charging-profiles?limit=1", expect=200)
    assert [p["name"] for p in page["items"]] == ["default-tx"] and page["next"]
    page = await system.api("GET", f"/charging-profiles?cursor={page['next']}", expect=200)
    assert [p["name"] for p in page["items"]] == ["site-max"] and page["next"] is None

    replaced = await system.api(
        "PUT",
        "/charging-profiles/default-tx",
        {
            **DEFAULT_TX,
            "stack_level": 4,
            "kind": "Recurring",
            "recurrency": "Daily",
            "start_schedule": "2026-01-01T06:00:00+01:00",
        },
        expect=200,
    )
    assert replaced["id"] == other["id"] and replaced["stack_level"] == 4
    assert replaced["recurrency"] == "Daily"
    fetched = await system.api("GET", "/charging-profiles/default-tx", expect=200)
    assert fetched == replaced
    await system.api("DELETE", "/charging-profiles/default-tx", expect=204)
    await system.api("GET", "/charging-profiles/default-tx", expect=404)
    await system.api("DELETE", "/charging-profiles/default-tx", expect=404)
    await system.api("PUT", "/charging-profiles/nope", DEFAULT_TX, expect=404)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"periods": [{"start_period": 10, "limit": 5}]}, "periods"),
        (
            {"periods": [{"start_period": 0, "limit": 5}, {"start_period": 0, "limit": 6}]},
            "periods",
        ),
        ({"periods": [{"start_period": 0, "limit": 0}]}, "periods.0.limit"),
        ({"periods": []}, "periods"),
        ({"purpose": "Whatever"}, "purpose"),
        ({"kind": "Recurring", "start_schedule": "2026-01-01T00:00:00Z"}, "recurrency"),
        ({"kind": "Recurring", "recurrency": "Weekly", "start_schedule": None}, "start_schedule"),
        ({"recurrency": "Daily"}, "recurrency"),
        ({"charging_rate_unit": "kW"}, "charging_rate_unit"),
        ({"stack_level": -1}, "stack_level"),
        (
            {"valid_from": "2026-02-01T00:00:00Z", "valid_to": "2026-01-01T00:00:00Z"},
            "valid_to",
        ),
    ],
)
async def test_invalid_profiles_are_400_naming_the_field(
    system: System, change: dict[str, Any], field: str
) -> None:
    body = {**SITE_MAX, **change}
    reply = await system.api("POST", "/charging-profiles", body, expect=400)
    assert reply["error"]["code"] == "invalid_input"
    assert reply["error"]["field"] == field
    assert (await system.api("GET", "/charging-profiles", expect=200))["items"] == []


# -- set, clear, composite schedule ------------------------------------------------------


async def test_set_by_name_and_inline_then_composite_and_clear(
    system: System, charger: BaseCharger
) -> None:
    v = version(charger)
    stored = await system.api("POST", "/charging-profiles", SITE_MAX, expect=201)
    reply = await command(
        system, "set-charging-profile", {**target(charger, 0), "profile_name": "site-max"}
    )
    assert reply == {"status": "Accepted", "charging_profile_id": stored["id"]}
    reply = await command(
        system, "set-charging-profile", {**target(charger, 1), "profile": DEFAULT_TX}
    )
    assert reply["status"] == "Accepted"
    inline_id = reply["charging_profile_id"]
    assert inline_id != stored["id"]
    assert installed(charger) == {
        stored["id"]: (0, "ChargePointMaxProfile", 0),
        inline_id: (1, "TxDefaultProfile", 1),
    }

    (by_name, by_name_answer), (inline, inline_answer) = await exchange(
        system, "SetChargingProfile"
    )
    for payload in (by_name, inline):
        schema_valid(charger, "SetChargingProfile", payload)
    assert by_name_answer == inline_answer == {"status": "Accepted"}
    schedule_16 = {
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000.0}],
        "startSchedule": "2026-01-01T00:00:00Z",
    }
    if v == "1.6":
        assert by_name == {
            "connectorId": 0,
            "csChargingProfiles": {
                "chargingProfileId": stored["id"],
                "chargingProfilePurpose": "ChargePointMaxProfile",
                "stackLevel": 0,
                "chargingProfileKind": "Absolute",
                "chargingSchedule": schedule_16,
            },
        }
        assert inline["connectorId"] == 1
        assert inline["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"] == [
            {"startPeriod": 0, "limit": 7000.0, "numberPhases": 3},
            {"startPeriod": 600, "limit": 22000.0, "numberPhases": 3},
        ]
    else:
        assert by_name == {
            "evseId": 0,
            "chargingProfile": {
                "id": stored["id"],
                "chargingProfilePurpose": "ChargingStationMaxProfile",
                "stackLevel": 0,
                "chargingProfileKind": "Absolute",
                "chargingSchedule": [{"id": stored["id"], **schedule_16}],
            },
        }
        assert inline["evseId"] == 1
        assert inline["chargingProfile"]["chargingProfilePurpose"] == "TxDefaultProfile"
        assert inline["chargingProfile"]["chargingSchedule"][0]["id"] == inline_id

    rows = await set_on_charger(system)
    assert [
        (r["connector_id"], r["charging_profile_id"], r["profile_name"], r["purpose"], r["status"])
        for r in rows
    ] == [
        (1, inline_id, None, "TxDefaultProfile", "Accepted"),
        (0, stored["id"], "site-max", "ChargePointMaxProfile", "Accepted"),
    ]
    assert rows[1]["profile"]["periods"] == [
        {"start_period": 0, "limit": 11000.0, "number_phases": None}
    ]

    # The composite schedule: the lower of the max and the default profile per period.
    composite = await command(
        system, "get-composite-schedule", {**target(charger, 1), "duration": 1200}
    )
    assert composite["status"] == "Accepted"
    expected_periods = [
        {"start_period": 0, "limit": 7000.0, "number_phases": 3},
        {"start_period": 600, "limit": 11000.0},
    ]
    if v == "1.6":
        assert composite["connector_id"] == 1
        schedule = composite["charging_schedule"]
    else:
        schedule = composite["schedule"]
        assert schedule["evse_id"] == 1
    assert schedule["charging_rate_unit"] == "W"
    assert schedule["duration"] == 1200
    assert schedule["charging_schedule_period"] == expected_periods
    ((request, _),) = await exchange(system, "GetCompositeSchedule")
    schema_valid(charger, "GetCompositeSchedule", request)
    assert request == {**({"connectorId": 1} if v == "1.6" else {"evseId": 1}), "duration": 1200}

    # Clear the default profile by id; the max profile stays.
    reply = await command(system, "clear-charging-profile", {"charging_profile_id": inline_id})
    assert reply == {"status": "Accepted"}
    assert installed(charger) == {stored["id"]: (0, "ChargePointMaxProfile", 0)}
    statuses = {r["charging_profile_id"]: r["status"] for r in await set_on_charger(system)}
    assert statuses == {inline_id: "cleared", stored["id"]: "Accepted"}
    again = await command(system, "clear-charging-profile", {"charging_profile_id": inline_id})
    assert again == {"status": "Unknown"}
    # In amperes: the max profile's watts at 230 V and 3 phases.
    amps = await command(
        system,
        "get-composite-schedule",
        {**target(charger, 1), "duration": 60, "charging_rate_unit": "A"},
    )
    periods = (amps["charging_schedule"] if v == "1.6" else amps["schedule"])[
        "charging_schedule_period"
    ]
    assert periods == [{"start_period": 0, "limit": 15.9}]

    # Clear by purpose (the version's own name for the max profile).
    purpose = "ChargePointMaxProfile" if v == "1.6" else "ChargingStationMaxProfile"
    reply = await command(system, "clear-charging-profile", {"purpose": purpose})
    assert reply == {"status": "Accepted"}
    assert installed(charger) == {}
    cleared = await exchange(system, "ClearChargingProfile")
    for request, _ in cleared:
        schema_valid(charger, "ClearChargingProfile", request)
    if v == "1.6":
        assert cleared[-1][0] == {"chargingProfilePurpose": "ChargePointMaxProfile"}
    else:
        assert cleared[-1][0] == {
            "chargingProfileCriteria": {"chargingProfilePurpose": "ChargingStationMaxProfile"}
        }
    assert [r["status"] for r in await set_on_charger(system)] == ["cleared", "cleared"]
    nothing = await command(
        system, "get-composite-schedule", {**target(charger, 1), "duration": 60}
    )
    assert nothing["status"] == "Rejected"


async def test_invalid_targets_are_refused_before_sending(
    system: System, charger: BaseCharger
) -> None:
    await system.api("POST", "/charging-profiles", SITE_MAX, expect=201)
    field = "connector_id" if version(charger) == "1.6" else "evse_id"
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({**target(charger, 1), "profile_name": "site-max"}, 400, field),
        ({"profile_name": "site-max"}, 400, field),
        ({**target(charger, 0)}, 400, "profile_name"),
        (
            {**target(charger, 0), "profile_name": "site-max", "profile": DEFAULT_TX},
            400,
            "profile_name",
        ),
        ({**target(charger, 0), "profile_name": "missing"}, 404, "profile_name"),
        (
            {**target(charger, 1), "profile": {**DEFAULT_TX, "purpose": "TxProfile"}},
            400,
            "session_id",
        ),
        (
            {
                **target(charger, 0),
                "profile": {**DEFAULT_TX, "purpose": "TxProfile"},
                "session_id": 1,
            },
            400,
            field,
        ),
        (
            {**target(charger, 1), "profile": {**DEFAULT_TX, "periods": []}},
            400,
            "profile.periods",
        ),
    ]
    for body, status, name in cases:
        reply = await command(system, "set-charging-profile", body, expect=status)
        assert reply["error"]["field"] == name, body
    assert await exchange(system, "SetChargingProfile") == []
    assert installed(charger) == {}


async def test_the_charger_rejects_an_unknown_connector(
    system: System, charger: BaseCharger
) -> None:
    reply = await command(
        system, "set-charging-profile", {**target(charger, 7), "profile": DEFAULT_TX}
    )
    assert reply["status"] == "Rejected"
    ((request, answer),) = await exchange(system, "SetChargingProfile")
    schema_valid(charger, "SetChargingProfile", request)
    assert answer == {"status": "Rejected"}
    (row,) = await set_on_charger(system)
    assert (row["connector_id"], row["status"]) == (7, "Rejected")
    assert installed(charger) == {}


async def test_tx_profile_on_a_remote_started_session(system: System, charger: BaseCharger) -> None:
    v = version(charger)
    reply = await command(system, "remote-start", {"connector_id": 1, "id_token": "TAG-A"})
    assert reply["status"] == "Accepted"
    session = None
    deadline = asyncio.get_running_loop().time() + 5 * TIME_FACTOR
    while session is None and asyncio.get_running_loop().time() < deadline:
        items = (await system.api("GET", "/sessions?status=active", expect=200))["items"]
        session = items[0] if items else None
        await asyncio.sleep(0.05)
    assert session is not None
    tx_profile = {
        **DEFAULT_TX,
        "purpose": "TxProfile",
        "stack_level": 2,
        "periods": [{"start_period": 0, "limit": 3000}],
    }
    reply = await command(
        system,
        "set-charging-profile",
        {**target(charger, 1), "profile": tx_profile, "session_id": session["id"]},
    )
    assert reply["status"] == "Accepted"
    ((request, _),) = await exchange(system, "SetChargingProfile")
    schema_valid(charger, "SetChargingProfile", request)
    if v == "1.6":
        sent = request["csChargingProfiles"]
        assert sent["transactionId"] == int(session["transaction_id"])
    else:
        sent = request["chargingProfile"]
        assert sent["transactionId"] == session["transaction_id"]
    assert sent["chargingProfilePurpose"] == "TxProfile"
    (row,) = await set_on_charger(system)
    assert row["transaction_id"] == session["transaction_id"]
    composite = await command(
        system, "get-composite-schedule", {**target(charger, 1), "duration": 300}
    )
    schedule = composite["charging_schedule"] if v == "1.6" else composite["schedule"]
    assert schedule["charging_schedule_period"] == [{"start_period": 0, "limit": 3000.0}]
    await command(system, "remote-stop", {"session_id": session["id"]})


async def test_remote_start_carries_a_tx_profile(system: System, charger: BaseCharger) -> None:
    v = version(charger)
    tx = {**DEFAULT_TX, "purpose": "TxProfile", "periods": [{"start_period": 0, "limit": 4000}]}
    stored = await system.api("POST", "/charging-profiles", {**tx, "name": "slow"}, expect=201)
    await system.api("POST", "/charging-profiles", SITE_MAX, expect=201)
    refused = await command(
        system,
        "remote-start",
        {"connector_id": 1, "id_token": "TAG-A", "charging_profile": "site-max"},
        expect=400,
    )
    assert refused["error"]["field"] == "charging_profile"
    bad = await command(
        system,
        "remote-start",
        {"connector_id": 1, "id_token": "TAG-A", "charging_profile": {**tx, "periods": []}},
        expect=400,
    )
    assert bad["error"]["field"] == "charging_profile"
    await command(
        system,
        "remote-start",
        {"connector_id": 1, "id_token": "TAG-A", "charging_profile": "missing"},
        expect=404,
    )
    action = "RemoteStartTransaction" if v == "1.6" else "RequestStartTransaction"
    assert await exchange(system, action) == []

    reply = await command(
        system,
        "remote-start",
        {"connector_id": 1, "id_token": "TAG-A", "charging_profile": "slow"},
    )
    assert reply["status"] == "Accepted"
    ((request, _),) = await exchange(system, action)
    schema_valid(charger, action, request)
    sent = request["chargingProfile"]
    if v == "1.6":
        assert sent["chargingProfileId"] == stored["id"]
        assert sent["chargingSchedule"]["chargingSchedulePeriod"] == [
            {"startPeriod": 0, "limit": 4000.0}
        ]
    else:
        assert sent["id"] == stored["id"]
        assert sent["chargingSchedule"][0]["chargingSchedulePeriod"] == [
            {"startPeriod": 0, "limit": 4000.0}
        ]
    assert sent["chargingProfilePurpose"] == "TxProfile" and "transactionId" not in sent
    assert installed(charger) == {stored["id"]: (1, "TxProfile", 1)}
    (row,) = await set_on_charger(system)
    assert (row["connector_id"], row["charging_profile_id"], row["status"]) == (
        1,
        stored["id"],
        "Accepted",
    )
    composite = await command(
        system, "get-composite-schedule", {**target(charger, 1), "duration": 60}
    )
    schedule = composite["charging_schedule"] if v == "1.6" else composite["schedule"]
    assert schedule["charging_schedule_period"] == [{"start_period": 0, "limit": 4000.0}]


async def test_16_has_no_charging_station_max_profile_name(
    system: System, charger_16: BaseCharger
) -> None:
    reply = await command(
        system, "clear-charging-profile", {"purpose": "ChargingStationMaxProfile"}, expect=400
    )
    assert reply["error"]["field"] == "purpose"
    assert await exchange(system, "ClearChargingProfile") == []


async def test_201_takes_its_own_max_profile_name(system: System, charger_201: BaseCharger) -> None:
    reply = await command(
        system,
        "set-charging-profile",
        {"evse_id": 0, "profile": {**SITE_MAX, "purpose": "ChargingStationMaxProfile"}},
        expect=400,
    )
    # The inline profile is a profile, not a named one: no name field.
    assert reply["error"]["field"] == "profile.name"
    body = {k: v for k, v in SITE_MAX.items() if k != "name"}
    reply = await command(
        system,
        "set-charging-profile",
        {"evse_id": 0, "profile": {**body, "purpose": "ChargingStationMaxProfile"}},
    )
    assert reply["status"] == "Accepted"
    ((request, _),) = await exchange(system, "SetChargingProfile")
    assert request["chargingProfile"]["chargingProfilePurpose"] == "ChargingStationMaxProfile"
    (row,) = await set_on_charger(system)
    assert row["purpose"] == "ChargePointMaxProfile"
