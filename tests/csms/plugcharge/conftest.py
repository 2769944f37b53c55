"""Plug-and-charge end to end: the central system on loopback ports with Smartcar pointed at
the Smartcar simulator (real HTTP), simulated chargers over real websockets, simulated cars
coupled to both, and a simulated payment provider the tests can inspect."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from csms.payments.simulated import SimulatedProvider
from simulators.charger import BaseCharger, ChargerConfig, create_charger
from simulators.ev import SimulatedEV
from simulators.smartcar import SimConfig, create_app
from smartcar_bridge import TokenCipher
from tests.csms.conftest import ADMIN_TOKEN, PASSWORD, System, make_settings

CLIENT_ID = "pnc-client"
CLIENT_SECRET = "pnc-secret"
WEBHOOK_SECRET = "pnc-webhook-management-token"
SITE = (52.5200, 13.4050)
# 0.1 s real is 60 s simulated: 11 kW chargers deliver about 1.8 kWh a real second.
TIME_SCALE = 600.0
METER_INTERVAL_S = 0.1
# 0.50 EUR a session and 0.39 EUR/kWh, both plus 19% VAT.
TARIFF = {
    "country_code": "DE",
    "party_id": "CPO",
    "id": "PNC-TEST",
    "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "FLAT", "price": 0.50, "vat": 19.0, "step_size": 1}]},
        {"price_components": [{"type": "ENERGY", "price": 0.39, "vat": 19.0, "step_size": 1}]},
    ],
}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Driver:
    account_id: int
    email: str
    cars: list[SimulatedEV]
    vehicle_ids: list[int]


@dataclass
class World:
    system: System
    sim_url: str
    http: aiohttp.ClientSession
    payments: SimulatedProvider
    chargers: list[BaseCharger] = field(default_factory=list)
    cars: list[SimulatedEV] = field(default_factory=list)

    async def sim(self, method: str, path: str, body: Any = None) -> Any:
        async with self.http.request(method, f"{self.sim_url}/_sim{path}", json=body) as reply:
            data = await reply.json()
            assert reply.status < 300, (method, path, reply.status, data)
            return data

    async def driver(
        self,
        email: str,
        *,
        cars: int = 1,
        payment_method: str | None = "pm_card_visa",
        target: int = 80,
        cap_minor: int | None = None,
        soc: float = 0.5,
        capacity_kwh: float = 20.0,
        link: bool = True,
        **car_fields: Any,
    ) -> Driver:
        """An account with a card, ``cars`` simulated cars owned by ``email`` at Smartcar,
        linked through Connect (test mode) unless ``link`` is False."""
        account = await self.system.api(
            "POST",
            "/accounts",
            {"name": email, "email": email, "target_soc_percent": target}
            | ({} if cap_minor is None else {"spending_cap_minor": cap_minor}),
            expect=201,
        )
        if payment_method is not None:
            await self.system.api(
                "PATCH",
                f"/accounts/{account['id']}",
                {
                    "payment_customer_id": "cus_" + account["id"].__str__(),
                    "payment_method_id": payment_method,
                },
                expect=200,
            )
        evs = [
            await SimulatedEV.create(
                self.sim_url,
                self.http,
                owner=email,
                capacity_kwh=capacity_kwh,
                nominal_capacity_kwh=capacity_kwh,
                soc=soc,
                efficiency=0.9,
                latitude=SITE[0] + 0.05,  # parked 5 km away until plugged in
                longitude=SITE[1],
                **car_fields,
            )
            for _ in range(cars)
        ]
        self.cars += evs
        vehicle_ids: list[int] = []
        if link:
            started = await self.system.api(
                "POST", f"/accounts/{account['id']}/vehicle-links", expect=201
            )
            async with self.http.get(
                started["connect_url"],
                params={"sim_user": email},
                headers={"Accept": "application/json"},
            ) as landed:
                body = await landed.json()
                assert landed.status == 200, body
            vehicle_ids = [v["id"] for v in body["vehicles"]]
        return Driver(account["id"], email, evs, vehicle_ids)

    async def charger(
        self,
        charge_point_id: str,
        protocol: str = "ocpp1.6",
        *,
        at: tuple[float, float] = SITE,
        connectors: int = 2,
        **config: Any,
    ) -> BaseCharger:
        await self.system.register(
            charge_point_id,
            protocol=protocol,
            location={"latitude": at[0], "longitude": at[1]},
        )
        charger = create_charger(
            ChargerConfig(
                url=self.system.ocpp_url,
                charge_point_id=charge_point_id,
                password=PASSWORD,
                protocol=protocol,
                connectors=connectors,
                meter_interval_s=METER_INTERVAL_S,
                call_timeout_s=5.0,
                ping_interval_s=None,
                **config,
            ),
            time_scale=TIME_SCALE,
        )
        await charger.connect()
        self.chargers.append(charger)
        return charger

    async def attempt(self, charge_point_id: str, evse_id: int = 1) -> asyncpg.Record:
        rows = await self.system.fetch(
            """SELECT * FROM plug_attempts WHERE charge_point_id = $1 AND evse_id = $2
               ORDER BY id DESC LIMIT 1""",
            charge_point_id,
            evse_id,
        )
        assert rows, f"no plug attempt on {charge_point_id}/{evse_id}"
        return rows[0]

    async def until(
        self, what: str, check: Callable[[], Awaitable[Any]], within_s: float = 30.0
    ) -> Any:
        """Poll ``check`` until it returns something truthy; fail with ``what``."""
        deadline = asyncio.get_running_loop().time() + within_s
        while True:
            value = await check()
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.1)

    async def attempt_status(
        self,
        charge_point_id: str,
        statuses: tuple[str, ...],
        evse_id: int = 1,
        within_s: float = 30.0,
    ) -> asyncpg.Record:
        async def check() -> asyncpg.Record | None:
            rows = await self.system.fetch(
                """SELECT * FROM plug_attempts WHERE charge_point_id = $1 AND evse_id = $2
                     AND status = ANY($3::text[]) ORDER BY id DESC LIMIT 1""",
                charge_point_id,
                evse_id,
                list(statuses),
            )
            return rows[0] if rows else None

        record: asyncpg.Record = await self.until(
            f"{charge_point_id}/{evse_id} in {statuses}", check, within_s
        )
        return record

    async def invoice(self, session_id: int, within_s: float = 30.0) -> asyncpg.Record:
        async def check() -> asyncpg.Record | None:
            rows = await self.system.fetch(
                "SELECT * FROM invoices WHERE session_id = $1 AND kind = 'invoice'", session_id
            )
            return rows[0] if rows else None

        record: asyncpg.Record = await self.until(f"the invoice of {session_id}", check, within_s)
        return record

    async def payment(
        self, session_id: int, statuses: tuple[str, ...], within_s: float = 30.0
    ) -> asyncpg.Record:
        async def check() -> asyncpg.Record | None:
            rows = await self.system.fetch(
                "SELECT * FROM payments WHERE session_id = $1 AND status = ANY($2::text[])",
                session_id,
                list(statuses),
            )
            return rows[0] if rows else None

        record: asyncpg.Record = await self.until(
            f"payment of {session_id} in {statuses}", check, within_s
        )
        return record

    async def calls(self, attempt_id: int) -> tuple[int, int]:
        """Smartcar calls (matching, session) counted in the bridge's ledger."""
        rows = await self.system.fetch(
            """SELECT session_ref, sum(calls)::int AS calls FROM smartcar_call_counts
               WHERE session_ref IN ($1, $2) GROUP BY session_ref""",
            f"pnc:{attempt_id}:match",
            f"pnc:{attempt_id}",
        )
        spent = {r["session_ref"]: r["calls"] for r in rows}
        return spent.get(f"pnc:{attempt_id}:match", 0), spent.get(f"pnc:{attempt_id}", 0)


def pnc_settings(api_port: int, sim_url: str, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "api_port": api_port,
        "worker_poll_interval_s": 0.05,
        "smartcar_client_id": CLIENT_ID,
        "smartcar_client_secret": CLIENT_SECRET,
        "smartcar_redirect_uri": f"http://127.0.0.1:{api_port}/api/v1/smartcar/callback",
        "smartcar_connect_url": sim_url,
        "smartcar_auth_url": sim_url,
        "smartcar_api_url": sim_url,
        "smartcar_vehicle_api_url": sim_url,
        "smartcar_connect_mode": "test",
        "smartcar_token_key": TokenCipher.generate_key(),
        "smartcar_max_attempts": 1,
        "smartcar_app_requests_per_minute": 6000.0,
        "smartcar_app_burst": 1000.0,
        "smartcar_vehicle_requests_per_minute": 6000.0,
        "smartcar_vehicle_burst": 1000.0,
        "smartcar_read_timeout_s": 5.0,
        "smartcar_command_timeout_s": 5.0,
        "pnc_repoll_after_s": 2.0,
        "pnc_first_poll_after_s": 0.5,
        "pnc_watch_interval_s": 0.25,
        "pnc_car_check_after_s": 0.5,
        "pnc_start_timeout_s": 30.0,
        "pnc_end_retry_s": 0.5,
    }
    values.update(overrides)
    return make_settings(**values)


@pytest.fixture
def pnc_overrides() -> dict[str, Any]:
    """Settings a test module changes (override the fixture)."""
    return {}


@pytest.fixture
def pnc_webhooks() -> bool:
    """Whether Smartcar webhooks are configured (override the fixture)."""
    return False


@pytest.fixture
async def world(
    pool: asyncpg.Pool, pnc_overrides: dict[str, Any], pnc_webhooks: bool
) -> AsyncIterator[World]:
    from csms.app import Ready, serve

    sim_port = _free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    api_port = _free_port()
    hooks: dict[str, Any] = {}
    if pnc_webhooks:
        hooks = {
            "webhook_url": f"http://127.0.0.1:{api_port}/api/v1/smartcar/webhooks",
            "webhook_verify_on_start": False,
            "webhook_retry_scale": 0.01,
            "application_management_token": WEBHOOK_SECRET,
        }
        pnc_overrides = {
            "smartcar_webhook_secret": WEBHOOK_SECRET,
            "pnc_webhook_grace_s": 3.0,
            **pnc_overrides,
        }
    config = SimConfig(
        CLIENT_ID,
        CLIENT_SECRET,
        [f"http://127.0.0.1:{api_port}/api/v1/smartcar/callback"],
        rate_limit_app_per_s=None,
        rate_limit_vehicle_per_min=None,
        **hooks,
    )
    runner = web.AppRunner(create_app(config))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", sim_port).start()
    settings = pnc_settings(api_port, sim_url, **pnc_overrides)
    payments = SimulatedProvider()
    stop = asyncio.Event()
    ready: asyncio.Future[Ready] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve(settings, pool, stop=stop, on_ready=ready.set_result, payments=payments)
    )
    done, _ = await asyncio.wait({task, ready}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()
    async with aiohttp.ClientSession() as http:
        world = World(System(settings, pool, ready.result(), http), sim_url, http, payments)
        await world.system.api(
            "POST",
            "/tariffs",
            {"tariff": TARIFF, "name": "Standard", "is_default": True},
            expect=201,
        )
        if pnc_webhooks:  # the operator lets Smartcar's VERIFY through once
            await world.system.api(
                "POST", "/smartcar/webhook-verification", {"seconds": 60}, expect=200
            )
            assert (await world.sim("POST", "/webhook/verify"))["verified"] is True
        try:
            yield world
        finally:
            for car in world.cars:
                if car.coupling is not None:
                    await car.coupling.aclose()
            for charger in world.chargers:
                await charger.aclose()
    stop.set()
    await asyncio.wait_for(task, 15)
    await runner.cleanup()


__all__ = ["ADMIN_TOKEN", "SITE", "Driver", "World"]
