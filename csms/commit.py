"""Group commit: the database work of many concurrent OCPP messages in shared transactions.

A service hands its work (an async function of a connection) to :meth:`GroupCommit.run`
and gets the result once the transaction holding that work has committed; only then does
the handler return and the CALLRESULT go out, so an acknowledged message is durable.

Writers each hold one connection and loop: take everything queued, run it in one
transaction, commit, resolve. While one batch commits the next one fills, so under load
a commit (and its WAL flush) serves hundreds of messages and with no load a message waits
for nobody. When a batch fails, say one message violates a constraint, it is rolled back
and each piece of work is retried alone, so one bad message fails only itself.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import asyncpg

from csms.logs import get_logger

__all__ = ["Committer", "DirectCommit", "GroupCommit", "Work"]

log = get_logger(__name__)

T = TypeVar("T")
Work = Callable[[asyncpg.Connection], Awaitable[T]]


class Committer(Protocol):
    async def run(self, work: Work[T]) -> T: ...


class DirectCommit:
    """One transaction per piece of work on a pooled connection (no batching)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def run(self, work: Work[T]) -> T:
        async with self._pool.acquire() as conn, conn.transaction():
            return await work(conn)


class GroupCommit:
    def __init__(self, pool: asyncpg.Pool, *, writers: int = 2, max_batch: int = 500) -> None:
        self._pool = pool
        self._writers = writers
        self._max_batch = max_batch
        self._queue: deque[tuple[Work[Any], asyncio.Future[Any]]] = deque()
        self._ready = asyncio.Event()

    async def run(self, work: Work[T]) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((work, future))
        self._ready.set()
        return await future

    async def serve(self) -> None:
        """Run the writers until cancelled."""
        async with asyncio.TaskGroup() as group:
            for index in range(self._writers):
                group.create_task(self._writer(), name=f"group-commit-{index}")

    async def _writer(self) -> None:
        while True:
            try:
                async with self._pool.acquire() as conn:
                    while True:
                        batch = await self._take()
                        await self._commit(conn, batch)
            except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as exc:
                log.warning("group_commit_connection_lost", error=str(exc))
                await asyncio.sleep(0.1)

    async def _take(self) -> list[tuple[Work[Any], asyncio.Future[Any]]]:
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
        batch: list[tuple[Work[Any], asyncio.Future[Any]]] = []
        while self._queue and len(batch) < self._max_batch:
            work, future = self._queue.popleft()
            if not future.done():  # its handler may have been cancelled meanwhile
                batch.append((work, future))
        return batch

    async def _commit(
        self, conn: asyncpg.Connection, batch: list[tuple[Work[Any], asyncio.Future[Any]]]
    ) -> None:
        if not batch:
            return
        try:
            async with conn.transaction():
                results = [await work(conn) for work, _ in batch]
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError):
            self._requeue(batch)
            raise
        except Exception:
            await self._one_by_one(conn, batch)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _one_by_one(
        self, conn: asyncpg.Connection, batch: list[tuple[Work[Any], asyncio.Future[Any]]]
    ) -> None:
        for index, (work, future) in enumerate(batch):
            try:
                async with conn.transaction():
                    result = await work(conn)
            except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError):
                self._requeue(batch[index:])
                raise
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
                continue
            if not future.done():
                future.set_result(result)

    def _requeue(self, batch: list[tuple[Work[Any], asyncio.Future[Any]]]) -> None:
        """Put work back in front after a lost connection: nothing is acknowledged."""
        self._queue.extendleft(reversed(batch))
        self._ready.set()
