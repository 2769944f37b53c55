"""Start the three servers the benchmarks compare, as subprocesses, and measure them.

* ``ours``: ``csms serve`` on a fresh embedded PostgreSQL (everything persisted);
* ``baseline``: ``bench/baseline_ocpp.py``, the bare ``ocpp``-library central system;
* ``echo``: ``bench/echo_server.py``, the raw websockets ceiling.

CPU time is the process's own plus, for ours, the PostgreSQL server's (persisting is part
of the cost). Memory is the server process's resident set.
"""

from __future__ import annotations

import asyncio
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import psutil

from csms.database import EmbeddedPostgres, apply_migrations
from csms.passwords import hash_password_sync

HERE = Path(__file__).resolve().parent
PASSWORD = "bench-password-0001"
ADMIN_TOKEN = "bench-admin-token"


def raise_open_file_limit(wanted: int = 200_000) -> int:
    """Enough descriptors for tens of thousands of sockets in the client and the servers it
    starts (they inherit the limit). Raising the hard limit needs root; otherwise the soft
    limit goes up to the hard one."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
    except (ValueError, PermissionError):
        target = hard if hard != resource.RLIM_INFINITY else wanted
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    extra_pids: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"

    def _processes(self, pids: list[int] | None = None) -> list[psutil.Process]:
        found = []
        for pid in pids if pids is not None else [self.process.pid, *self.extra_pids]:
            try:
                proc = psutil.Process(pid)
                found.append(proc)
                found.extend(proc.children(recursive=True))
            except psutil.NoSuchProcess:
                continue
        return found

    def cpu_seconds(self, *, database_only: bool = False) -> float:
        """CPU time of the server and its database, or of the database alone."""
        total = 0.0
        for proc in self._processes(self.extra_pids if database_only else None):
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                continue
        return total

    def rss_bytes(self) -> int:
        """Resident memory of the server's own processes (not PostgreSQL's)."""
        total = 0
        try:
            proc = psutil.Process(self.process.pid)
            total += proc.memory_info().rss
            for child in proc.children(recursive=True):
                total += child.memory_info().rss
        except psutil.NoSuchProcess:
            pass
        return total

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port}")


def start_script(name: str, script: str) -> Server:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own scripts
        [sys.executable, str(HERE / script), "--port", str(port)],
        stdout=subprocess.DEVNULL,
    )
    _wait_listening(port, process)
    return Server(name, port, process)


class Database:
    """An embedded PostgreSQL for our server, with the chargers registered up front."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="csms-bench-")
        self._pg = EmbeddedPostgres(Path(self._tmp.name), delete_on_stop=True)
        self.dsn = self._pg.start()

    def pids(self) -> list[int]:
        return [
            p.pid
            for p in psutil.process_iter(["cmdline"])
            if p.info["cmdline"] and any(self._tmp.name in part for part in p.info["cmdline"])
        ]

    async def prepare(self, charge_point_ids: list[str]) -> None:
        """Migrate, empty the tables, register the chargers (one hash: one password)."""
        conn = await asyncpg.connect(self.dsn)
        try:
            await apply_migrations(conn)
            await conn.execute(
                "TRUNCATE meter_samples, transaction_events, sessions, message_log, "
                "connector_status_history, connectors, charge_point_events, charge_points "
                "CASCADE"
            )
            digest = hash_password_sync(PASSWORD)
            await conn.copy_records_to_table(
                "charge_points",
                records=[(i, digest) for i in charge_point_ids],
                columns=["id", "password_hash"],
            )
        finally:
            await conn.close()

    async def count(self, query: str) -> int:
        conn = await asyncpg.connect(self.dsn)
        try:
            value: int = await conn.fetchval(query)
            return value
        finally:
            await conn.close()

    def close(self) -> None:
        self._pg.stop()
        self._tmp.cleanup()


def start_ours(
    database: Database, *, workers: int = 1, extra_env: dict[str, str] | None = None
) -> Server:
    port, api_port = free_port(), free_port()
    env = {
        **os.environ,
        "CSMS_DATABASE_URL": database.dsn,
        "CSMS_HOST": "127.0.0.1",
        "CSMS_OCPP_PORT": str(port),
        "CSMS_API_PORT": str(api_port),
        "CSMS_ADMIN_TOKEN": ADMIN_TOKEN,
        "CSMS_LOG_LEVEL": "warning",
        "CSMS_LOG_FORMAT": "json",
        "CSMS_WS_PING_INTERVAL_S": "0",
        "CSMS_DB_POOL_MAX": "20",
        **(extra_env or {}),
    }
    command = [sys.executable, "-m", "csms", "serve", "--workers", str(workers)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)  # noqa: S603
    _wait_listening(port, process)
    return Server("ours", port, process, extra_pids=database.pids())


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]
