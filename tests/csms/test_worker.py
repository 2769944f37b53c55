from __future__ import annotations

from typing import Any

import asyncpg

from csms.store import jobs
from csms.worker import Worker
from tests.conftest import FakeClock


async def test_jobs_run_once_retry_with_backoff_and_give_up(
    pool: asyncpg.Pool, clock: FakeClock
) -> None:
    seen: list[dict[str, Any]] = []
    failures = {"count": 0}

    async def ok(payload: dict[str, Any]) -> None:
        seen.append(payload)

    async def flaky(payload: dict[str, Any]) -> None:
        failures["count"] += 1
        raise RuntimeError("remote is down")

    async with pool.acquire() as conn:
        assert await jobs.enqueue(conn, "ok", {"n": 1}, dedupe_key="ok-1", run_at=clock())
        assert not await jobs.enqueue(conn, "ok", {"n": 1}, dedupe_key="ok-1", run_at=clock())
        await jobs.enqueue(conn, "flaky", {}, dedupe_key="flaky-1", run_at=clock(), max_attempts=2)
        await jobs.enqueue(conn, "nobody", {}, run_at=clock())
    worker = Worker(pool, clock, {"ok": ok, "flaky": flaky}, base_backoff_s=10)

    assert await worker.run_once() and await worker.run_once() and await worker.run_once()
    assert not await worker.run_once()  # the flaky one waits for its backoff
    assert seen == [{"n": 1}]
    clock.advance(10)
    assert await worker.run_once()
    assert not await worker.run_once()
    rows = {
        r["kind"]: r
        for r in await pool.fetch("SELECT kind, status, attempts, last_error FROM jobs")
    }
    assert rows["ok"]["status"] == "done"
    assert (rows["flaky"]["status"], rows["flaky"]["attempts"]) == ("failed", 2)
    assert "remote is down" in rows["flaky"]["last_error"]
    assert rows["nobody"]["status"] == "failed"
    assert failures["count"] == 2
