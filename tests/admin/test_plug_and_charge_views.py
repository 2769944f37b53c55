"""Plug-and-charge in the admin API: the attempts list and detail, the session view's
``plug_and_charge`` part, and the account's target SoC and spending cap. Rows go straight
into the database, as the service would have left them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from csms.store import accounts
from tests.admin.conftest import Api, register
from tests.admin.test_sessions import finish, start

ATTEMPTS = "/api/v1/plug-attempts"
ACCOUNTS = "/api/v1/accounts"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
VIN = "WVWZZZE1ZMP000001"
EVIDENCE = [
    {
        "vehicle_id": None,
        "vin": VIN,
        "reason": "plugged_in_nearby",
        "accepted": True,
        "rival": False,
        "distance_m": 12.5,
        "detail": "plugged in 20 s after the plug event",
    }
]


async def add_vehicle(conn: asyncpg.Connection, account_id: int) -> int:
    vehicle_id: int = await conn.fetchval(
        """INSERT INTO vehicles (account_id, smartcar_vehicle_id, vin, make, model)
           VALUES ($1, 'sc-1', $2, 'VW', 'ID.3') RETURNING id""",
        account_id,
        VIN,
    )
    return vehicle_id


async def add_attempt(conn: asyncpg.Connection, charge_point_id: str, **fields: Any) -> int:
    values: dict[str, Any] = {
        "charge_point_id": charge_point_id,
        "evse_id": 1,
        "connector_id": 1,
        "plugged_at": T0,
        "trigger": "StatusNotification:Preparing",
        "status": "no_match",
    } | fields
    placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    attempt_id: int = await conn.fetchval(
        f"INSERT INTO plug_attempts ({', '.join(values)}) VALUES ({placeholders}) RETURNING id",
        *values.values(),
    )
    return attempt_id


async def add_reading(
    conn: asyncpg.Connection, attempt_id: int, vehicle_id: int, purpose: str, **fields: Any
) -> None:
    values: dict[str, Any] = {
        "attempt_id": attempt_id,
        "vehicle_id": vehicle_id,
        "purpose": purpose,
    } | fields
    placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    await conn.execute(
        f"INSERT INTO vehicle_readings ({', '.join(values)}) VALUES ({placeholders})",
        *values.values(),
    )


async def add_calls(conn: asyncpg.Connection, ref: str, calls: int) -> None:
    for month in (date(2026, 2, 1), date(2026, 3, 1)):
        await conn.execute(
            """INSERT INTO smartcar_call_counts (vehicle_id, session_ref, month, calls)
               VALUES ('sc-1', $1, $2, $3)""",
            ref,
            month,
            calls,
        )


async def add_register(conn: asyncpg.Connection, session_id: int, at: datetime, wh: int) -> None:
    for phase, energy in (("", wh), ("L1", wh // 3)):
        await conn.execute(
            """INSERT INTO meter_samples (charge_point_id, session_id, evse_id, connector_id,
                   sampled_at, measurand, phase, context, unit, value, value_numeric,
                   energy_wh)
               VALUES ('CP-P', $1, 1, 1, $2, 'Energy.Active.Import.Register', $3,
                   'Sample.Periodic', 'Wh', $4::bigint::text, $4::bigint, $4::bigint)""",
            session_id,
            at,
            phase,
            energy,
        )
    await conn.execute(
        """INSERT INTO meter_samples (charge_point_id, session_id, evse_id, connector_id,
               sampled_at, measurand, context, unit, value, value_numeric)
           VALUES ('CP-P', $1, 1, 1, $2, 'Power.Active.Import', 'Sample.Periodic', 'W',
               '7000', 7000)""",
        session_id,
        at,
    )


async def add_invoice(conn: asyncpg.Connection, session_id: int, account_id: int) -> None:
    await conn.execute(
        """INSERT INTO invoices (number, kind, session_id, account_id, charge_point_id,
               currency, total_minor, energy_wh, billed_energy_wh, verdict, status,
               payment_status, detail, issued_at)
           VALUES ('INV-000042', 'invoice', $1, $2, 'CP-P', 'EUR', 1234, 5000, 5000,
               'VEHICLE_MISMATCH', 'held_for_review', 'awaiting_review', $3, $4)""",
        session_id,
        account_id,
        {"lines": []},
        T0 + timedelta(hours=2),
    )


@pytest.fixture
async def charged(api: Api) -> dict[str, int]:
    """A matched attempt bound to a completed session, with readings, calls, samples, a
    hold and an invoice; plus an unmatched attempt on another charger."""
    await register(api.pool, "CP-P")
    await register(api.pool, "CP-Q")
    async with api.pool.acquire() as conn:
        account = await accounts.insert(conn, name="Ada", email=None, status="active")
        vehicle_id = await add_vehicle(conn, account["id"])
    session_id = await start(api.pool, "CP-P", "pnc", T0 + timedelta(minutes=1), account["id"])
    async with api.pool.acquire() as conn:
        attempt_id = await add_attempt(
            conn,
            "CP-P",
            status="done",
            outcome="matched",
            method="smartcar_plug",
            reason="one candidate plugged in nearby",
            rounds=2,
            evidence=EVIDENCE,
            vehicle_id=vehicle_id,
            vin=VIN,
            account_id=account["id"],
            start_id_token="PNC-1",
            session_id=session_id,
            target_soc_percent=80,
            spending_cap_minor=3000,
            hold_minor=2500,
            currency="EUR",
            guard="passed",
            car_started=True,
            stop_reason="target_soc",
            mismatch_reason="car gained 4 kWh, meter says 5 kWh",
            history=[{"at": "2026-03-02T09:00:00+00:00", "event": "plugged"}],
        )
        await add_reading(
            conn,
            attempt_id,
            vehicle_id,
            "match",
            fetched_at=T0,
            soc_percent=40,
            is_plugged_in=True,
            charge_state="NOT_CHARGING",
            distance_m=12.5,
            calls=2,
        )
        await add_reading(
            conn, attempt_id, vehicle_id, "match", fetched_at=T0, error="VEHICLE_STATE:ASLEEP"
        )
        await add_reading(
            conn,
            attempt_id,
            vehicle_id,
            "start",
            fetched_at=T0 + timedelta(minutes=3),
            data_age=T0 + timedelta(minutes=2),
            soc_percent=40.5,
            is_plugged_in=True,
            charge_state="CHARGING",
        )
        await add_reading(
            conn,
            attempt_id,
            vehicle_id,
            "guard",
            fetched_at=T0 + timedelta(minutes=20),
            is_plugged_in=True,
            error="RATE_LIMIT",
        )
        await add_reading(
            conn,
            attempt_id,
            vehicle_id,
            "end",
            fetched_at=T0 + timedelta(minutes=61),
            soc_percent=80,
            is_plugged_in=True,
            charge_state="FULLY_CHARGED",
        )
        await add_calls(conn, f"pnc:{attempt_id}:match", 2)
        await add_calls(conn, f"pnc:{attempt_id}", 3)
        await add_calls(conn, f"pnc:{attempt_id}0", 50)  # another attempt's ledger
        await conn.execute(
            """INSERT INTO payments (attempt_id, session_id, account_id, provider,
                   provider_ref, currency, status, held_minor, captured_minor)
               VALUES ($1, $2, $3, 'stripe', 'pi_123', 'EUR', 'captured', 2500, 1234)""",
            attempt_id,
            session_id,
            account["id"],
        )
        for minute, wh in ((30, 3000), (2, 1000), (60, 6000)):
            await add_register(conn, session_id, T0 + timedelta(minutes=minute), wh)
        other = await add_attempt(
            conn, "CP-Q", plugged_at=T0 + timedelta(hours=1), reason="no candidate"
        )
    await finish(api.pool, session_id, T0 + timedelta(hours=1))
    async with api.pool.acquire() as conn:
        await add_invoice(conn, session_id, account["id"])
    return {
        "attempt": attempt_id,
        "other": other,
        "session": session_id,
        "account": account["id"],
        "vehicle": vehicle_id,
    }


async def test_attempt_detail(api: Api, charged: dict[str, int]) -> None:
    reply = await api.get(f"{ATTEMPTS}/{charged['attempt']}")
    assert reply.status == 200, reply.body
    body = reply.body
    expected_fields = {
        "id": charged["attempt"],
        "charge_point_id": "CP-P",
        "evse_id": 1,
        "connector_id": 1,
        "plugged_at": "2026-03-02T09:00:00Z",
        "trigger": "StatusNotification:Preparing",
        "status": "done",
        "outcome": "matched",
        "method": "smartcar_plug",
        "reason": "one candidate plugged in nearby",
        "id_token": None,
        "id_token_type": None,
        "rounds": 2,
        "evidence": EVIDENCE,
        "vehicle_id": charged["vehicle"],
        "vin": VIN,
        "account_id": charged["account"],
        "start_id_token": "PNC-1",
        "session_id": charged["session"],
        "target_soc_percent": 80,
        "spending_cap_minor": 3000,
        "hold_minor": 2500,
        "currency": "EUR",
        "guard": "passed",
        "car_started": True,
        "stop_reason": "target_soc",
        "stop_requested_at": None,
        "mismatch_reason": "car gained 4 kWh, meter says 5 kWh",
        "history": [{"at": "2026-03-02T09:00:00+00:00", "event": "plugged"}],
    }
    assert {k: body[k] for k in expected_fields} == expected_fields
    assert body["smartcar_calls"] == {"matching": 4, "session": 6}
    payment = body["payment"]
    assert {k: payment[k] for k in ("status", "held_minor", "captured_minor", "provider_ref")} == {
        "status": "captured",
        "held_minor": 2500,
        "captured_minor": 1234,
        "provider_ref": "pi_123",
    }
    assert payment["currency"] == "EUR" and payment["session_id"] == charged["session"]
    readings = body["readings"]
    assert [r["purpose"] for r in readings] == ["match", "match", "start", "guard", "end"]
    first = readings[0]
    assert {k: first[k] for k in ("soc_percent", "plugged_in", "charge_state", "distance_m")} == {
        "soc_percent": 40.0,
        "plugged_in": True,
        "charge_state": "NOT_CHARGING",
        "distance_m": 12.5,
    }
    assert first["fetched_at"] == "2026-03-02T09:00:00Z" and first["data_age"] is None
    assert first["calls"] == 2 and first["error"] is None
    assert readings[1]["error"] == "VEHICLE_STATE:ASLEEP"
    assert readings[1]["soc_percent"] is None and readings[1]["plugged_in"] is None
    assert readings[2]["soc_percent"] == 40.5
    assert readings[2]["data_age"] == "2026-03-02T09:02:00Z"


async def test_attempt_without_payment_or_calls(api: Api, charged: dict[str, int]) -> None:
    body = (await api.get(f"{ATTEMPTS}/{charged['other']}")).body
    assert body["status"] == "no_match" and body["reason"] == "no candidate"
    assert body["payment"] is None
    assert body["readings"] == []
    assert body["evidence"] == [] and body["history"] == []
    assert body["smartcar_calls"] == {"matching": 0, "session": 0}
    assert body["hold_minor"] is None and body["currency"] is None


@pytest.mark.parametrize("path_id", ["999999", "abc", "0"])
async def test_unknown_attempt_is_404(api: Api, path_id: str) -> None:
    reply = await api.get(f"{ATTEMPTS}/{path_id}")
    assert reply.status == 404
    assert reply.body["error"]["code"] == "not_found"
    assert "message" in reply.body["error"]


async def test_list_newest_first_filtered_and_paged(api: Api, charged: dict[str, int]) -> None:
    async with api.pool.acquire() as conn:
        extra = [
            await add_attempt(conn, "CP-Q", plugged_at=T0 + timedelta(hours=2 + i))
            for i in range(3)
        ]
    everything = [charged["attempt"], charged["other"], *extra]
    pages = await api.all_pages(ATTEMPTS, limit=2)
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [a["id"] for p in pages for a in p] == sorted(everything, reverse=True)
    assert "readings" not in pages[0][0] and "payment" not in pages[0][0]

    async def ids(**params: str) -> list[int]:
        return [a["id"] for p in await api.all_pages(ATTEMPTS, limit=50, **params) for a in p]

    assert await ids(charge_point_id="CP-P") == [charged["attempt"]]
    assert await ids(status="no_match") == sorted([charged["other"], *extra], reverse=True)
    assert await ids(status="done", charge_point_id="CP-Q") == []
    listed = (await api.get(ATTEMPTS, params={"charge_point_id": "CP-P"})).body
    assert listed["next"] is None
    assert listed["items"][0]["evidence"] == EVIDENCE


@pytest.mark.parametrize(
    ("params", "field"),
    [({"status": "finished"}, "status"), ({"cursor": "x"}, "cursor"), ({"limit": "0"}, "limit")],
)
async def test_list_bad_query_is_400(api: Api, params: dict[str, str], field: str) -> None:
    reply = await api.get(ATTEMPTS, params=params)
    assert reply.status == 400
    assert reply.body["error"]["code"] == "invalid_input"
    assert reply.body["error"]["field"] == field


async def test_session_shows_plug_and_charge(api: Api, charged: dict[str, int]) -> None:
    reply = await api.get(f"/api/v1/sessions/{charged['session']}")
    assert reply.status == 200, reply.body
    assert reply.body["plug_and_charge"] == {
        "attempt_id": charged["attempt"],
        "vin": VIN,
        "vehicle_id": charged["vehicle"],
        "account_id": charged["account"],
        "method": "smartcar_plug",
        "outcome": "matched",
        "evidence": EVIDENCE,
        "stop_reason": "target_soc",
        "guard": "passed",
        "mismatch_reason": "car gained 4 kWh, meter says 5 kWh",
        "soc_series": [
            {
                "at": "2026-03-02T09:02:00Z",
                "soc_percent": 40.5,
                "plugged_in": True,
                "charge_state": "CHARGING",
                "purpose": "start",
            },
            {
                "at": "2026-03-02T10:01:00Z",
                "soc_percent": 80.0,
                "plugged_in": True,
                "charge_state": "FULLY_CHARGED",
                "purpose": "end",
            },
        ],
        "meter_series": [
            {"at": "2026-03-02T09:02:00Z", "energy_wh": 1000},
            {"at": "2026-03-02T09:30:00Z", "energy_wh": 3000},
            {"at": "2026-03-02T10:00:00Z", "energy_wh": 6000},
        ],
        "smartcar_calls": {"matching": 4, "session": 6},
        "verdict": "VEHICLE_MISMATCH",
        "invoice": {
            "id": reply.body["plug_and_charge"]["invoice"]["id"],
            "number": "INV-000042",
            "status": "held_for_review",
            "verdict": "VEHICLE_MISMATCH",
            "total_minor": 1234,
            "currency": "EUR",
            "payment_status": "awaiting_review",
        },
    }
    # The list stays as it was: no plug-and-charge part per row.
    listed = (await api.get("/api/v1/sessions")).body["items"]
    assert all("plug_and_charge" not in s for s in listed)


async def test_session_without_attempt_or_invoice(api: Api, charged: dict[str, int]) -> None:
    plain = await start(api.pool, "CP-Q", "plain", T0 + timedelta(hours=3))
    body = (await api.get(f"/api/v1/sessions/{plain}")).body
    assert body["plug_and_charge"] is None

    unbilled = await start(api.pool, "CP-Q", "unbilled", T0 + timedelta(hours=4))
    async with api.pool.acquire() as conn:
        await add_attempt(
            conn,
            "CP-Q",
            status="charging",
            outcome="matched",
            method="autocharge_tag",
            session_id=unbilled,
            plugged_at=T0 + timedelta(hours=4),
        )
    part = (await api.get(f"/api/v1/sessions/{unbilled}")).body["plug_and_charge"]
    assert part["method"] == "autocharge_tag" and part["guard"] == "pending"
    assert part["soc_series"] == [] and part["meter_series"] == []
    assert part["verdict"] is None and part["invoice"] is None
    assert part["smartcar_calls"] == {"matching": 0, "session": 0}


# --- accounts ----------------------------------------------------------------------------


async def test_account_plug_and_charge_fields_round_trip(api: Api) -> None:
    default = (await api.post(ACCOUNTS, {"name": "Ada"})).body
    assert default["target_soc_percent"] == 80
    assert default["spending_cap_minor"] is None
    assert default["pnc_id_token"] is None

    created = await api.post(
        ACCOUNTS, {"name": "Bo", "target_soc_percent": 90, "spending_cap_minor": 5000}
    )
    assert created.status == 201
    account = created.body
    assert (account["target_soc_percent"], account["spending_cap_minor"]) == (90, 5000)
    path = f"{ACCOUNTS}/{account['id']}"
    assert (await api.get(path)).body == account

    patched = (await api.patch(path, {"target_soc_percent": 100})).body
    assert (patched["target_soc_percent"], patched["spending_cap_minor"]) == (100, 5000)
    patched = (await api.patch(path, {"spending_cap_minor": None})).body
    assert (patched["target_soc_percent"], patched["spending_cap_minor"]) == (100, None)
    patched = (await api.patch(path, {"target_soc_percent": 1, "spending_cap_minor": 1})).body
    assert (patched["target_soc_percent"], patched["spending_cap_minor"]) == (1, 1)

    async with api.pool.acquire() as conn:
        await conn.execute(
            "UPDATE accounts SET pnc_id_token = 'PNC-42' WHERE id = $1", account["id"]
        )
    shown = (await api.get(path)).body
    assert shown["pnc_id_token"] == "PNC-42"
    listed = (await api.get(ACCOUNTS)).body["items"]
    assert [a["pnc_id_token"] for a in listed] == [None, "PNC-42"]
    # Read-only: not settable.
    refused = await api.patch(path, {"pnc_id_token": "MINE"})
    assert refused.status == 400 and refused.body["error"]["field"] == "pnc_id_token"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"target_soc_percent": 0}, "target_soc_percent"),
        ({"target_soc_percent": 101}, "target_soc_percent"),
        ({"target_soc_percent": "80"}, "target_soc_percent"),
        ({"target_soc_percent": 80.5}, "target_soc_percent"),
        ({"target_soc_percent": True}, "target_soc_percent"),
        ({"spending_cap_minor": 0}, "spending_cap_minor"),
        ({"spending_cap_minor": -5}, "spending_cap_minor"),
        ({"spending_cap_minor": "100"}, "spending_cap_minor"),
    ],
)
async def test_account_fields_validated(api: Api, body: dict[str, Any], field: str) -> None:
    created = await api.post(ACCOUNTS, {"name": "Ada", **body})
    assert created.status == 400, created.body
    assert created.body["error"]["field"] == field
    assert created.body["error"]["code"] == "invalid_input"

    account = (await api.post(ACCOUNTS, {"name": "Ada"})).body
    patched = await api.patch(f"{ACCOUNTS}/{account['id']}", body)
    assert patched.status == 400, patched.body
    assert patched.body["error"]["field"] == field
    assert (await api.get(f"{ACCOUNTS}/{account['id']}")).body == account


async def test_target_soc_may_not_be_cleared(api: Api) -> None:
    account = (await api.post(ACCOUNTS, {"name": "Ada"})).body
    reply = await api.patch(f"{ACCOUNTS}/{account['id']}", {"target_soc_percent": None})
    assert reply.status == 400
    assert reply.body["error"]["field"] == "target_soc_percent"
