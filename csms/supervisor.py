"""``csms serve --workers N``: N server processes sharing the OCPP and admin ports.

The parent prepares what must happen once (the embedded database if no DSN is set,
migrations, the first-start admin token) and then runs N children, each a complete server
(``csms serve --workers 1``) with SO_REUSEPORT on both ports, so the kernel spreads new
connections over them. Commands reach a charger whichever child holds its connection
(see :mod:`csms.cluster`). A child that dies is restarted after a short pause; SIGTERM is
passed on to the children, and the database is stopped after they exit.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import sys

from csms.admin import ensure_admin_token
from csms.config import Settings
from csms.database import EmbeddedPostgres, apply_migrations, create_pool
from csms.logs import get_logger

__all__ = ["supervise"]

log = get_logger(__name__)

RESTART_PAUSE_S = 1.0


async def _prepare(dsn: str, settings: Settings) -> str | None:
    """Migrate and make sure an admin token exists; return it if it was just generated."""
    pool = await create_pool(dsn, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn)
        configured = settings.admin_token.get_secret_value() if settings.admin_token else None
        _, generated = await ensure_admin_token(pool, configured)
        return generated
    finally:
        await pool.close()


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the supervisor dies, even by SIGKILL, so
    no orphaned server keeps the ports (Linux; elsewhere the children outlive it)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


async def _child(dsn: str, index: int, stop: asyncio.Event) -> None:
    """Keep one worker process running until ``stop``."""
    env = {**os.environ, "CSMS_DATABASE_URL": dsn, "CSMS_REUSE_PORT": "true", "CSMS_WORKERS": "1"}
    while not stop.is_set():
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "csms",
            "serve",
            "--workers",
            "1",
            env=env,
            preexec_fn=_die_with_parent,
        )
        log.info("worker_started", worker=index, pid=process.pid)
        waiting = asyncio.ensure_future(process.wait())
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if stop.is_set():
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(waiting, 30)
                except TimeoutError:
                    process.kill()
                    await waiting
            return
        log.error("worker_exited", worker=index, pid=process.pid, code=process.returncode)
        await asyncio.sleep(RESTART_PAUSE_S)


async def supervise(settings: Settings, workers: int, dsn: str | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    embedded = None
    if dsn is None:
        embedded = EmbeddedPostgres(settings.data_dir)
        dsn = await embedded.astart()
    try:
        generated = await _prepare(dsn, settings)
        if generated:
            print(
                f"Admin API token (shown once, store it): {generated}", file=sys.stderr, flush=True
            )
        log.info("workers_starting", workers=workers)
        async with asyncio.TaskGroup() as group:
            for index in range(workers):
                group.create_task(_child(dsn, index, stop))
    finally:
        if embedded is not None:
            await embedded.astop()
        log.info("workers_stopped")
