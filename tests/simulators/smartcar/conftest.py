"""Fixtures: the simulator on a real loopback port, an HTTP client, a webhook receiver."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from simulators.smartcar import SIM, SimConfig, Simulator, create_app
from tests.conftest import FakeClock

CLIENT_ID = "test-client"
CLIENT_SECRET = "test-secret"
REDIRECT = "https://csms.example/smartcar/callback"
AMT = "amt-for-tests"
ALL_SCOPES = (
    "read_vehicle_info read_vin read_battery read_charge control_charge read_location read_odometer"
)


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


@dataclass
class Harness:
    """A running simulator and a client session pointed at it."""

    base: str
    app: web.Application
    http: aiohttp.ClientSession
    clock: FakeClock

    @property
    def sim(self) -> Simulator:
        return self.app[SIM]

    def url(self, path: str) -> str:
        return self.base + path

    async def authorize(self, **params: str) -> URL:
        """GET /oauth/authorize (mode=test unless given); the redirect's Location."""
        query = {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT,
            "scope": ALL_SCOPES,
            "state": "st-1",
            "mode": "test",
            **params,
        }
        resp = await self.http.get(
            self.url("/oauth/authorize"), params=query, allow_redirects=False
        )
        assert resp.status == 302, await resp.text()
        return URL(resp.headers["Location"])

    async def token(self, form: dict[str, str], auth: str | None = None) -> aiohttp.ClientResponse:
        basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        headers = {"Authorization": auth if auth is not None else f"Basic {basic}"}
        return await self.http.post(self.url("/oauth/token"), data=form, headers=headers)

    async def connect(self, **params: str) -> dict[str, Any]:
        """Connect in test mode and exchange the code; the token response."""
        location = await self.authorize(**params)
        code = location.query["code"]
        resp = await self.token(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
        )
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body

    async def get(self, path: str, token: str, **headers: str) -> aiohttp.ClientResponse:
        return await self.http.get(
            self.url(path), headers={"Authorization": f"Bearer {token}", **headers}
        )

    async def post(self, path: str, token: str, body: Any) -> aiohttp.ClientResponse:
        return await self.http.post(
            self.url(path), json=body, headers={"Authorization": f"Bearer {token}"}
        )

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        resp = await self.http.request(method, self.url("/_sim" + path), json=body)
        assert resp.status < 300, f"{method} {path}: {resp.status} {await resp.text()}"
        return await resp.json() if resp.status != 204 else None


StartSim = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def start_sim(clock: FakeClock) -> AsyncIterator[StartSim]:
    """Start a simulator with SimConfig overrides; rate limits are off unless asked for."""
    runners: list[web.AppRunner] = []
    session = aiohttp.ClientSession()

    async def start(**overrides: Any) -> Harness:
        values: dict[str, Any] = {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": [REDIRECT],
            "vehicles": 2,
            "application_management_token": AMT,
            "rate_limit_app_per_s": None,
            "rate_limit_vehicle_per_min": None,
            "clock": clock,
            "webhook_retry_scale": 0.001,
        }
        values.update(overrides)
        app = create_app(SimConfig(**values))
        runner, base = await serve(app)
        runners.append(runner)
        return Harness(base, app, session, clock)

    yield start
    for runner in runners:
        await runner.cleanup()
    await session.close()


@pytest.fixture
async def harness(start_sim: StartSim) -> Harness:
    return await start_sim()


@dataclass
class Received:
    headers: dict[str, str]
    raw: bytes
    at: float  # loop time of arrival

    @property
    def json(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.raw)
        return body


@dataclass
class Receiver:
    """A webhook endpoint that answers VERIFY properly and events with ``statuses`` in
    turn (then 200), recording every request."""

    url: str = ""
    amt: str = AMT
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    wrong_challenge: bool = False
    delay_s: float = 0.0  # answer events this late

    def events(self, event_type: str | None = None) -> list[Received]:
        return [
            r
            for r in self.received
            if r.json["eventType"] != "VERIFY" and event_type in (None, r.json["eventType"])
        ]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        got = Received(dict(request.headers), raw, asyncio.get_running_loop().time())
        self.received.append(got)
        body = got.json
        if body.get("eventType") == "VERIFY":
            key = "wrong" if self.wrong_challenge else self.amt
            challenge = body["data"]["challenge"].encode()
            answer = hmac.new(key.encode(), challenge, hashlib.sha256).hexdigest()
            return web.json_response({"challenge": answer})
        status = self.statuses.pop(0) if self.statuses else 200
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return web.json_response({"ok": status < 300}, status=status)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/webhook", rec.handle)
    runner, base = await serve(app)
    rec.url = base + "/webhook"
    yield rec
    await runner.cleanup()
