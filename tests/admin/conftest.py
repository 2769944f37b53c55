"""The admin API served for real on a loopback port, and a client that speaks to it."""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from multidict import CIMultiDictProxy

from csms.admin import AdminDeps, create_app
from csms.commands import CommandService, Connections
from csms.store import charge_points
from tests.conftest import FakeClock

TOKEN = "test-admin-token-with-enough-entropy"
_UNSET: Any = object()


@dataclass
class Reply:
    status: int
    body: Any
    headers: CIMultiDictProxy[str]
    text: str


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 with an OS-chosen port; yield its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@dataclass
class Api:
    http: aiohttp.ClientSession
    pool: asyncpg.Pool
    connections: Connections

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = _UNSET,
        data: str | bytes | io.BytesIO | None = None,
        token: str | None = TOKEN,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        kwargs: dict[str, Any] = {"headers": sent, "params": params}
        if json is not _UNSET:
            kwargs["json"] = json
        elif data is not None:
            kwargs["data"] = data
        async with self.http.request(method, path, **kwargs) as response:
            text = await response.text()
            body = (
                await response.json(content_type=None)
                if text and (response.content_type == "application/json")
                else None
            )
            return Reply(response.status, body, response.headers, text)

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, json: Any = _UNSET, **kwargs: Any) -> Reply:
        return await self.call("POST", path, json=json, **kwargs)

    async def patch(self, path: str, json: Any = _UNSET, **kwargs: Any) -> Reply:
        return await self.call("PATCH", path, json=json, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("DELETE", path, **kwargs)

    async def all_pages(self, path: str, *, limit: int, **params: str) -> list[list[Any]]:
        """Follow ``next`` to the end; return the items of each page."""
        pages: list[list[Any]] = []
        cursor: str | None = None
        while True:
            query = {**params, "limit": str(limit)} | ({"cursor": cursor} if cursor else {})
            reply = await self.get(path, params=query)
            assert reply.status == 200, reply.body
            pages.append(reply.body["items"])
            cursor = reply.body["next"]
            if cursor is None:
                return pages
            assert len(pages) < 100


def make_deps(
    pool: asyncpg.Pool, clock: FakeClock, *, token_sha256: bytes | None = None
) -> AdminDeps:
    connections = Connections()
    return AdminDeps(
        pool=pool,
        commands=CommandService(pool, connections, timeout_s=1),
        connections=connections,
        token_sha256=token_sha256 or hashlib.sha256(TOKEN.encode()).digest(),
        clock=clock,
    )


@pytest.fixture
async def api(pool: asyncpg.Pool, clock: FakeClock) -> AsyncIterator[Api]:
    deps = make_deps(pool, clock)
    async with serving(create_app(deps)) as base_url, aiohttp.ClientSession(base_url) as http:
        yield Api(http, pool, deps.connections)


async def register(pool: asyncpg.Pool, charge_point_id: str, **values: Any) -> None:
    """A charge point straight into the database (the password hash is irrelevant)."""
    async with pool.acquire() as conn:
        created = await charge_points.insert(
            conn,
            charge_point_id=charge_point_id,
            password_hash="x",
            protocol=values.get("protocol", "ocpp1.6"),
            latitude=None,
            longitude=None,
            time_zone="UTC",
        )
    assert created is not None
