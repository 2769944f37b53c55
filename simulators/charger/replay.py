"""Transaction messages in order across disconnects: the offline queue and its replay.

A mixin of :class:`simulators.charger.base.BaseCharger`, version-neutral: the protocol
subclass says how to send one queued message and where the CSMS put the transaction id.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from ocpp.exceptions import OCPPError

from simulators.charger.model import (
    ChargerConfig,
    ChargerOffline,
    ConnectorState,
    OfflineQueue,
    QueuedMessage,
)

logger = logging.getLogger("simulators.charger")


class TransactionQueue(ABC):
    """Sends transaction messages through the offline queue, oldest first.

    OCPP 1.6 start messages queued offline get a negative placeholder id that is
    rewritten once the CSMS assigns the real one; 2.0.1 messages carry the charger's own
    transaction id, so nothing is rewritten (``transaction_ref`` stays None).
    """

    # Payload field that carries the transaction id (OCPP 1.6: top level transactionId).
    _transaction_id_key = "transactionId"

    config: ChargerConfig
    connectors: dict[int, ConnectorState]
    queue: OfflineQueue
    _aliases: dict[int, int]  # placeholder -> real transaction id
    _dead_placeholders: set[int]  # placeholders whose queued start the CSMS refused
    _tx_lock: asyncio.Lock

    @abstractmethod
    def _online(self) -> bool:
        """Connected and booted (Accepted): transaction messages may go out."""

    @abstractmethod
    async def _send_queued(self, message: QueuedMessage) -> Any:
        """Send one transaction message now; raise ChargerOffline if it was not answered."""

    @abstractmethod
    def _transaction_id_from(self, response: Any) -> int:
        """The transaction id the CSMS assigned in a start response."""

    @property
    def _name(self) -> str:
        return self.config.charge_point_id

    @abstractmethod
    def active_transactions(self) -> Mapping[int, int | str]:
        """Connector (1.6) or EVSE (2.0.1) id -> id of the transaction open on it."""

    def _resolve(self, transaction_id: int) -> int:
        return self._aliases.get(transaction_id, transaction_id)

    def _connector_of(self, transaction_id: int) -> ConnectorState | None:
        tx = self._resolve(transaction_id)
        for conn in self.connectors.values():
            if conn.transaction_id is not None and self._resolve(conn.transaction_id) == tx:
                return conn
        return None

    async def _tx_call(self, message: QueuedMessage) -> Any | None:
        """Send a transaction message in order with the queue; None when it was queued."""
        async with self._tx_lock:
            if self._online():
                await self._replay_locked()
            ref = message.transaction_ref
            if ref is not None and ref in self._dead_placeholders:
                logger.warning("%s: dropped %s of a refused start", self._name, message.action)
                return None
            if ref is not None and ref in self._aliases:
                message.transaction_ref = self._aliases[ref]
                message.payload[self._transaction_id_key] = message.transaction_ref
            if not self._online() or len(self.queue) > 0:
                self._enqueue(message)
                return None
            try:
                return await self._send_queued(message)
            except ChargerOffline as exc:
                logger.info("%s: queued %s (%s)", self._name, message.action, exc)
                self._enqueue(message)
                return None

    def _enqueue(self, message: QueuedMessage) -> None:
        if message.starts_transaction and message.placeholder is None:
            message.placeholder = self.queue.new_placeholder()
        self.queue.append(message)

    async def _replay_queue(self) -> None:
        async with self._tx_lock:
            await self._replay_locked()

    async def _replay_locked(self) -> None:
        while (message := self.queue.peek()) is not None:
            try:
                response = await self._send_queued(message)
            except ChargerOffline:
                return
            except OCPPError as exc:
                logger.warning("%s: CSMS refused queued %s: %s", self._name, message.action, exc)
                self.queue.pop()
                if message.placeholder is not None:
                    self._dead_placeholders.add(message.placeholder)
                    self.queue.drop_references(message.placeholder)
                continue
            self.queue.pop()
            if message.placeholder is not None:
                self._resolve_placeholder(message.placeholder, self._transaction_id_from(response))

    def _resolve_placeholder(self, placeholder: int, real_id: int) -> None:
        self._aliases[placeholder] = real_id
        self.queue.rewrite_transaction_id(placeholder, real_id, self._transaction_id_key)
        for conn in self.connectors.values():
            if conn.transaction_id == placeholder:
                conn.transaction_id = real_id
