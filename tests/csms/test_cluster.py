"""Several server processes (or hosts) on one database: a command reaches a charger
whichever node holds its connection, a reconnect to another node takes over cleanly, and
``csms serve --workers 2`` shares its ports."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest

from csms.database import create_pool
from simulators.charger import ChargerConfig, SimulatedCharger
from tests.csms.conftest import ADMIN_TOKEN, PASSWORD, System, make_settings, start_system

pytestmark = pytest.mark.slow


@pytest.fixture
async def two_nodes(pool: asyncpg.Pool, database_url: str) -> AsyncIterator[tuple[System, System]]:
    """Two servers on one database, each with its own pool, as two processes would be."""
    other_pool = await create_pool(database_url, min_size=1, max_size=10)
    try:
        async for first in start_system(pool, make_settings()):
            async for second in start_system(other_pool, make_settings()):
                yield first, second
    finally:
        await other_pool.close()


async def test_command_relayed_to_the_node_holding_the_connection(
    two_nodes: tuple[System, System],
) -> None:
    a, b = two_nodes
    await a.register("CP-A")
    config = ChargerConfig(url=a.ocpp_url, charge_point_id="CP-A", password=PASSWORD, connectors=1)
    async with SimulatedCharger(config) as charger:
        await a.settle()
        nodes = {
            r["connected_node"]
            for r in await a.fetch("SELECT connected_node FROM charge_points WHERE online")
        }
        assert len(nodes) == 1
        # Asked through B's API, run by A on its connection, answered back through B.
        reply = await b.api(
            "POST",
            "/charge-points/CP-A/commands/get-configuration",
            {"keys": ["HeartbeatInterval"]},
            expect=200,
        )
        assert reply["configuration_key"][0]["key"] == "HeartbeatInterval"
        assert [a for a, _ in charger.received_calls] == ["GetConfiguration"]
        error = await b.api(
            "POST",
            "/charge-points/CP-A/commands/trigger-message",
            {"message": "NoSuchMessage"},
            expect=400,
        )
        assert error["error"]["field"] == "message"  # errors travel back typed
        assert await a.fetchval("SELECT count(*) FROM command_relay") == 0

        # The charger reconnects to B: B takes over, A closes its stale connection.
        moved = ChargerConfig(
            url=b.ocpp_url, charge_point_id="CP-A", password=PASSWORD, connectors=1
        )
        async with SimulatedCharger(moved) as again:
            for _ in range(50):
                owner = await a.fetchval("SELECT connected_node FROM charge_points")
                if owner not in nodes and not charger.connected:
                    break
                await asyncio.sleep(0.05)
            assert owner not in nodes
            assert not charger.connected
            reply = await a.api("POST", "/charge-points/CP-A/commands/clear-cache", {}, expect=200)
            assert reply == {"status": "Accepted"}
            assert [c for c, _ in again.received_calls] == ["ClearCache"]
            assert await a.fetchval("SELECT online FROM charge_points") is True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_serve_with_two_workers_shares_the_ports(
    pool: asyncpg.Pool, database_url: str
) -> None:
    ocpp_port, api_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "CSMS_DATABASE_URL": database_url,
        "CSMS_HOST": "127.0.0.1",
        "CSMS_OCPP_PORT": str(ocpp_port),
        "CSMS_API_PORT": str(api_port),
        "CSMS_ADMIN_TOKEN": ADMIN_TOKEN,
        "CSMS_LOG_LEVEL": "warning",
    }
    process = subprocess.Popen(  # noqa: ASYNC220 - once, waited on with a timeout
        [sys.executable, "-m", "csms", "serve", "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while await pool.fetchval("SELECT count(*) FROM nodes") < 2:
            assert process.poll() is None and time.monotonic() < deadline
            await asyncio.sleep(0.1)
        api = f"http://127.0.0.1:{api_port}/api/v1"
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            for index in range(6):
                async with http.post(
                    f"{api}/charge-points", json={"id": f"W-{index}", "password": PASSWORD}
                ) as reply:
                    assert reply.status == 201
        chargers = [
            SimulatedCharger(
                ChargerConfig(
                    url=f"ws://127.0.0.1:{ocpp_port}/ocpp",
                    charge_point_id=f"W-{i}",
                    password=PASSWORD,
                    connectors=1,
                )
            )
            for i in range(6)
        ]
        for charger in chargers:
            await charger.connect()
        try:
            # A fresh connection per request, so requests land on either worker.
            for charger in chargers:
                connector = aiohttp.TCPConnector(force_close=True)
                async with (
                    aiohttp.ClientSession(headers=headers, connector=connector) as http,
                    http.post(
                        f"{api}/charge-points/{charger.config.charge_point_id}"
                        "/commands/clear-cache",
                        json={},
                    ) as reply,
                ):
                    assert reply.status == 200, await reply.text()
                    assert await reply.json() == {"status": "Accepted"}
            assert all(charger.boot_status == "Accepted" for charger in chargers)
        finally:
            for charger in chargers:
                await charger.aclose()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    assert await pool.fetchval("SELECT count(*) FROM nodes") == 0  # both left cleanly


async def test_workers_exit_when_the_supervisor_is_killed(
    database_url: str, pool: asyncpg.Pool
) -> None:
    ocpp_port = _free_port()
    env = {
        **os.environ,
        "CSMS_DATABASE_URL": database_url,
        "CSMS_HOST": "127.0.0.1",
        "CSMS_OCPP_PORT": str(ocpp_port),
        "CSMS_API_PORT": str(_free_port()),
        "CSMS_ADMIN_TOKEN": ADMIN_TOKEN,
        "CSMS_LOG_LEVEL": "warning",
    }
    process = subprocess.Popen(  # noqa: ASYNC220 - once, waited on with a timeout
        [sys.executable, "-m", "csms", "serve", "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while await pool.fetchval("SELECT count(*) FROM nodes") < 2:
            assert process.poll() is None and time.monotonic() < deadline
            await asyncio.sleep(0.1)
        process.kill()  # SIGKILL: the supervisor gets no chance to stop its workers
        process.wait(10)
        deadline = time.monotonic() + 20
        while True:  # the workers got SIGTERM from the kernel and leave cleanly
            with socket.socket() as sock:
                listening = sock.connect_ex(("127.0.0.1", ocpp_port)) == 0
            if not listening and await pool.fetchval("SELECT count(*) FROM nodes") == 0:
                break
            assert time.monotonic() < deadline, "workers outlived their supervisor"
            await asyncio.sleep(0.2)
    finally:
        if process.poll() is None:
            process.kill()
