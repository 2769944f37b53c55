"""Several server processes, on one host or many, sharing one PostgreSQL.

Each process is a *node*: it registers in the ``nodes`` table, heartbeats, and on every
heartbeat sets chargers offline whose node stopped heartbeating (killed, host lost). A
charger's live connection belongs to the node that accepted it (``connected_node``).

A command from the admin API may arrive at any node (the API port is shared too). When the
charger is connected elsewhere, the command is written to ``command_relay`` and the owner
is woken with NOTIFY; it runs the command on its connection, writes the outcome in the same
row and NOTIFYs back. When a charger reconnects to another node, that node announces it and
the previous owner closes its stale connection.

Channels: ``csms_relay`` (payload ``node:relay_id``), ``csms_relay_done`` (``relay_id``),
``csms_takeover`` (``node:charge_point_id``).
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from csms import errors
from csms.logs import get_logger
from csms.store import cluster as store

__all__ = ["Cluster", "LocalExecutor"]

log = get_logger(__name__)

# Runs a command on a connection held by this node: (charge point, command, body) -> reply.
LocalExecutor = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]
# Closes this node's connection of a charger that reconnected to another node.
LocalCloser = Callable[[str], Awaitable[None]]

_RELAY, _DONE, _TAKEOVER = "csms_relay", "csms_relay_done", "csms_takeover"


class Cluster:
    def __init__(
        self, pool: asyncpg.Pool, *, heartbeat_s: float = 5.0, stale_after_s: float = 30.0
    ) -> None:
        self.node_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._pool = pool
        self._heartbeat_s = heartbeat_s
        self._stale_after_s = stale_after_s
        self._listener: asyncpg.Connection | None = None
        self._waiters: dict[str, asyncio.Future[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._executor: LocalExecutor | None = None
        self._closer: LocalCloser | None = None

    def attach(self, executor: LocalExecutor, closer: LocalCloser) -> None:
        self._executor = executor
        self._closer = closer

    async def start(self) -> None:
        """Register this node, take over from dead ones, and listen."""
        async with self._pool.acquire() as conn:
            await store.register_node(conn, self.node_id, socket.gethostname(), os.getpid())
            await store.reap(conn, self._stale_after_s)
        listener = await self._pool.acquire()
        for channel, callback in self._channels():
            await listener.add_listener(channel, callback)
        self._listener = listener

    def _channels(self) -> tuple[tuple[str, Callable[[Any, int, str, str], None]], ...]:
        return (
            (_RELAY, self._on_relay),
            (_DONE, self._on_done),
            (_TAKEOVER, self._on_takeover),
        )

    async def run(self) -> None:
        """Heartbeat and reap until cancelled."""
        while True:
            await asyncio.sleep(self._heartbeat_s)
            try:
                async with self._pool.acquire() as conn:
                    await store.heartbeat(conn, self.node_id)
                    reaped = await store.reap(conn, self._stale_after_s)
                if reaped:
                    log.warning("chargers_of_dead_nodes_offline", count=reaped)
            except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
                log.warning("cluster_heartbeat_failed", error=str(exc))

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._listener is not None:
            for channel, callback in self._channels():
                await self._listener.remove_listener(channel, callback)
            await self._pool.release(self._listener)
            self._listener = None
        async with self._pool.acquire() as conn:
            await store.remove_node(conn, self.node_id)

    async def owner(self, charge_point_id: str) -> str | None:
        async with self._pool.acquire() as conn:
            return await store.owner(conn, charge_point_id)

    async def announce_connection(self, charge_point_id: str) -> None:
        async with self._pool.acquire() as conn:
            await store.notify(conn, _TAKEOVER, f"{self.node_id}\n{charge_point_id}")

    async def relay(
        self,
        node: str,
        charge_point_id: str,
        command: str,
        body: dict[str, Any],
        *,
        timeout_s: float,
    ) -> dict[str, Any]:
        """Run a command on the node holding the charger's connection; its reply or error."""
        async with self._pool.acquire() as conn:
            relay_id = await store.insert_relay(
                conn, node=node, charge_point_id=charge_point_id, command=command, body=body
            )
            done = asyncio.get_running_loop().create_future()
            self._waiters[str(relay_id)] = done
            await store.notify(conn, _RELAY, f"{node}\n{relay_id}")
        try:
            async with asyncio.timeout(timeout_s):
                await done
        except TimeoutError as exc:
            raise errors.ChargerTimeout(
                f"{charge_point_id} (connected to {node}) did not answer {command} in "
                f"{timeout_s:g} s"
            ) from exc
        finally:
            self._waiters.pop(str(relay_id), None)
            async with self._pool.acquire() as conn:
                outcome = await store.take_outcome(conn, relay_id)
                if outcome is None:
                    await store.drop_relay(conn, relay_id)
        if outcome is None:
            raise errors.ChargerTimeout(f"no answer from {node} for {command}")
        return _result(outcome)

    def _on_relay(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        node, _, relay_id = payload.partition("\n")
        if node == self.node_id:
            self._spawn(self._execute(uuid.UUID(relay_id)))

    def _on_done(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        waiter = self._waiters.get(payload)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _on_takeover(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        node, _, charge_point_id = payload.partition("\n")
        if node != self.node_id and self._closer is not None:
            self._spawn(self._closer(charge_point_id))

    def _spawn(self, work: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _execute(self, relay_id: uuid.UUID) -> None:
        async with self._pool.acquire() as conn:
            request = await store.relay_request(conn, relay_id)
        if request is None or self._executor is None:
            return
        try:
            reply = await self._executor(
                request["charge_point_id"], request["command"], request["body"]
            )
            outcome: dict[str, Any] = {"ok": True, "result": reply}
        except errors.CsmsError as exc:
            outcome = {
                "ok": False,
                "error": {
                    "class": type(exc).__name__,
                    "message": exc.message,
                    "field": exc.field,
                    "ocpp_code": getattr(exc, "ocpp_code", None),
                    "description": getattr(exc, "description", None),
                },
            }
        async with self._pool.acquire() as conn:
            await store.set_outcome(conn, relay_id, outcome)
            await store.notify(conn, _DONE, str(relay_id))


def _result(outcome: dict[str, Any]) -> dict[str, Any]:
    """The relayed reply, or the relayed error raised again as the same class."""
    if outcome.get("ok"):
        result: dict[str, Any] = outcome["result"]
        return result
    error = outcome["error"]
    if error["class"] == "ChargerCallError":
        raise errors.ChargerCallError(error["ocpp_code"], error["description"])
    cls = getattr(errors, error["class"], errors.CsmsError)
    if not (isinstance(cls, type) and issubclass(cls, errors.CsmsError)):
        cls = errors.CsmsError
    raise cls(error["message"], field=error["field"])
