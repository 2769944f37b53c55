from __future__ import annotations

from datetime import UTC, datetime

import pytest

from csms.store import id_tokens
from tests.admin.conftest import Api

TOKENS = "/api/v1/id-tokens"
ACCOUNTS = "/api/v1/accounts"


async def test_account_crud(api: Api) -> None:
    created = await api.post(ACCOUNTS, {"name": " Ada ", "email": "ada@example.com"})
    assert created.status == 201, created.body
    account = created.body
    assert account["name"] == "Ada"
    assert account["email"] == "ada@example.com"
    assert account["status"] == "active"
    assert created.headers["Location"] == f"{ACCOUNTS}/{account['id']}"

    fetched = await api.get(f"{ACCOUNTS}/{account['id']}")
    assert fetched.body == account

    patched = await api.patch(f"{ACCOUNTS}/{account['id']}", {"status": "suspended", "email": None})
    assert patched.status == 200
    assert patched.body["status"] == "suspended"
    assert patched.body["email"] is None
    assert patched.body["name"] == "Ada"

    assert (await api.delete(f"{ACCOUNTS}/{account['id']}")).status == 204
    assert (await api.get(f"{ACCOUNTS}/{account['id']}")).status == 404
    assert (await api.delete(f"{ACCOUNTS}/{account['id']}")).status == 404
    assert (await api.patch(f"{ACCOUNTS}/{account['id']}", {"name": "B"})).status == 404


@pytest.mark.parametrize("path_id", ["abc", "0", "-1", "1.5", "99999999999999999999", "\u0661"])
async def test_non_integer_or_unknown_account_ids_are_404(api: Api, path_id: str) -> None:
    reply = await api.get(f"{ACCOUNTS}/{path_id}")
    assert reply.status == 404
    assert reply.body["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "A", "email": "not-an-address"}, "email"),
        ({"name": "A", "status": "gone"}, "status"),
        ({"name": "A", "vip": True}, "vip"),
    ],
)
async def test_account_validation(api: Api, body: dict[str, object], field: str) -> None:
    reply = await api.post(ACCOUNTS, body)
    assert reply.status == 400
    assert reply.body["error"]["field"] == field


async def test_accounts_page_by_id(api: Api) -> None:
    for name in "ABCDE":
        assert (await api.post(ACCOUNTS, {"name": name})).status == 201
    pages = await api.all_pages(ACCOUNTS, limit=2)
    assert [[a["name"] for a in page] for page in pages] == [["A", "B"], ["C", "D"], ["E"]]
    bad = await api.get(ACCOUNTS, params={"cursor": "x"})
    assert bad.status == 400
    assert bad.body["error"]["field"] == "cursor"


async def test_id_token_crud(api: Api) -> None:
    account = (await api.post(ACCOUNTS, {"name": "Ada"})).body
    created = await api.post(
        TOKENS,
        {
            "id_token": "04A1B2C3",
            "status": "Accepted",
            "expiry": "2027-01-01T01:00:00+01:00",
            "account_id": account["id"],
            "parent_id_token": "GROUP1",
        },
    )
    assert created.status == 201, created.body
    token = created.body
    assert token["type"] == "ISO14443"
    assert token["expiry"] == "2027-01-01T00:00:00Z"
    assert token["account_id"] == account["id"]
    assert token["parent_id_token"] == "GROUP1"
    assert created.headers["Location"] == f"{TOKENS}/04A1B2C3"

    async with api.pool.acquire() as conn:
        row = await id_tokens.get(conn, "04A1B2C3")
    assert row is not None
    assert row["expiry"] == datetime(2027, 1, 1, tzinfo=UTC)
    assert row["status"] == "Accepted"

    assert (await api.get(f"{TOKENS}/04A1B2C3")).body == token

    patched = await api.patch(
        f"{TOKENS}/04A1B2C3",
        {"status": "Blocked", "expiry": None, "account_id": None, "type": "KeyCode"},
    )
    assert patched.status == 200, patched.body
    assert patched.body["status"] == "Blocked"
    assert patched.body["expiry"] is None
    assert patched.body["account_id"] is None
    assert patched.body["type"] == "KeyCode"
    assert patched.body["parent_id_token"] == "GROUP1"

    conflict = await api.post(TOKENS, {"id_token": "04A1B2C3", "status": "Accepted"})
    assert conflict.status == 409
    assert conflict.body["error"]["field"] == "id_token"

    assert (await api.delete(f"{TOKENS}/04A1B2C3")).status == 204
    for method in ("GET", "DELETE"):
        assert (await api.call(method, f"{TOKENS}/04A1B2C3")).status == 404
    assert (await api.patch(f"{TOKENS}/04A1B2C3", {"status": "Accepted"})).status == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "Accepted"}, "id_token"),
        ({"id_token": "T1"}, "status"),
        ({"id_token": "T1", "status": "Fine"}, "status"),
        ({"id_token": "T1", "status": "Accepted", "type": "Magic"}, "type"),
        ({"id_token": "T1", "status": "Accepted", "expiry": "2027-01-01T00:00:00"}, "expiry"),
        ({"id_token": "T1", "status": "Accepted", "expiry": "soon"}, "expiry"),
        ({"id_token": "T1", "status": "Accepted", "account_id": 4242}, "account_id"),
        ({"id_token": "x" * 37, "status": "Accepted"}, "id_token"),
    ],
)
async def test_id_token_validation(api: Api, body: dict[str, object], field: str) -> None:
    reply = await api.post(TOKENS, body)
    assert reply.status == 400, reply.body
    assert reply.body["error"]["field"] == field
    async with api.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM id_tokens") == 0


async def test_id_token_patch_validation(api: Api) -> None:
    await api.post(TOKENS, {"id_token": "T1", "status": "Accepted"})
    for body, field in (
        ({"status": None}, "status"),
        ({"account_id": 999}, "account_id"),
        ({"id_token": "T2"}, "id_token"),
    ):
        reply = await api.patch(f"{TOKENS}/T1", body)
        assert reply.status == 400, body
        assert reply.body["error"]["field"] == field


async def test_id_tokens_page_and_filter_by_account(api: Api) -> None:
    first = (await api.post(ACCOUNTS, {"name": "A"})).body["id"]
    second = (await api.post(ACCOUNTS, {"name": "B"})).body["id"]
    for index in range(5):
        account = first if index % 2 == 0 else second
        reply = await api.post(
            TOKENS, {"id_token": f"T{index}", "status": "Accepted", "account_id": account}
        )
        assert reply.status == 201
    pages = await api.all_pages(TOKENS, limit=2)
    assert [[t["id_token"] for t in page] for page in pages] == [["T0", "T1"], ["T2", "T3"], ["T4"]]
    filtered = await api.all_pages(TOKENS, limit=2, account_id=str(first))
    assert [[t["id_token"] for t in page] for page in filtered] == [["T0", "T2"], ["T4"]]
    bad = await api.get(TOKENS, params={"account_id": "first"})
    assert bad.status == 400
    assert bad.body["error"]["field"] == "account_id"

    # Deleting the account keeps its tokens, without an account.
    assert (await api.delete(f"{ACCOUNTS}/{first}")).status == 204
    assert (await api.get(f"{TOKENS}/T0")).body["account_id"] is None
