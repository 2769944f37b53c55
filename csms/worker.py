"""The follow-up worker: runs jobs written to the ``jobs`` table by services.

Slow or remote work (Smartcar calls, payments, calls to chargers) is never done inside an
OCPP handler; the handler's transaction enqueues a job instead. The worker claims one due
job at a time with ``FOR UPDATE SKIP LOCKED`` (so several workers can share the table),
runs its handler while holding the row, and finishes it or schedules a retry with
exponential backoff. A job whose kind has no handler fails at once, visibly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

import asyncpg

from csms.clock import Clock
from csms.logs import get_logger
from csms.store import jobs

__all__ = ["JobHandler", "Worker"]

log = get_logger(__name__)

JobHandler = Callable[[dict[str, Any]], Awaitable[None]]


class Worker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        clock: Clock,
        handlers: Mapping[str, JobHandler],
        *,
        poll_interval_s: float = 1.0,
        base_backoff_s: float = 2.0,
        max_backoff_s: float = 600.0,
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._handlers = dict(handlers)
        self._poll = poll_interval_s
        self._base = base_backoff_s
        self._max = max_backoff_s

    async def run_once(self) -> bool:
        """Run one due job, if any; return whether one ran."""
        async with self._pool.acquire() as conn, conn.transaction():
            job = await jobs.claim_due(conn, now=self._clock())
            if job is None:
                return False
            bound = log.bind(job_id=job["id"], kind=job["kind"], attempt=job["attempts"] + 1)
            handler = self._handlers.get(job["kind"])
            if handler is None:
                bound.error("job_kind_unknown")
                await jobs.retry_later(
                    conn,
                    job["id"],
                    error="no handler for this kind",
                    run_at=self._clock(),
                    give_up=True,
                )
                return True
            try:
                await handler(job["payload"])
            except Exception as exc:  # a failed job is retried, never lost
                attempts = job["attempts"] + 1
                give_up = attempts >= job["max_attempts"]
                delay = min(self._max, self._base * 2 ** (attempts - 1))
                bound.warning("job_failed", error=repr(exc), give_up=give_up, retry_in_s=delay)
                await jobs.retry_later(
                    conn,
                    job["id"],
                    error=repr(exc)[:2000],
                    run_at=self._clock() + timedelta(seconds=delay),
                    give_up=give_up,
                )
                return True
            await jobs.finish(conn, job["id"])
            bound.info("job_done")
            return True

    async def run(self) -> None:
        """Run jobs until cancelled; sleep between polls when nothing is due."""
        while True:
            try:
                ran = await self.run_once()
            except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
                log.warning("worker_database_error", error=str(exc))
                ran = False
            if not ran:
                await asyncio.sleep(self._poll)
