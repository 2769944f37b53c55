"""Group commit: concurrent work shares transactions, results arrive after commit, and one
failing piece of work fails only itself."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from csms.commit import GroupCommit


async def test_batches_commit_together_and_failures_stay_isolated(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE gc_probe (n integer PRIMARY KEY)")
    commit = GroupCommit(pool, writers=1)
    writers = asyncio.create_task(commit.serve())
    seen_transactions: set[int] = set()

    def insert(n: int) -> Callable[[asyncpg.Connection], Awaitable[int]]:
        async def work(conn: asyncpg.Connection) -> int:
            seen_transactions.add(await conn.fetchval("SELECT txid_current()"))
            await conn.execute("INSERT INTO gc_probe VALUES ($1)", n)
            return n

        return work

    try:
        results = await asyncio.gather(
            *(commit.run(insert(n)) for n in [1, 2, 3, 2, 4, 5]), return_exceptions=True
        )
    finally:
        writers.cancel()
        with pytest.raises(asyncio.CancelledError):
            await writers
    assert results[:3] == [1, 2, 3] and results[4:] == [4, 5]
    assert isinstance(results[3], asyncpg.UniqueViolationError)  # the duplicate, alone
    rows = [r["n"] for r in await pool.fetch("SELECT n FROM gc_probe ORDER BY n")]
    assert rows == [1, 2, 3, 4, 5]
    # The first attempt put all six in one transaction; the retry ran each alone.
    assert len(seen_transactions) == 1 + 6
