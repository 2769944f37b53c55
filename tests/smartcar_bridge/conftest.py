"""The Smartcar simulator served for real on a loopback port, and the bridge pointed at it.

The simulator and the bridge share one :class:`FakeClock`; retries "sleep" by moving it,
so Retry-After and token expiry are tested without waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from simulators.smartcar import SIM, SimConfig, Simulator, create_app
from smartcar_bridge import BridgeConfig, LimitConfig, RetryConfig, SmartcarClient, TokenCipher
from smartcar_bridge import build_bridge as _build_bridge
from smartcar_bridge.bridge import SmartcarBridge
from smartcar_bridge.config import ApiVersion
from smartcar_bridge.limiter import RateLimiter
from smartcar_bridge.oauth import OAuthClient, connect_url
from smartcar_bridge.transport import Auth
from tests.conftest import FakeClock

CLIENT_ID = "client-test"
CLIENT_SECRET = "secret-test"
REDIRECT_URI = "http://127.0.0.1:1/api/v1/smartcar/callback"
AMT = "amt-test"
TOKEN_KEY = TokenCipher.generate_key()


class FakeSleep:
    """``sleep`` that records the delay and moves the shared clock instead of waiting."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.clock.advance(seconds)
        await asyncio.sleep(0)


@dataclass
class SimHandle:
    url: str
    app: web.Application
    http: aiohttp.ClientSession
    clock: FakeClock
    sleep: FakeSleep
    sessions: list[aiohttp.ClientSession] = field(default_factory=list)

    @property
    def sim(self) -> Simulator:
        return self.app[SIM]

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        async with self.http.request(method, f"{self.url}/_sim{path}", json=body) as response:
            text = await response.text()
            assert response.status < 300, f"{method} {path}: {response.status} {text}"
            return await response.json() if text else None

    async def vehicle(self, **fields: Any) -> dict[str, Any]:
        """A simulated vehicle (and its owner, unless ``owner`` is given)."""
        vehicle: dict[str, Any] = await self.control("POST", "/vehicles", fields)
        return vehicle

    async def tokens(self, user_id: str, scopes: list[str] | None = None) -> Auth:
        body = {} if scopes is None else {"scopes": scopes}
        minted = await self.control("POST", f"/users/{user_id}/tokens", body)
        return Auth(minted["access_token"], user_id)

    async def requests(self) -> list[dict[str, Any]]:
        return list((await self.control("GET", "/requests"))["items"])

    def config(self, version: ApiVersion = "2.0", **overrides: Any) -> BridgeConfig:
        base = BridgeConfig(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            redirect_uri=REDIRECT_URI,
            connect_url=self.url,
            auth_url=self.url,
            api_url=self.url,
            vehicle_api_url=self.url,
            api_version=version,
            connect_mode="test",
            retry=RetryConfig(max_attempts=3, backoff_base_s=0.5, max_retry_after_s=120),
            limits=LimitConfig(app_capacity=10_000, vehicle_capacity=1_000, max_wait_s=600),
        )
        return replace(base, **overrides)

    def limiter(self, config: BridgeConfig) -> RateLimiter:
        return RateLimiter(
            config.limits, monotonic=lambda: self.clock.now.timestamp(), sleep=self.sleep
        )

    def client(self, version: ApiVersion = "2.0", **overrides: Any) -> SmartcarClient:
        config = self.config(version, **overrides)
        return SmartcarClient(
            self.http,
            config,
            limiter=self.limiter(config),
            clock=self.clock,
            sleep=self.sleep,
            jitter=lambda: 0.0,
        )

    def bridge(
        self,
        pool: asyncpg.Pool,
        version: ApiVersion = "2.0",
        *,
        key: str = TOKEN_KEY,
        **overrides: Any,
    ) -> SmartcarBridge:
        config = self.config(version, **overrides)
        return _build_bridge(
            self.http,
            pool,
            config,
            TokenCipher.from_text(key),
            clock=self.clock,
            sleep=self.sleep,
            jitter=lambda: 0.0,
            limiter=self.limiter(config),
        )

    async def connect_code(
        self, config: BridgeConfig, state: str, *, login: str | None = None, **params: str
    ) -> dict[str, list[str]]:
        """Follow a Connect URL in test mode (auto-consent); the callback's query."""
        url = connect_url(config, state)
        extra = {**params, **({"sim_user": login} if login else {})}
        async with self.http.get(url, params=extra, allow_redirects=False) as response:
            assert response.status == 302, await response.text()
            location = response.headers["Location"]
        return parse_qs(urlsplit(location).query)

    async def exchange(self, client: SmartcarClient, login: str) -> Auth:
        query = await self.connect_code(client.config, "state-x", login=login)
        tokens = await OAuthClient(client.transport, client.config).exchange_code(query["code"][0])
        return Auth(tokens.access_token)


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


def sim_config(clock: FakeClock, **overrides: Any) -> SimConfig:
    return SimConfig(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uris=[REDIRECT_URI],
        vehicles=0,
        webhook_url=overrides.pop("webhook_url", None),
        application_management_token=AMT,
        command_delay_s=0.0,
        seed=0,
        clock=clock,
        **overrides,
    )


@asynccontextmanager
async def running_sim(clock: FakeClock, **overrides: Any) -> AsyncIterator[SimHandle]:
    app = create_app(sim_config(clock, **overrides))
    async with serving(app) as url, aiohttp.ClientSession() as http:
        yield SimHandle(url, app, http, clock, FakeSleep(clock))


@pytest.fixture
async def sim(clock: FakeClock) -> AsyncIterator[SimHandle]:
    async with running_sim(clock, rate_limit_app_per_s=None) as handle:
        yield handle
