"""The central system's side, end to end over loopback HTTP: the admin API starts linking,
the driver's browser goes through the simulator's Connect and lands on our callback, cars
are listed and unlinked, and the simulator's webhooks update the cars' state."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from csms.admin import create_app
from csms.vehicles import VehicleService
from simulators.smartcar import sign
from smartcar_bridge import WebhookReceiver
from smartcar_bridge.config import ApiVersion
from tests.admin.conftest import Api, make_deps
from tests.conftest import FakeClock
from tests.smartcar_bridge.conftest import AMT, SimHandle, running_sim

CALLBACK = "/api/v1/smartcar/callback"
WEBHOOK = "/api/v1/smartcar/webhooks"


@dataclass
class System:
    api: Api
    sim: SimHandle
    service: VehicleService
    url: str

    async def account(self) -> int:
        reply = await self.api.post("/api/v1/accounts", json={"name": "Driver"})
        assert reply.status == 201
        account_id: int = reply.body["id"]
        return account_id

    async def link(self, account_id: int, owner: str) -> list[dict[str, Any]]:
        """Start linking, then be the driver's browser: Connect, consent, callback."""
        reply = await self.api.post(f"/api/v1/accounts/{account_id}/vehicle-links")
        assert reply.status == 201, reply.body
        async with self.sim.http.get(
            reply.body["connect_url"],
            params={"sim_user": owner},
            headers={"Accept": "application/json"},
        ) as landed:
            assert landed.url.path == CALLBACK
            body = await landed.json()
            assert landed.status == 200, body
        vehicles: list[dict[str, Any]] = body["vehicles"]
        return vehicles

    async def db_vehicle(self, vehicle_id: int) -> asyncpg.Record:
        async with self.api.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT * FROM vehicles WHERE id = $1", vehicle_id)
        assert row is not None
        return row


async def _system(
    pool: asyncpg.Pool, clock: FakeClock, version: ApiVersion
) -> AsyncIterator[System]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async with running_sim(
        clock,
        rate_limit_app_per_s=None,
        webhook_url=url + WEBHOOK,
        webhook_verify_on_start=False,
        webhook_retry_scale=0.001,
    ) as sim:
        sim.sim.config.redirect_uris.append(url + CALLBACK)
        bridge = sim.bridge(pool, version, redirect_uri=url + CALLBACK)
        receiver = WebhookReceiver(AMT, unsigned_verify="window", clock=clock)
        service = VehicleService(pool, bridge, receiver, clock)
        deps = replace(make_deps(pool, clock), vehicles=service)
        runner = web.AppRunner(create_app(deps))
        await runner.setup()
        try:
            await web.SockSite(runner, sock).start()
            async with aiohttp.ClientSession(url) as http:
                yield System(Api(http, pool, deps.connections), sim, service, url)
        finally:
            await runner.cleanup()


@pytest.fixture(params=["2.0", "3"])
async def system(
    request: pytest.FixtureRequest, pool: asyncpg.Pool, clock: FakeClock
) -> AsyncIterator[System]:
    async for value in _system(pool, clock, request.param):
        yield value


@pytest.fixture
async def system_v2(pool: asyncpg.Pool, clock: FakeClock) -> AsyncIterator[System]:
    async for value in _system(pool, clock, "2.0"):
        yield value


async def test_linked_car_can_be_read_and_charged(system: System) -> None:
    """The issue's "done when": VIN, SoC, capacity and charge state read, charging started
    and stopped, through the bridge against the simulator (both API versions)."""
    car = await system.sim.vehicle(
        make="VOLKSWAGEN",
        model="ID.4",
        year=2023,
        vin="WVGZZZE2ZPP000001",
        capacity_kwh=77.0,
        soc=0.35,
        plugged_in=True,
    )
    account_id = await system.account()
    [linked] = await system.link(account_id, car["owner_id"])
    assert (linked["vin"], linked["make"], linked["model"], linked["year"]) == (
        "WVGZZZE2ZPP000001",
        "VOLKSWAGEN",
        "ID.4",
        2023,
    )
    assert linked["battery_capacity_kwh"] == 77.0
    assert linked["status"] == "linked"

    listed = await system.api.get(f"/api/v1/accounts/{account_id}/vehicles")
    assert listed.status == 200
    assert [v["smartcar_vehicle_id"] for v in listed.body["items"]] == [car["id"]]

    bridge = system.service.bridge
    vehicle_id = car["id"]
    assert (await bridge.vin(vehicle_id)).vin == "WVGZZZE2ZPP000001"
    assert (await bridge.battery(vehicle_id)).percent_remaining == pytest.approx(0.35)
    assert (await bridge.battery_capacity(vehicle_id)).capacity_kwh == 77.0
    status = await bridge.charge_status(vehicle_id)
    assert (status.is_plugged_in, status.state) == (True, "NOT_CHARGING")
    await bridge.start_charge(vehicle_id)
    assert (await bridge.charge_status(vehicle_id)).state == "CHARGING"
    await bridge.stop_charge(vehicle_id)
    assert (await bridge.charge_status(vehicle_id)).state == "NOT_CHARGING"
    # Every Smartcar call is counted per vehicle on /metrics: calls cost money.
    metrics = await system.api.get("/metrics")
    assert metrics.status == 200
    assert f'smartcar_vehicle_requests_total{{vehicle="{vehicle_id}"}}' in metrics.text


async def test_callback_errors_are_shown_clearly(system_v2: System) -> None:
    system = system_v2
    car = await system.sim.vehicle()
    account_id = await system.account()
    reply = await system.api.post(f"/api/v1/accounts/{account_id}/vehicle-links")
    # The driver declines.
    async with system.sim.http.get(
        reply.body["connect_url"], params={"sim_decision": "deny"}
    ) as declined:
        assert declined.status == 400
        assert declined.content_type == "text/html"
        page = await declined.text()
    assert "not linked" in page and "access_denied" in page
    # A forged state, as JSON.
    forged = await system.api.get(
        CALLBACK,
        params={"code": "x", "state": "forged"},
        token=None,
        headers={"Accept": "application/json"},
    )
    assert forged.status == 400
    assert forged.body["error"]["reason"] == "invalid_state"
    # The state of a completed link cannot be replayed.
    reply = await system.api.post(f"/api/v1/accounts/{account_id}/vehicle-links")
    async with system.sim.http.get(
        reply.body["connect_url"], params={"sim_user": car["owner_id"]}, allow_redirects=False
    ) as redirect:
        location = redirect.headers["Location"]
    async with system.sim.http.get(location, headers={"Accept": "application/json"}) as first:
        assert first.status == 200
    async with system.sim.http.get(location, headers={"Accept": "application/json"}) as again:
        assert again.status == 400
        assert (await again.json())["error"]["reason"] == "invalid_state"


async def test_link_requests_are_checked(system_v2: System) -> None:
    system = system_v2
    missing = await system.api.post("/api/v1/accounts/999/vehicle-links")
    assert missing.status == 404
    account_id = await system.account()
    await system.api.patch(f"/api/v1/accounts/{account_id}", json={"status": "closed"})
    closed = await system.api.post(f"/api/v1/accounts/{account_id}/vehicle-links")
    assert closed.status == 409
    unauthenticated = await system.api.post(
        f"/api/v1/accounts/{account_id}/vehicle-links", token=None
    )
    assert unauthenticated.status == 401
    bad = await system.api.post(
        f"/api/v1/accounts/{account_id}/vehicle-links", json={"make": "<script>"}
    )
    assert bad.status == 400 and bad.body["error"]["field"] == "make"


async def test_unlink_revokes_and_deletes_the_tokens(system_v2: System) -> None:
    system = system_v2
    car = await system.sim.vehicle()
    account_id = await system.account()
    [linked] = await system.link(account_id, car["owner_id"])
    path = f"/api/v1/accounts/{account_id}/vehicles/{linked['id']}"

    # Smartcar turns us away for an hour: nothing changes, the operator can try again.
    await system.sim.control("POST", "/rate-limits", {"scope": "app", "seconds": 3600})
    failed = await system.api.delete(path)
    assert failed.status == 502 and failed.body["error"]["code"] == "smartcar_unavailable"
    assert len((await system.api.get(f"/api/v1/accounts/{account_id}/vehicles")).body["items"]) == 1
    assert len(system.sim.sim.connections) == 1
    system.sim.clock.advance(3600)

    assert (await system.api.delete(path)).status == 204
    assert system.sim.sim.connections == {}  # revoked at Smartcar
    async with system.api.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM smartcar_grants") == 0
        assert await conn.fetchval("SELECT count(*) FROM smartcar_grant_vehicles") == 0
    assert (await system.api.get(f"/api/v1/accounts/{account_id}/vehicles")).body["items"] == []
    assert (await system.api.delete(path)).status == 404
    row = await system.db_vehicle(linked["id"])
    assert row["unlinked_at"] is not None  # the row stays for history


async def test_reauthorisation_shows_in_the_list(system_v2: System) -> None:
    system = system_v2
    car = await system.sim.vehicle()
    account_id = await system.account()
    await system.link(account_id, car["owner_id"])
    await system.service.bridge.vault.mark_reauth_required(car["id"], "refresh token refused")
    [item] = (await system.api.get(f"/api/v1/accounts/{account_id}/vehicles")).body["items"]
    assert item["status"] == "reauth_required"
    assert item["status_reason"] == "refresh token refused"


async def _settle(system: System) -> None:
    await system.sim.sim.webhook.drain()
    await asyncio.sleep(0)


async def test_webhooks_update_the_car_state(system_v2: System) -> None:
    system = system_v2
    # Unsigned VERIFY (the simulator's default) is refused until the operator opens a window.
    assert (await system.sim.control("POST", "/webhook/verify"))["verified"] is False
    opened = await system.api.post("/api/v1/smartcar/webhook-verification", json={"seconds": 60})
    assert opened.status == 200 and opened.body["open_until"].endswith("Z")
    assert (await system.sim.control("POST", "/webhook/verify"))["verified"] is True

    car = await system.sim.vehicle(soc=0.4, plugged_in=False)
    account_id = await system.account()
    [linked] = await system.link(account_id, car["owner_id"])  # subscribes: FIRST_DELIVERY
    await _settle(system)
    row = await system.db_vehicle(linked["id"])
    assert (row["plugged_in"], row["charging_state"]) == (False, "NOT_CHARGING")
    assert float(row["soc_percent"]) == pytest.approx(40.0)

    system.sim.clock.advance(60)
    await system.sim.control("PATCH", f"/vehicles/{car['id']}", {"plugged_in": True})
    await _settle(system)
    assert (await system.db_vehicle(linked["id"]))["plugged_in"] is True

    system.sim.clock.advance(60)
    await system.service.bridge.start_charge(car["id"])
    await _settle(system)
    row = await system.db_vehicle(linked["id"])
    assert row["charging_state"] == "CHARGING"
    assert row["state_source"] == "webhook:VEHICLE_STATE"
    async with system.api.pool.acquire() as conn:
        events = await conn.fetch(
            "SELECT event_type, applied FROM smartcar_webhook_events ORDER BY id"
        )
    assert len(events) == 3 and all(e["applied"] for e in events)
    [item] = (await system.api.get(f"/api/v1/accounts/{account_id}/vehicles")).body["items"]
    assert item["state"]["charging_state"] == "CHARGING"
    assert item["state"]["plugged_in"] is True


async def _post(system: System, body: bytes, signature: str | None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["SC-Signature"] = signature
    async with system.api.http.post(WEBHOOK, data=body, headers=headers) as response:
        return response.status, await response.json()


def _event(event_id: str, vehicle_id: str, soc: float, at_ms: int) -> bytes:
    return json.dumps(
        {
            "eventId": event_id,
            "eventType": "VEHICLE_STATE",
            "vehicleId": vehicle_id,
            "data": {
                "signals": [
                    {
                        "code": "tractionbattery-stateofcharge",
                        "body": {"unit": "percent", "value": soc},
                        "meta": {"oemUpdatedAt": at_ms, "fetchedAt": at_ms},
                    }
                ]
            },
            "meta": {"version": "4.0", "deliveryId": f"d-{event_id}", "deliveredAt": at_ms},
        },
        separators=(",", ":"),
    ).encode()


async def test_webhook_with_a_bad_signature_stores_nothing(system_v2: System) -> None:
    system = system_v2
    car = await system.sim.vehicle(soc=0.4)
    account_id = await system.account()
    [linked] = await system.link(account_id, car["owner_id"])
    body = _event("e-1", car["id"], 90, 1_800_000_000_000)
    for signature in (None, "0" * 64, sign("wrong-key", body)):
        status, reply = await _post(system, body, signature)
        assert status == 401
        assert reply["error"]["code"] == "webhook_refused"
    async with system.api.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM smartcar_webhook_events") == 0
    assert (await system.db_vehicle(linked["id"]))["soc_percent"] is None


async def test_redelivered_and_out_of_order_events(system_v2: System) -> None:
    system = system_v2
    car = await system.sim.vehicle()
    account_id = await system.account()
    [linked] = await system.link(account_id, car["owner_id"])
    newer = _event("e-new", car["id"], 80, 1_800_000_060_000)
    older = _event("e-old", car["id"], 60, 1_800_000_000_000)
    assert await _post(system, newer, sign(AMT, newer)) == (
        200,
        {"status": "ok", "events": 1, "applied": 1},
    )
    # The same event again (a retry): stored once, applied once.
    assert (await _post(system, newer, sign(AMT, newer)))[1]["applied"] == 0
    # An older event arriving late does not overwrite newer state.
    assert (await _post(system, older, sign(AMT, older)))[1]["applied"] == 0
    row = await system.db_vehicle(linked["id"])
    assert float(row["soc_percent"]) == 80.0
    async with system.api.pool.acquire() as conn:
        events = await conn.fetch("SELECT event_id, applied FROM smartcar_webhook_events")
    assert sorted((e["event_id"], e["applied"]) for e in events) == [
        ("e-new", True),
        ("e-old", False),
    ]


async def test_smartcar_not_configured(pool: asyncpg.Pool, clock: FakeClock) -> None:
    from tests.smartcar_bridge.conftest import serving

    async with (
        serving(create_app(make_deps(pool, clock))) as url,
        aiohttp.ClientSession(url) as http,
    ):
        api = Api(http, pool, make_deps(pool, clock).connections)
        assert (await api.post("/api/v1/accounts/1/vehicle-links")).status == 503
        assert (await api.post(WEBHOOK, json={}, token=None)).status == 503
        listed = await api.get("/api/v1/accounts/1/vehicles")
        assert listed.status == 503
        assert listed.body["error"]["code"] == "smartcar_not_configured"


async def test_a_car_that_changes_hands_moves_and_leaves_no_tokens(system_v2: System) -> None:
    system = system_v2
    car = await system.sim.vehicle()
    first_account, second_account = await system.account(), await system.account()
    [before] = await system.link(first_account, car["owner_id"])
    buyer = await system.sim.control("POST", "/users", {"email": "buyer@example.com"})
    system.sim.sim.vehicles[car["id"]].owner_id = buyer["id"]
    [after] = await system.link(second_account, buyer["id"])
    assert after["id"] == before["id"] and after["account_id"] == second_account
    assert (await system.api.get(f"/api/v1/accounts/{first_account}/vehicles")).body["items"] == []
    async with system.api.pool.acquire() as conn:
        grants = await conn.fetch("SELECT smartcar_user_id FROM smartcar_grants")
    assert [g["smartcar_user_id"] for g in grants] == [buyer["id"]]
