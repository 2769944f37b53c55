"""Rate limits, Retry-After, timeouts and giving up: against the simulator where it can
produce the condition, and a small slow server where it cannot (a timeout)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import aiohttp
import pytest
from aiohttp import web

from smartcar_bridge import SmartcarClient
from smartcar_bridge.config import LimitConfig, TimeoutConfig
from smartcar_bridge.errors import RateLimitError, RequestTimeout, UpstreamError
from smartcar_bridge.limiter import RateLimiter
from smartcar_bridge.transport import Auth
from tests.conftest import FakeClock
from tests.smartcar_bridge.conftest import FakeSleep, SimHandle, serving


async def test_vehicle_429_honours_retry_after(sim: SimHandle) -> None:
    vehicle = await sim.vehicle(soc=0.5)
    auth = await sim.tokens(vehicle["owner_id"])
    await sim.control(
        "POST", "/rate-limits", {"scope": "vehicle", "vehicle_id": vehicle["id"], "seconds": 20}
    )
    battery = await sim.client().battery(auth, vehicle["id"])
    assert battery.percent_remaining == 0.5
    # Slept at least Retry-After (20 s), not the 0.25 s backoff, then succeeded.
    assert sim.sleep.delays[0] >= 20
    log = [r["status"] for r in await sim.requests() if r["path"].endswith("/battery")]
    assert log == [429, 200]


async def test_app_429_pauses_every_vehicle(sim: SimHandle) -> None:
    one, two = await sim.vehicle(), await sim.vehicle()
    auth_one = await sim.tokens(one["owner_id"])
    auth_two = await sim.tokens(two["owner_id"])
    client = sim.client()
    await sim.control("POST", "/rate-limits", {"scope": "app", "seconds": 10})
    await client.vin(auth_one, one["id"])
    assert sim.sleep.delays[0] >= 10
    # The pause was app-wide, and it is over: the other vehicle goes straight through.
    sim.sleep.delays.clear()
    await client.vin(auth_two, two["id"])
    assert sim.sleep.delays == []


async def test_retry_after_beyond_the_limit_gives_up_at_once(sim: SimHandle) -> None:
    vehicle = await sim.vehicle()
    auth = await sim.tokens(vehicle["owner_id"])
    await sim.control(
        "POST", "/rate-limits", {"scope": "vehicle", "vehicle_id": vehicle["id"], "seconds": 3600}
    )
    client = sim.client()
    with pytest.raises(RateLimitError) as caught:
        await client.battery(auth, vehicle["id"])
    assert caught.value.retry_after == 3600
    assert not caught.value.local
    assert sim.sleep.delays == []
    # The vehicle is now paused locally: the next call is refused without a request.
    with pytest.raises(RateLimitError) as again:
        await client.battery(auth, vehicle["id"])
    assert again.value.local and again.value.code == "VEHICLE"
    assert again.value.retry_after is not None and again.value.retry_after > 3500
    assert len([r for r in await sim.requests() if r["path"].endswith("/battery")]) == 1
    assert client.metrics.limited["vehicle"] == 1


async def test_oem_rate_limit_pauses_the_vehicle(sim: SimHandle) -> None:
    vehicle = await sim.vehicle()
    auth = await sim.tokens(vehicle["owner_id"])
    await sim.control(
        "POST", "/faults", {"type": "UPSTREAM", "code": "RATE_LIMIT", "vehicle_id": vehicle["id"]}
    )
    client = sim.client(limits=LimitConfig(app_capacity=1000, max_wait_s=60, upstream_pause_s=1800))
    with pytest.raises(UpstreamError) as caught:
        await client.battery(auth, vehicle["id"])
    assert caught.value.retry_later and not caught.value.retryable
    with pytest.raises(RateLimitError) as paused:
        await client.battery(auth, vehicle["id"])
    assert paused.value.local


async def test_the_vehicle_bucket_keeps_us_under_the_simulators_limit(clock: FakeClock) -> None:
    from tests.smartcar_bridge.conftest import running_sim

    async with running_sim(clock, rate_limit_app_per_s=None, rate_limit_vehicle_per_min=6) as sim:
        vehicle = await sim.vehicle()
        auth = await sim.tokens(vehicle["owner_id"])
        # A bucket lets through at most capacity + rate x T in any window T: 3 at once
        # plus 3 a minute stays within the simulator's 6 per sliding minute.
        limits = LimitConfig(vehicle_capacity=3, vehicle_refill_per_s=0.05, max_wait_s=600)
        client = sim.client(limits=limits)
        for _ in range(12):
            await client.battery(auth, vehicle["id"])
        statuses = [r["status"] for r in await sim.requests() if r["path"].endswith("/battery")]
        assert statuses == [200] * 12  # never a 429: the limiter waited instead
        assert sum(sim.sleep.delays) == pytest.approx(180)


# --- the limiter on its own -----------------------------------------------------------


class Time:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        # Time does not move while callers wait, so concurrent callers overlap.
        self.slept.append(seconds)
        await asyncio.sleep(0)


def _limiter(time: Time, **limits: float) -> RateLimiter:
    config = replace(LimitConfig(), **limits)
    return RateLimiter(config, monotonic=time, sleep=time.sleep)


async def test_bucket_refills_and_callers_queue() -> None:
    time = Time()
    limiter = _limiter(time, app_capacity=2, app_refill_per_s=1.0, vehicle_capacity=100)
    await limiter.acquire(None)
    await limiter.acquire(None)
    assert time.slept == []
    # Reservations: three callers at once wait 1, 2 and 3 s, not all 1 s.
    time.slept.clear()
    waits = [limiter.wait_time(None)]
    await asyncio.gather(*(limiter.acquire(None) for _ in range(3)))
    assert waits == [1.0]
    assert sorted(time.slept) == [1.0, 2.0, 3.0]


async def test_per_vehicle_buckets_are_separate() -> None:
    time = Time()
    limiter = _limiter(time, vehicle_capacity=1, vehicle_refill_per_s=0.1, app_capacity=100)
    await limiter.acquire("a")
    await limiter.acquire("b")
    assert time.slept == []
    await limiter.acquire("a")
    assert time.slept == [10.0]


async def test_refuses_a_wait_beyond_the_maximum() -> None:
    time = Time()
    limiter = _limiter(time, vehicle_capacity=1, vehicle_refill_per_s=0.01, max_wait_s=30)
    await limiter.acquire("a")
    with pytest.raises(RateLimitError) as caught:
        await limiter.acquire("a")
    assert caught.value.local and caught.value.retry_after == pytest.approx(100.0)
    # Nothing was reserved by the refused call.
    time.now += 100
    await limiter.acquire("a")
    assert time.slept == []


async def test_pause() -> None:
    time = Time()
    limiter = _limiter(time)
    limiter.pause("a", 12)
    await limiter.acquire("a")
    await limiter.acquire("b")
    assert time.slept == [12.0]


# --- timeouts ---------------------------------------------------------------------------


async def test_every_call_has_a_timeout_and_commands_are_not_resent(clock: FakeClock) -> None:
    hits = {"GET": 0, "POST": 0}

    async def slow(request: web.Request) -> web.Response:
        hits[request.method] += 1
        await asyncio.sleep(2)
        return web.json_response({})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", slow)
    async with serving(app) as url, aiohttp.ClientSession() as http:
        from smartcar_bridge.config import BridgeConfig

        config = BridgeConfig(
            client_id="c",
            client_secret="s",
            redirect_uri="http://127.0.0.1/cb",
            api_url=url,
            timeouts=TimeoutConfig(read_s=0.1, command_s=0.2),
        )
        sleep = FakeSleep(clock)
        client = SmartcarClient(http, config, clock=clock, sleep=sleep, jitter=lambda: 0.0)
        auth = Auth("token")
        with pytest.raises(RequestTimeout) as caught:
            await client.vin(auth, "00000000-0000-4000-8000-000000000000")
        assert caught.value.status == 408 and caught.value.retryable
        assert hits["GET"] == 3  # a read is retried
        with pytest.raises(RequestTimeout):
            await client.start_charge(auth, "00000000-0000-4000-8000-000000000000")
        assert hits["POST"] == 1  # a command that may have reached the car is not
        # Requests that were sent are counted even without an answer: they may be billed.
        assert client.metrics.calls[("GET /vehicles/{id}/vin", "error")] == 3
