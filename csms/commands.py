"""Live connections, and commands from the operator to chargers.

Commands run in the admin API's request task, never inside a charger's own handler.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, is_dataclass
from typing import Any

import asyncpg
from ocpp.exceptions import OCPPError, UnknownCallErrorCodeError
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from csms import command_models as m
from csms import (
    firmware,
    local_list,
    reservations,
    smart_charging,
    v16_commands,
    v201_commands,
)
from csms.cluster import Cluster
from csms.errors import (
    ChargerCallError,
    ChargerNotConnected,
    ChargerTimeout,
    Conflict,
    NotFound,
)
from csms.logs import get_logger
from csms.protocol import OcppEndpoint
from csms.store import sessions as session_store

__all__ = ["CommandService", "Connections"]

log = get_logger(__name__)


class Connections:
    """Which endpoint currently speaks for each charger in this process."""

    def __init__(self) -> None:
        self._by_id: dict[str, OcppEndpoint] = {}

    def register(self, endpoint: OcppEndpoint) -> OcppEndpoint | None:
        """Make ``endpoint`` current; return the one it replaces, if any."""
        previous = self._by_id.get(endpoint.id)
        self._by_id[endpoint.id] = endpoint
        return previous

    def unregister(self, endpoint: OcppEndpoint) -> bool:
        """Forget ``endpoint`` if it is still current (a replaced one is not)."""
        if self._by_id.get(endpoint.id) is endpoint:
            del self._by_id[endpoint.id]
            return True
        return False

    def get(self, charge_point_id: str) -> OcppEndpoint | None:
        return self._by_id.get(charge_point_id)

    def __contains__(self, charge_point_id: object) -> bool:
        return charge_point_id in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)

    @staticmethod
    async def close(endpoint: OcppEndpoint, reason: str) -> None:
        """Close an endpoint's websocket (cleanly if the charger answers in 5 s)."""
        connection: ServerConnection = endpoint._connection
        try:
            async with asyncio.timeout(5):
                await connection.close(1000, reason)
        except TimeoutError:
            connection.transport.abort()

    async def close_stale(self, charge_point_id: str) -> None:
        """The charger reconnected to another node: drop the connection held here."""
        endpoint = self._by_id.get(charge_point_id)
        if endpoint is not None:
            log.info("connection_taken_over", charge_point_id=charge_point_id)
            await self.close(endpoint, "connected to another server")


def _snake(result: Any) -> dict[str, Any]:
    if is_dataclass(result) and not isinstance(result, type):
        raw = asdict(result)
    else:
        raw = dict(result or {})
    return {k: v for k, v in raw.items() if v is not None}


class CommandService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        connections: Connections,
        *,
        timeout_s: float,
        cluster: Cluster | None = None,
    ) -> None:
        self._pool = pool
        self._connections = connections
        self._timeout = timeout_s
        self._cluster = cluster
        if cluster is not None:
            cluster.attach(self.execute_local, connections.close_stale)

    async def execute(
        self, charge_point_id: str, command: str, body: m.CommandBody
    ) -> dict[str, Any]:
        """Send a command and return the charger's reply (snake_case keys).

        Raises:
            ChargerNotConnected: the charger has no live connection here.
            CommandNotSupported: its protocol version has no such command.
            NotFound, Conflict: remote-stop names no active session of this charger.
            ChargerCallError: it answered with a CALLERROR.
            ChargerTimeout: it did not answer in time.
        """
        endpoint = self._connections.get(charge_point_id)
        if endpoint is None:
            node = None if self._cluster is None else await self._cluster.owner(charge_point_id)
            if self._cluster is None or node is None or node == self._cluster.node_id:
                raise ChargerNotConnected(f"charge point {charge_point_id} is not connected")
            # Connected to another server process: relay the command to it.
            return await self._cluster.relay(
                node,
                charge_point_id,
                command,
                body.model_dump(mode="json"),
                timeout_s=self._timeout + 5,
            )
        return await self._run(endpoint, charge_point_id, command, body)

    async def execute_local(
        self, charge_point_id: str, command: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Run a command relayed from another node on the connection held here."""
        endpoint = self._connections.get(charge_point_id)
        if endpoint is None:
            raise ChargerNotConnected(f"charge point {charge_point_id} is not connected")
        return await self._run(
            endpoint, charge_point_id, command, m.COMMAND_BODIES[command].model_validate(body)
        )

    async def _run(
        self, endpoint: OcppEndpoint, charge_point_id: str, command: str, body: m.CommandBody
    ) -> dict[str, Any]:
        body = await reservations.assign_id(self._pool, body)
        body = await local_list.resolve(self._pool, body)
        body = await firmware.assign_request_id(self._pool, endpoint.ocpp_version, body)
        body = await smart_charging.assign(self._pool, endpoint.ocpp_version, body)
        transaction_id = await self._transaction_of(charge_point_id, body)
        request = await self._request(endpoint, charge_point_id, body, transaction_id)
        await reservations.record_request(self._pool, charge_point_id, endpoint.ocpp_version, body)
        bound = log.bind(charge_point_id=charge_point_id, command=command)
        try:
            async with asyncio.timeout(self._timeout):
                result = await endpoint.call(request, suppress=False)
        except TimeoutError as exc:
            bound.warning("command_timed_out")
            raise ChargerTimeout(
                f"{charge_point_id} did not answer {command} in {self._timeout:g} s"
            ) from exc
        except OCPPError as exc:
            bound.warning("command_call_error", code=exc.code)
            raise ChargerCallError(exc.code, exc.description) from exc
        except UnknownCallErrorCodeError as exc:
            # A CALLERROR code the ocpp library has no class for (e.g. RpcFrameworkError).
            raise ChargerCallError("UnknownErrorCode", str(exc)) from exc
        except ConnectionClosed as exc:
            raise ChargerNotConnected(f"{charge_point_id} disconnected during {command}") from exc
        bound.info("command_answered")
        reply = _snake(result)
        await local_list.record_answer(self._pool, charge_point_id, body, reply)
        reply = firmware.annotate_reply(body, request, reply)
        reply = await smart_charging.record_answer(
            self._pool, charge_point_id, endpoint.ocpp_version, body, transaction_id, reply
        )
        return await reservations.record_answer(self._pool, charge_point_id, body, reply)

    async def _transaction_of(self, charge_point_id: str, body: m.CommandBody) -> str | None:
        """The transaction a remote-stop or a set-charging-profile names by its session."""
        if isinstance(body, m.RemoteStop):
            return await self._active_transaction(charge_point_id, body.session_id)
        if isinstance(body, m.SetChargingProfile) and body.session_id is not None:
            return await self._active_transaction(charge_point_id, body.session_id)
        return None

    async def _request(
        self,
        endpoint: OcppEndpoint,
        charge_point_id: str,
        body: m.CommandBody,
        transaction_id: str | None,
    ) -> Any:
        """The request of the charger's protocol version for a neutral command body."""
        if endpoint.ocpp_version == "1.6":
            return v16_commands.build(body, transaction_id)
        remote_start_id = None
        if isinstance(body, m.RemoteStart):
            async with self._pool.acquire() as conn:
                remote_start_id = await session_store.next_remote_start_id(conn)
        id_token_type = None
        if isinstance(body, m.ReserveNow):
            id_token_type = await reservations.id_token_type(self._pool, body.id_token)
        return v201_commands.build(
            body,
            transaction_id=transaction_id,
            remote_start_id=remote_start_id,
            id_token_type=id_token_type,
            id_token_types=await local_list.token_types(self._pool, body),
            request_id=(
                await firmware.next_request_id(self._pool)
                if isinstance(body, m.GetDiagnostics)
                else None
            ),
        )

    async def _active_transaction(self, charge_point_id: str, session_id: int) -> str:
        async with self._pool.acquire() as conn:
            session = await session_store.get(conn, session_id)
        if session is None or session["charge_point_id"] != charge_point_id:
            raise NotFound(
                f"session {session_id} of {charge_point_id} not found", field="session_id"
            )
        if session["status"] != "active":
            raise Conflict(f"session {session_id} is {session['status']}", field="session_id")
        transaction_id: str = session["transaction_id"]
        return transaction_id
