"""A running central system (OCPP server, admin API, frame log, worker) on loopback ports,
backed by a fresh real database, plus helpers to register chargers and tokens."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import asyncpg
import pytest

from csms.config import Settings, load_settings

if TYPE_CHECKING:
    from csms.app import Ready
from csms.message_log import FrameLog
from tests.conftest import TIME_FACTOR, FakeClock

ADMIN_TOKEN = "test-admin-token"
PASSWORD = "secret-password-1"


@dataclass
class System:
    settings: Settings
    pool: asyncpg.Pool
    ready: Ready
    http: aiohttp.ClientSession

    @property
    def ocpp_url(self) -> str:
        return f"ws://127.0.0.1:{self.ready.ocpp_port}/ocpp"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ready.api_port}/api/v1"

    async def api(self, method: str, path: str, body: Any = None, expect: int | None = None) -> Any:
        async with self.http.request(
            method,
            self.api_url + path,
            json=body,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        ) as response:
            data = await response.json() if response.content_type == "application/json" else None
            if expect is not None:
                assert response.status == expect, (response.status, data)
            return data

    async def register(self, charge_point_id: str, password: str = PASSWORD, **extra: Any) -> Any:
        return await self.api(
            "POST",
            "/charge-points",
            {"id": charge_point_id, "password": password, **extra},
            expect=201,
        )

    async def token(self, id_token: str, status: str = "Accepted", **extra: Any) -> Any:
        return await self.api(
            "POST", "/id-tokens", {"id_token": id_token, "status": status, **extra}, expect=201
        )

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        async with self.pool.acquire() as conn:
            return list(await conn.fetch(query, *args))

    async def fetchval(self, query: str, *args: Any) -> Any:
        async with self.pool.acquire() as conn:
            return await conn.fetchval(query, *args)

    async def settle(self) -> None:
        """Let the frame log flush (it batches off the reply path)."""
        await asyncio.sleep(0.15 * TIME_FACTOR)


def basic_auth(charge_point_id: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{charge_point_id}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "ocpp_port": 0,
        "api_port": 0,
        "admin_token": ADMIN_TOKEN,
        "call_timeout_s": 2.0 * TIME_FACTOR,
        "message_log_flush_ms": 20,
        "worker_poll_interval_s": 0.05,
        "heartbeat_interval_s": 300,
    }
    values.update(overrides)
    return load_settings({}, **values)


async def start_system(
    pool: asyncpg.Pool, settings: Settings, clock: FakeClock | None = None
) -> AsyncIterator[System]:
    from csms.app import serve

    stop = asyncio.Event()
    ready: asyncio.Future[Ready] = asyncio.get_running_loop().create_future()
    kwargs: dict[str, Any] = {} if clock is None else {"clock": clock}
    task = asyncio.create_task(
        serve(settings, pool, stop=stop, on_ready=ready.set_result, **kwargs)
    )
    done, _ = await asyncio.wait({task, ready}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()  # raises what went wrong
    async with aiohttp.ClientSession() as http:
        yield System(settings, pool, ready.result(), http)
    stop.set()
    await asyncio.wait_for(task, 15)


@pytest.fixture
async def system(pool: asyncpg.Pool) -> AsyncIterator[System]:
    async for running in start_system(pool, make_settings()):
        yield running


__all__ = [
    "ADMIN_TOKEN",
    "PASSWORD",
    "FrameLog",
    "System",
    "basic_auth",
    "make_settings",
    "start_system",
]
