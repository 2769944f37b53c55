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
from typing import Any, NamedTuple, Protocol, TypeVar

import asyncpg

from csms.logs import get_logger

__all__ = ["Batcher", "Committer", "DirectCommit", "GroupCommit", "Work", "single_statement"]

log = get_logger(__name__)

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - the item type of a batcher
Work = Callable[[asyncpg.Connection], Awaitable[T]]
# Writes many items of one kind with a few statements; one result per item, in order.
Batcher = Callable[[asyncpg.Connection, list[I]], Awaitable[list[T]]]


_SINGLE_STATEMENT = "_csms_single_statement"
B = TypeVar("B", bound=Callable[..., Any])


def single_statement(batcher: B) -> B:
    """Mark a batcher that writes with one statement: a batch made only of its items runs
    without BEGIN/COMMIT (one statement is atomic and commits by itself)."""
    setattr(batcher, _SINGLE_STATEMENT, True)
    return batcher


class Committer(Protocol):
    async def run(self, work: Work[T]) -> T: ...

    async def run_batched(self, batcher: Batcher[I, T], item: I) -> T: ...


class DirectCommit:
    """One transaction per piece of work on a pooled connection (no batching)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def run(self, work: Work[T]) -> T:
        async with self._pool.acquire() as conn, conn.transaction():
            return await work(conn)

    async def run_batched(self, batcher: Batcher[I, T], item: I) -> T:
        async with self._pool.acquire() as conn, conn.transaction():
            (result,) = await batcher(conn, [item])
            return result


class GroupCommit:
    def __init__(self, pool: asyncpg.Pool, *, writers: int = 2, max_batch: int = 500) -> None:
        self._pool = pool
        self._writers = writers
        self._max_batch = max_batch
        self._queue: deque[_Entry] = deque()
        self._ready = asyncio.Event()

    async def run(self, work: Work[T]) -> T:
        result: T = await self._enqueue(work, None, None)
        return result

    async def run_batched(self, batcher: Batcher[I, T], item: I) -> T:
        """Like :meth:`run`, but items of the same batcher in one batch are written
        together by a single call of the batcher."""
        result: T = await self._enqueue(None, batcher, item)
        return result

    async def _enqueue(
        self, work: Work[Any] | None, batcher: Batcher[Any, Any] | None, item: Any
    ) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append(_Entry(work, batcher, item, future))
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

    async def _take(self) -> list[_Entry]:
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
        batch: list[_Entry] = []
        while self._queue and len(batch) < self._max_batch:
            entry = self._queue.popleft()
            if not entry.future.done():  # its handler may have been cancelled meanwhile
                batch.append(entry)
        return batch

    async def _commit(self, conn: asyncpg.Connection, batch: list[_Entry]) -> None:
        if not batch:
            return
        try:
            if _is_one_statement(batch):
                # One statement is atomic and commits by itself: one round trip, not four.
                results = await _execute(conn, batch)
            else:
                async with conn.transaction():
                    results = await _execute(conn, batch)
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError):
            self._requeue(batch)
            raise
        except Exception:
            await self._one_by_one(conn, batch)
            return
        for entry, result in zip(batch, results, strict=True):
            if not entry.future.done():
                entry.future.set_result(result)

    async def _one_by_one(self, conn: asyncpg.Connection, batch: list[_Entry]) -> None:
        for index, entry in enumerate(batch):
            try:
                async with conn.transaction():
                    (result,) = await _execute(conn, [entry])
            except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError):
                self._requeue(batch[index:])
                raise
            except Exception as exc:
                if not entry.future.done():
                    entry.future.set_exception(exc)
                continue
            if not entry.future.done():
                entry.future.set_result(result)

    def _requeue(self, batch: list[_Entry]) -> None:
        """Put work back in front after a lost connection: nothing is acknowledged."""
        self._queue.extendleft(reversed(batch))
        self._ready.set()


class _Entry(NamedTuple):
    work: Work[Any] | None
    batcher: Batcher[Any, Any] | None
    item: Any
    future: asyncio.Future[Any]


def _is_one_statement(batch: list[_Entry]) -> bool:
    """True when the whole batch is one batcher that writes with a single statement."""
    first = batch[0].batcher
    return (
        first is not None
        and getattr(first, _SINGLE_STATEMENT, False)
        and all(entry.batcher is first for entry in batch)
    )


async def _execute(conn: asyncpg.Connection, batch: list[_Entry]) -> list[Any]:
    """Run a batch on one connection: plain work in order, then each batcher once with
    all of its items. (Items of one charger never share a batch: a charger waits for each
    answer before it sends the next message.)"""
    results: list[Any] = [None] * len(batch)
    groups: dict[Batcher[Any, Any], list[int]] = {}
    for index, entry in enumerate(batch):
        if entry.work is not None:
            results[index] = await entry.work(conn)
        else:
            assert entry.batcher is not None
            groups.setdefault(entry.batcher, []).append(index)
    for batcher, indexes in groups.items():
        outcomes = await batcher(conn, [batch[i].item for i in indexes])
        for index, outcome in zip(indexes, outcomes, strict=True):
            results[index] = outcome
    return results
