from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from csms.events import MeterSample, TransactionEnded, TransactionStarted
from csms.store import accounts, sessions
from tests.admin.conftest import Api, register

SESSIONS = "/api/v1/sessions"
DAY1 = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)


async def start(
    pool: asyncpg.Pool, charge_point_id: str, key: str, at: datetime, account_id: int | None = None
) -> int:
    async with pool.acquire() as conn:
        row, created = await sessions.insert_started(
            conn,
            charge_point_id=charge_point_id,
            protocol="ocpp1.6",
            started=TransactionStarted(1, 1, f"TAG-{key}", 1000, at, reservation_id=None),
            start_key=key,
            id_token_status="Accepted",
            account_id=account_id,
        )
    assert created
    session_id: int = row["id"]
    return session_id


async def finish(pool: asyncpg.Pool, session_id: int, at: datetime) -> None:
    async with pool.acquire() as conn:
        row = await sessions.get(conn, session_id)
        assert row is not None
        await sessions.complete(
            conn,
            session_id,
            TransactionEnded(row["transaction_id"], 6000, at, "Local", row["id_token"]),
            5000,
            f"stop-{session_id}",
        )


@pytest.fixture
async def history(api: Api) -> dict[str, int]:
    """Five sessions on two chargers over five days: ids by name."""
    await register(api.pool, "CP-A")
    await register(api.pool, "CP-B")
    ids: dict[str, int] = {}
    for day in range(4):
        charger = "CP-A" if day % 2 == 0 else "CP-B"
        ids[f"s{day}"] = await start(api.pool, charger, f"k{day}", DAY1 + timedelta(days=day))
    await finish(api.pool, ids["s0"], DAY1 + timedelta(hours=2))
    await finish(api.pool, ids["s1"], DAY1 + timedelta(days=1, hours=2))
    async with api.pool.acquire() as conn:
        ids["orphan"] = await sessions.insert_orphan_stop(
            conn,
            charge_point_id="CP-A",
            protocol="ocpp1.6",
            ended=TransactionEnded("777", 900, DAY1 + timedelta(days=4), "PowerLoss", None),
            stop_key="orphan-1",
        )
    return ids


async def test_list_newest_first_and_paged(api: Api, history: dict[str, int]) -> None:
    pages = await api.all_pages(SESSIONS, limit=2)
    ids = [s["id"] for page in pages for s in page]
    assert ids == sorted(history.values(), reverse=True)
    assert [len(page) for page in pages] == [2, 2, 1]
    first = (await api.get(SESSIONS, params={"limit": "1"})).body
    assert first["next"] == str(first["items"][0]["id"])


async def test_filters(api: Api, history: dict[str, int]) -> None:
    async def ids(**params: str) -> set[int]:
        reply = await api.get(SESSIONS, params=params)
        assert reply.status == 200, reply.body
        return {s["id"] for s in reply.body["items"]}

    assert await ids(charge_point_id="CP-B") == {history["s1"], history["s3"]}
    assert await ids(status="completed") == {history["s0"], history["s1"]}
    assert await ids(status="active") == {history["s2"], history["s3"]}
    assert await ids(status="orphaned") == {history["orphan"]}
    assert await ids(status="active", charge_point_id="CP-A") == {history["s2"]}
    # from is inclusive, to exclusive; an orphan is placed by its end.
    assert await ids(**{"from": "2026-01-11T08:00:00Z"}) == {
        history["s1"],
        history["s2"],
        history["s3"],
        history["orphan"],
    }
    assert await ids(**{"from": "2026-01-11T08:00:00+00:00", "to": "2026-01-13T08:00:00Z"}) == {
        history["s1"],
        history["s2"],
    }
    assert await ids(to="2026-01-11") == {history["s0"]}  # a date without zone is UTC midnight
    assert await ids(charge_point_id="CP-Z") == set()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "running"}, "status"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-13-01"}, "to"),
        ({"cursor": "abc"}, "cursor"),
        ({"limit": "-1"}, "limit"),
    ],
)
async def test_bad_filters_are_400(api: Api, params: dict[str, str], field: str) -> None:
    reply = await api.get(SESSIONS, params=params)
    assert reply.status == 400
    assert reply.body["error"]["code"] == "invalid_input"
    assert reply.body["error"]["field"] == field


async def test_get_with_fields_and_meter_samples(api: Api) -> None:
    await register(api.pool, "CP-A")
    async with api.pool.acquire() as conn:
        account = await accounts.insert(conn, name="Ada", email=None, status="active")
    session_id = await start(api.pool, "CP-A", "k", DAY1, account_id=account["id"])
    samples = [
        MeterSample(
            DAY1 + timedelta(minutes=minute),
            "Energy.Active.Import.Register",
            "",
            "",
            "Sample.Periodic",
            "Raw",
            "Wh",
            str(1000 + 100 * minute),
            Decimal(1000 + 100 * minute),
            1000 + 100 * minute,
        )
        for minute in (1, 2)
    ]
    async with api.pool.acquire() as conn:
        row = await sessions.get(conn, session_id)
        assert row is not None
        await sessions.insert_samples(
            conn,
            charge_point_id="CP-A",
            session_id=session_id,
            evse_id=1,
            connector_id=1,
            transaction_id=row["transaction_id"],
            samples=samples,
        )
    await finish(api.pool, session_id, DAY1 + timedelta(hours=1))

    reply = await api.get(f"{SESSIONS}/{session_id}")
    assert reply.status == 200
    body = reply.body
    assert body == {
        "id": session_id,
        "charge_point_id": "CP-A",
        "protocol": "ocpp1.6",
        "evse_id": 1,
        "connector_id": 1,
        "transaction_id": row["transaction_id"],
        "id_token": "TAG-k",
        "id_token_status": "Accepted",
        "account_id": account["id"],
        "status": "completed",
        "started_at": "2026-01-10T08:00:00Z",
        "ended_at": "2026-01-10T09:00:00Z",
        "meter_start_wh": 1000,
        "meter_stop_wh": 6000,
        "energy_wh": 5000,
        "stop_reason": "Local",
        "reservation_id": None,
        "remote_start_id": None,
        "charging_state": None,
        "replayed_offline": False,
        "closed_by_operator_at": None,
        "close_reason": None,
        "charger_stop": None,
        "plug_and_charge": None,
        "transaction_events": [],
        "meter_samples": [
            {
                "sampled_at": "2026-01-10T08:01:00Z",
                "measurand": "Energy.Active.Import.Register",
                "phase": "",
                "location": "",
                "context": "Sample.Periodic",
                "unit": "Wh",
                "value": "1100",
                "energy_wh": 1100,
            },
            {
                "sampled_at": "2026-01-10T08:02:00Z",
                "measurand": "Energy.Active.Import.Register",
                "phase": "",
                "location": "",
                "context": "Sample.Periodic",
                "unit": "Wh",
                "value": "1200",
                "energy_wh": 1200,
            },
        ],
    }
    listed = (await api.get(SESSIONS)).body["items"]
    detail_only = {"meter_samples", "transaction_events", "plug_and_charge"}
    assert listed == [{k: v for k, v in body.items() if k not in detail_only}]


@pytest.mark.parametrize("path_id", ["999", "abc", "0"])
async def test_unknown_session_is_404(api: Api, path_id: str) -> None:
    reply = await api.get(f"{SESSIONS}/{path_id}")
    assert reply.status == 404
    assert reply.body["error"]["code"] == "not_found"
