from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest

from csms.admin import create_app
from csms.database import create_pool
from tests.admin.conftest import TOKEN, Api, make_deps, serving
from tests.conftest import FakeClock

AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def test_healthz_and_readyz(api: Api) -> None:
    health = await api.get("/healthz", token=None)
    assert (health.status, health.body) == (200, {"status": "ok"})
    ready = await api.get("/readyz", token=None)
    assert ready.status == 200
    assert ready.body["status"] == "ready"


def metric(text: str, name: str, **labels: str) -> float | None:
    rendered = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = "^" + re.escape(name + (f"{{{rendered}}}" if labels else "")) + r" (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return None if found is None else float(found.group(1))


async def test_metrics_count_requests_by_route_template(api: Api) -> None:
    await api.get("/api/v1/charge-points/CP-1")
    await api.get("/api/v1/charge-points/CP-2")
    await api.get("/api/v1/charge-points", token=None)
    await api.get("/no/such/page")

    reply = await api.get("/metrics", token=None)
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = reply.text
    assert "# TYPE csms_connected_charge_points gauge" in text
    assert metric(text, "csms_connected_charge_points") == 0
    assert "# TYPE csms_http_requests_total counter" in text
    assert (
        metric(
            text,
            "csms_http_requests_total",
            method="GET",
            route="/api/v1/charge-points/{id}",
            status="404",
        )
        == 2
    )
    assert (
        metric(
            text,
            "csms_http_requests_total",
            method="GET",
            route="/api/v1/charge-points",
            status="401",
        )
        == 1
    )
    assert (
        metric(text, "csms_http_requests_total", method="GET", route="unmatched", status="404") == 1
    )
    assert (
        metric(
            text,
            "csms_http_request_duration_seconds_count",
            method="GET",
            route="/api/v1/charge-points/{id}",
        )
        == 2
    )
    # Every sample line is "name{labels} value" or "name value".
    for line in text.splitlines():
        if not line.startswith("#"):
            assert re.fullmatch(r'[a-z_]+(\{([a-z]+="[^"]*",?)+\})? [0-9.e+-]+', line), line

    again = (await api.get("/metrics", token=None)).text
    assert (
        metric(again, "csms_http_requests_total", method="GET", route="/metrics", status="200") == 1
    )


async def test_request_id_is_echoed_or_generated(api: Api) -> None:
    given = await api.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert given.headers["X-Request-Id"] == "abc-123"
    generated = await api.get("/api/v1/nope")
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["X-Request-Id"])
    hostile = await api.get("/healthz", headers={"X-Request-Id": "a b\tc" * 100})
    assert hostile.headers["X-Request-Id"] != "a b\tc" * 100


async def test_unknown_route_and_wrong_method_are_json(api: Api) -> None:
    missing = await api.get("/api/v1/widgets")
    assert missing.status == 404
    assert missing.body["error"]["code"] == "not_found"
    plain = await api.get("/favicon.ico", token=None)
    assert plain.status == 404
    assert plain.body["error"]["code"] == "not_found"

    wrong = await api.call("PUT", "/api/v1/charge-points")
    assert wrong.status == 405
    assert wrong.body["error"]["code"] == "method_not_allowed"
    assert set(wrong.headers["Allow"].split(",")) == {"GET", "POST"}


async def test_oversized_body_is_413_json(api: Api) -> None:
    body = io.BytesIO(b'{"name": "' + b"x" * 2_000_000 + b'"}')
    reply = await api.call("POST", "/api/v1/accounts", data=body)
    assert reply.status == 413
    assert reply.body["error"]["code"] == "payload_too_large"


@pytest.fixture
async def broken_api(database_url: str, clock: FakeClock) -> AsyncIterator[aiohttp.ClientSession]:
    """The API in front of a database pool that has been closed."""
    pool: asyncpg.Pool = await create_pool(database_url, min_size=1, max_size=1)
    await pool.close()
    async with (
        serving(create_app(make_deps(pool, clock))) as base,
        aiohttp.ClientSession(base) as http,
    ):
        yield http


async def test_database_failure_is_500_json_and_not_ready(
    broken_api: aiohttp.ClientSession,
) -> None:
    async with broken_api.get("/api/v1/charge-points", headers=AUTH) as crashed:
        assert crashed.status == 500
        body = await crashed.json()
    assert body["error"]["code"] == "internal_error"
    assert "pool" not in body["error"]["message"]  # no internals leak to the client
    async with broken_api.get("/readyz") as ready:
        assert ready.status == 503
        assert (await ready.json())["status"] == "unavailable"
    async with broken_api.get("/healthz") as health:
        assert health.status == 200
