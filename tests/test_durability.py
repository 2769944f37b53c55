"""The durability promise: kill the server with SIGKILL under load, restart it, and every
message it acknowledged is in the database exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime

import asyncpg
import pytest

from bench.loadgen import LoadSpec, run_load
from csms.passwords import hash_password_sync

pytestmark = pytest.mark.slow

PASSWORD = "durability-password-1"
CHARGERS = 40


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(database_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CSMS_DATABASE_URL": database_url,
        "CSMS_HOST": "127.0.0.1",
        "CSMS_OCPP_PORT": str(port),
        "CSMS_API_PORT": str(_free_port()),
        "CSMS_ADMIN_TOKEN": "durability-admin",
        "CSMS_LOG_LEVEL": "warning",
        "CSMS_LOG_FORMAT": "json",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "csms", "serve", "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process
        assert process.poll() is None, "server exited"
        time.sleep(0.1)
    process.kill()
    raise TimeoutError("server did not listen")


@pytest.fixture
def server_process() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(10)


async def test_acknowledged_meter_values_survive_sigkill_exactly_once(
    pool: asyncpg.Pool, database_url: str, server_process: list[subprocess.Popen[bytes]]
) -> None:
    ids = [f"DUR-{i:05d}" for i in range(CHARGERS)]
    digest = hash_password_sync(PASSWORD)
    async with pool.acquire() as conn:
        await conn.copy_records_to_table(
            "charge_points", records=[(i, digest) for i in ids], columns=["id", "password_hash"]
        )
    port = _free_port()
    server_process.append(_start(database_url, port))
    spec = LoadSpec(
        url=f"ws://127.0.0.1:{port}/ocpp",
        chargers=CHARGERS,
        mix="meter",
        duration_s=6,
        warmup_s=0,
        password=PASSWORD,
        id_prefix="DUR",
        call_timeout_s=5,
    )
    load = asyncio.create_task(run_load(spec))
    await asyncio.sleep(2.5)  # under load...
    server_process[0].send_signal(signal.SIGKILL)
    result = await load
    assert len(result.acked) > 200, "the load did not get going before the kill"
    assert result.failed > 0, "the kill did not interrupt the load"

    # Restart on the same database: startup must cope with what the kill left behind.
    server_process.append(_start(database_url, port))
    rows = await pool.fetch(
        "SELECT charge_point_id, sampled_at, count(*) AS n FROM meter_samples "
        "WHERE measurand = 'Energy.Active.Import.Register' AND phase = '' "
        "AND context = 'Sample.Periodic' GROUP BY charge_point_id, sampled_at"
    )
    stored = {(r["charge_point_id"], r["sampled_at"]): r["n"] for r in rows}
    acked = [
        (charger, datetime.fromisoformat(at.replace("Z", "+00:00")))
        for charger, at in result.acked
        if at
    ]
    missing = [key for key in acked if key not in stored]
    assert missing == []
    assert all(n == 1 for n in stored.values())
    # Replay what a charger would re-send after reconnecting: still exactly once.
    again = await run_load(LoadSpec(**{**spec.__dict__, "duration_s": 1.0}))
    assert again.failed == 0 and again.ok > 0
    counts = await pool.fetch(
        "SELECT count(*) AS n FROM meter_samples WHERE measurand = "
        "'Energy.Active.Import.Register' AND phase = '' AND context = 'Sample.Periodic' "
        "GROUP BY charge_point_id, sampled_at HAVING count(*) > 1"
    )
    assert counts == []
