"""Version-neutral runtime of a simulated charger.

Owns the WebSocket connection, the receive loop, the tasks the charger starts and the
raw-frame / call-waiting helpers tests use; the offline queue is in ``replay``. A
protocol version subclass (``v16.SimulatedCharger``, ``v201.SimulatedCharger201``)
supplies the messages. ``connectors`` is keyed by connector id in 1.6 and by EVSE id
in 2.0.1 (one connector per EVSE).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from abc import abstractmethod
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, NegotiationError
from websockets.headers import build_authorization_basic
from websockets.protocol import State
from websockets.typing import Subprotocol

from simulators.charger.local_list import LocalList
from simulators.charger.model import (
    ChargerConfig,
    ChargerOffline,
    ConnectorState,
    EnergyMeter,
    OfflineQueue,
    SessionResult,
)
from simulators.charger.replay import TransactionQueue

logger = logging.getLogger("simulators.charger")

CALL, CALLRESULT, CALLERROR = 2, 3, 4


@dataclass
class _Link:
    """One WebSocket connection and the ocpp ChargePoint bound to it."""

    ws: ClientConnection
    cp: Any
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    intentional_close: bool = False
    accepted: bool = False


def _peek(text: str) -> tuple[int | None, str | None, dict[str, Any]]:
    """Message type, action (for a CALL) and payload of a frame, without validating it."""
    try:
        data = json.loads(text)
    except ValueError:
        return None, None, {}
    if not isinstance(data, list) or not data or not isinstance(data[0], int):
        return None, None, {}
    if data[0] == CALL and len(data) >= 4 and isinstance(data[2], str):
        payload = data[3] if isinstance(data[3], dict) else {}
        return CALL, data[2], payload
    return data[0], None, {}


class BaseCharger(TransactionQueue):
    """Connection lifecycle, task ownership and offline queue; no protocol messages."""

    def __init__(self, config: ChargerConfig, *, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        if config.connectors < 1:
            raise ValueError("a charger needs at least one connector")
        self.config = config
        self.time_scale = time_scale
        self.boot_status: str | None = None
        self.heartbeat_interval: int | None = None
        self.received_calls: list[tuple[str, dict[str, Any]]] = []
        self.connectors: dict[int, ConnectorState] = {
            cid: ConnectorState(cid, EnergyMeter(config.meter_start_wh))
            for cid in range(1, config.connectors + 1)
        }
        self.queue = OfflineQueue()
        self.local_list = LocalList()
        self._aliases = {}
        self._dead_placeholders = set()
        self._tx_lock = asyncio.Lock()
        self._link: _Link | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._link_tasks: set[asyncio.Task[Any]] = set()
        self._heartbeat_task: asyncio.Task[Any] | None = None
        self._call_lock = asyncio.Lock()
        self._connect_lock = asyncio.Lock()
        self._calls_changed = asyncio.Condition()
        self._consumed: dict[str, int] = {}
        self._raw_waiter: asyncio.Future[str | None] | None = None
        self._closing = False

    # -- protocol-specific hooks -------------------------------------------------------

    @abstractmethod
    def _make_charge_point(self, ws: ClientConnection) -> Any:
        """The ocpp library ChargePoint that routes this connection's messages."""

    @abstractmethod
    async def _on_open(self) -> None:
        """Runs once the socket is open: boot, statuses, queue replay."""

    @abstractmethod
    async def heartbeat(self) -> datetime:
        """Send a Heartbeat and return the CSMS time."""

    @abstractmethod
    async def run_session(
        self,
        connector_id: int,
        id_tag: str,
        *,
        duration_s: float | None = None,
        energy_wh: int | None = None,
        meter_samples: int | None = None,
        authorize: bool = True,
    ) -> SessionResult:
        """Plug in, authorize, charge until a limit, stop, unplug.

        The first argument is the connector id (1.6) or the EVSE id (2.0.1).
        """

    @abstractmethod
    async def plug_in(
        self, connector_id: int, *, autocharge_mac: str | None = None, emaid: str | None = None
    ) -> None:
        """A car is plugged in without authorization; the connector (1.6) or EVSE (2.0.1)
        waits for a remote start (or authorizes an Autocharge MAC / eMAID itself)."""

    @abstractmethod
    async def unplug(self, connector_id: int) -> SessionResult | None:
        """The car is unplugged (a running transaction ends with EVDisconnected); the
        result of the plug-in's transaction, if there was one."""

    # -- connection --------------------------------------------------------------------

    def _online(self) -> bool:
        link = self._link
        return link is not None and link.accepted

    @property
    def connected(self) -> bool:
        link = self._link
        return link is not None and link.ws.state is State.OPEN

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def connect(self) -> None:
        """Open the socket, boot, report statuses and replay the offline queue."""
        async with self._connect_lock:
            if self.connected:
                return
            self._closing = False
            headers: dict[str, str] = {}
            if self.config.password is not None:
                headers["Authorization"] = build_authorization_basic(
                    self.config.charge_point_id, self.config.password
                )
            ws = await connect(
                self.config.endpoint,
                subprotocols=[Subprotocol(self.config.protocol)],
                additional_headers=headers or None,
                open_timeout=self.config.call_timeout_s,
                ping_interval=self.config.ping_interval_s,
                close_timeout=2.0,
            )
            if ws.subprotocol != self.config.protocol:
                await ws.close()
                raise NegotiationError(
                    f"server did not accept subprotocol {self.config.protocol!r}"
                )
            link = _Link(ws=ws, cp=self._make_charge_point(ws))
            self._link = link
            self._spawn(self._receive_loop(link), link_scoped=True)
            try:
                await self._on_open()
            except BaseException:
                await self._drop_link(link)
                raise

    async def disconnect(self) -> None:
        """Close the socket cleanly. State (meters, transactions, queue) is kept."""
        link = self._link
        if link is None:
            return
        await self._drop_link(link)

    async def aclose(self) -> None:
        """Disconnect and cancel every task this charger started."""
        self._closing = True
        current = asyncio.current_task()
        # Sessions, follow-ups and reconnects first; the link's own tasks go with it.
        tasks = [t for t in self._tasks if t is not current and t not in self._link_tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.disconnect()

    async def _drop_link(self, link: _Link) -> None:
        link.intentional_close = True
        # A clean close lets the CALL in flight get its reply first (bounded wait).
        try:
            await asyncio.wait_for(self._call_lock.acquire(), self.config.call_timeout_s)
        except TimeoutError:
            locked = False
        else:
            locked = True
        link.accepted = False
        try:
            await self._close_link(link)
        finally:
            if locked:
                self._call_lock.release()

    async def _close_link(self, link: _Link) -> None:
        with contextlib.suppress(Exception):
            await link.ws.close()
        current = asyncio.current_task()
        tasks = [task for task in self._link_tasks if task is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._link is link:
            self._link = None

    async def _receive_loop(self, link: _Link) -> None:
        try:
            async for frame in link.ws:
                text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
                kind, action, payload = _peek(text)
                waiter = self._raw_waiter
                if kind in (CALLRESULT, CALLERROR) and waiter is not None and not waiter.done():
                    waiter.set_result(text)
                    continue
                try:
                    await link.cp.route_message(text)
                except Exception:
                    logger.exception("%s: failed to handle %s", self.config.charge_point_id, text)
                if kind == CALL and action is not None:
                    async with self._calls_changed:
                        self.received_calls.append((action, payload))
                        self._calls_changed.notify_all()
        except ConnectionClosed:
            pass
        finally:
            link.closed.set()
            link.accepted = False
            waiter = self._raw_waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            if not link.intentional_close:
                logger.warning("%s: connection lost", self.config.charge_point_id)
                if self._link is link:
                    self._link = None
                if self.config.auto_reconnect and not self._closing:
                    self._spawn(self._reconnect_loop(self.config.reconnect_delay_s))

    async def _reconnect_loop(self, delay: float) -> None:
        await asyncio.sleep(delay)
        while not self._closing:
            try:
                await self.connect()
            except (OSError, InvalidHandshake, TimeoutError, ChargerOffline) as exc:
                logger.warning("%s: reconnect failed: %s", self.config.charge_point_id, exc)
                await asyncio.sleep(self.config.reconnect_delay_s)
            else:
                return

    # -- tasks -------------------------------------------------------------------------

    def _spawn(
        self, coro: Coroutine[Any, Any, Any], *, link_scoped: bool = False
    ) -> asyncio.Task[Any] | None:
        """Start a task the charger owns (cancelled by aclose, or by disconnect if link-scoped)."""
        if self._closing and not link_scoped:
            coro.close()
            return None
        task = asyncio.get_running_loop().create_task(coro)
        owner = self._link_tasks if link_scoped else self._tasks
        owner.add(task)
        self._tasks.add(task)

        def _done(finished: asyncio.Task[Any]) -> None:
            self._tasks.discard(finished)
            self._link_tasks.discard(finished)
            if not finished.cancelled() and (exc := finished.exception()) is not None:
                logger.error(
                    "%s: task %s failed",
                    self.config.charge_point_id,
                    finished.get_name(),
                    exc_info=exc,
                )

        task.add_done_callback(_done)
        return task

    def _restart_heartbeat(self) -> None:
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
            self._heartbeat_task = None
        if self.config.auto_heartbeat:
            self._heartbeat_task = self._spawn(self._heartbeat_loop(), link_scoped=True)

    async def _heartbeat_loop(self) -> None:
        while True:
            interval = self.heartbeat_interval or 0
            if interval <= 0:
                return
            await asyncio.sleep(interval)
            try:
                await self.heartbeat()
            except ChargerOffline:
                return

    # -- calls -------------------------------------------------------------------------

    async def _call(self, payload: Any) -> Any:
        """Send one CALL; CALLERROR raises OCPPError, no answer raises ChargerOffline."""
        link = self._link
        if link is None or not self.connected:
            raise ChargerOffline("not connected")
        async with self._call_lock:
            call_task = asyncio.ensure_future(link.cp.call(payload, suppress=False))
            closed_task = asyncio.ensure_future(link.closed.wait())
            try:
                await asyncio.wait({call_task, closed_task}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (call_task, closed_task):
                    task.cancel()
                await asyncio.gather(call_task, closed_task, return_exceptions=True)
            if call_task.cancelled():
                raise ChargerOffline("connection closed before the reply")
            try:
                return call_task.result()
            except (TimeoutError, ConnectionClosed) as exc:
                raise ChargerOffline(f"no reply: {exc}") from exc

    async def call_raw(self, text: str, timeout: float = 5.0) -> str | None:  # noqa: ASYNC109
        """Send any text frame; return the next CALLRESULT/CALLERROR frame, or None."""
        link = self._link
        if link is None or not self.connected:
            return None
        async with self._call_lock:
            waiter: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
            self._raw_waiter = waiter
            try:
                await link.ws.send(text)
                return await asyncio.wait_for(waiter, timeout)
            except (TimeoutError, ConnectionClosed):
                return None
            finally:
                self._raw_waiter = None

    async def wait_for_call(
        self,
        action: str,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """Payload of the next not-yet-awaited CALL of ``action`` from the CSMS.

        Calls that already arrived count: each received call is returned once.
        """

        def pending() -> dict[str, Any] | None:
            seen = 0
            for name, payload in self.received_calls:
                if name == action:
                    if seen == self._consumed.get(action, 0):
                        return payload
                    seen += 1
            return None

        async with self._calls_changed:
            try:
                await asyncio.wait_for(
                    self._calls_changed.wait_for(lambda: pending() is not None), timeout
                )
            except TimeoutError:
                raise TimeoutError(f"CSMS did not send {action} within {timeout}s") from None
            payload = pending()
            assert payload is not None
            self._consumed[action] = self._consumed.get(action, 0) + 1
            return payload
