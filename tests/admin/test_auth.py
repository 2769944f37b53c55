from __future__ import annotations

import hashlib

import aiohttp
import asyncpg
import pytest

from csms.admin import create_app, ensure_admin_token
from csms.store import admin_credentials
from tests.admin.conftest import TOKEN, Api, make_deps, serving
from tests.conftest import FakeClock


def sha256(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def stored_digest(pool: asyncpg.Pool) -> bytes | None:
    async with pool.acquire() as conn:
        return await admin_credentials.digest(conn)


async def test_api_routes_need_the_token(api: Api) -> None:
    missing = await api.get("/api/v1/charge-points", token=None)
    assert missing.status == 401
    assert missing.body["error"]["code"] == "unauthorized"
    assert missing.headers["WWW-Authenticate"] == "Bearer"

    wrong = await api.get("/api/v1/charge-points", token="not-the-token")
    assert wrong.status == 401
    assert wrong.body["error"]["code"] == "unauthorized"

    basic = await api.get(
        "/api/v1/charge-points", token=None, headers={"Authorization": f"Basic {TOKEN}"}
    )
    assert basic.status == 401

    empty = await api.get("/api/v1/charge-points", token=None, headers={"Authorization": "Bearer "})
    assert empty.status == 401

    ok = await api.get("/api/v1/charge-points")
    assert ok.status == 200
    assert ok.body == {"items": [], "next": None}

    lower_scheme = await api.get(
        "/api/v1/charge-points", token=None, headers={"Authorization": f"bearer {TOKEN}"}
    )
    assert lower_scheme.status == 200


async def test_writes_and_unknown_api_paths_need_the_token_too(api: Api) -> None:
    created = await api.post("/api/v1/accounts", {"name": "A"}, token=None)
    assert created.status == 401
    async with api.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM accounts") == 0
    # No probing of which API routes exist without a token.
    assert (await api.get("/api/v1/nothing-here", token=None)).status == 401
    assert (await api.get("/api/v1/nothing-here")).status == 404


async def test_health_metrics_and_openapi_need_no_token(api: Api) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/api/v1/openapi.json"):
        reply = await api.get(path, token=None)
        assert reply.status == 200, path


async def test_generated_token_is_stored_as_digest_and_reused(pool: asyncpg.Pool) -> None:
    digest, token = await ensure_admin_token(pool, None)
    assert token is not None
    assert len(token) >= 40
    assert digest == sha256(token)
    assert await stored_digest(pool) == digest

    again_digest, again_token = await ensure_admin_token(pool, None)
    assert again_token is None  # printed once only
    assert again_digest == digest


async def test_configured_token_wins_and_replaces_a_stored_one(pool: asyncpg.Pool) -> None:
    await ensure_admin_token(pool, None)
    digest, token = await ensure_admin_token(pool, "configured-token-1")
    assert (digest, token) == (sha256("configured-token-1"), None)
    assert await stored_digest(pool) == digest

    # The same configuration again changes nothing; a new one replaces it.
    assert await ensure_admin_token(pool, "configured-token-1") == (digest, None)
    digest2, _ = await ensure_admin_token(pool, "configured-token-2")
    assert await stored_digest(pool) == digest2 == sha256("configured-token-2")

    # Unset afterwards: the stored digest stays valid, nothing new is generated.
    assert await ensure_admin_token(pool, None) == (digest2, None)


async def test_configured_token_on_an_empty_database(pool: asyncpg.Pool) -> None:
    assert await stored_digest(pool) is None
    assert await ensure_admin_token(pool, "first-configured") == (sha256("first-configured"), None)
    assert await stored_digest(pool) == sha256("first-configured")


@pytest.mark.parametrize("configured", [None, ""])
async def test_unset_or_empty_configuration_generates(
    pool: asyncpg.Pool, configured: str | None
) -> None:
    _, token = await ensure_admin_token(pool, configured)
    assert token


async def test_generated_token_opens_the_api(pool: asyncpg.Pool, clock: FakeClock) -> None:
    digest, token = await ensure_admin_token(pool, None)
    assert token is not None
    deps = make_deps(pool, clock, token_sha256=digest)
    async with serving(create_app(deps)) as base, aiohttp.ClientSession(base) as http:
        async with http.get("/api/v1/accounts", headers={"Authorization": f"Bearer {token}"}) as ok:
            assert ok.status == 200
        async with http.get(
            "/api/v1/accounts", headers={"Authorization": f"Bearer {TOKEN}"}
        ) as refused:
            assert refused.status == 401
