"""Webhook delivery as Smartcar does it (reference 6): VERIFY handshake, meta.version 4.0
payloads as compact JSON signed with ``SC-Signature`` = hex HMAC-SHA256(AMT, raw body),
and retries after 25 s, 50 s and 100 s (scaled) with the same ``eventId`` and a new
``deliveryId`` and ``deliveredAt`` on every attempt. A delivery succeeds on any 2xx
within the timeout; 3xx, other statuses, timeouts and connection errors are failures.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

from simulators.smartcar.config import WEBHOOK_RETRY_DELAYS_S, SimConfig
from simulators.smartcar.signals import epoch_ms

SIGNATURE_HEADER = "SC-Signature"


def sign(key: str, message: bytes) -> str:
    """Lowercase hex HMAC-SHA256 keyed with the application management token."""
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def compact(payload: dict[str, Any]) -> bytes:
    """Compact JSON, so receivers that re-serialise the parsed body also verify."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass
class Attempt:
    delivery_id: str
    delivered_at: int  # epoch ms, as in meta.deliveredAt
    status: int | None = None
    error: str | None = None
    signature: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "delivery_id": self.delivery_id,
            "delivered_at": self.delivered_at,
            "status": self.status,
            "error": self.error,
            "signature": self.signature,
        }


@dataclass
class Delivery:
    """One event and every attempt to deliver it."""

    event_id: str
    event_type: str
    vehicle_id: str | None
    payload: dict[str, Any]  # the envelope without ``meta``
    extra_meta: dict[str, Any] = field(default_factory=dict)  # mode, signalCount
    state: str = "pending"  # pending, delivered, dropped
    reason: str | None = None
    attempts: list[Attempt] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "vehicle_id": self.vehicle_id,
            "state": self.state,
            "reason": self.reason,
            "payload": self.payload,
            "attempts": [a.to_json() for a in self.attempts],
        }


class Webhook:
    """The application's one webhook and the vehicles subscribed to it."""

    def __init__(self, config: SimConfig, webhook_id: str, clock: Callable[[], datetime]):
        self.config = config
        self.id = webhook_id
        self.name = config.webhook_name
        self.url = config.webhook_url
        self.amt = config.application_management_token
        self.signals = config.webhook_signals
        self.triggers = config.webhook_triggers
        self.verified = False
        self.subscribed: set[str] = set()
        self.clock = clock
        self.deliveries: deque[Delivery] = deque(maxlen=10_000)
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        self._session = aiohttp.ClientSession(auto_decompress=True)
        if self.url is not None and self.config.webhook_verify_on_start:
            self._spawn(self._verify_quietly())

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def drain(self) -> None:
        """Wait until every delivery (with its retries) has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "url": self.url,
            "verified": self.verified,
            "signals": list(self.signals),
            "triggers": list(self.triggers),
            "subscribed": sorted(self.subscribed),
        }

    # -- VERIFY ------------------------------------------------------------------------
    def _meta(self, delivery_id: str, delivered_at: int) -> dict[str, Any]:
        return {
            "version": "4.0",
            "webhookId": self.id,
            "webhookName": self.name,
            "deliveryId": delivery_id,
            "deliveredAt": delivered_at,
        }

    async def _verify_quietly(self) -> None:
        await self.verify()

    async def verify(self) -> dict[str, Any]:
        """Send VERIFY; the webhook is verified on a 200 JSON reply whose ``challenge`` is
        hex HMAC-SHA256(AMT, challenge) within the timeout."""
        if self.url is None or self._session is None:
            return {"verified": False, "error": "no webhook URL configured"}
        challenge = str(uuid.uuid4())
        body = compact(
            {
                "eventId": str(uuid.uuid4()),
                "eventType": "VERIFY",
                "data": {"challenge": challenge},
                "meta": self._meta(str(uuid.uuid4()), epoch_ms(self.clock())),
            }
        )
        headers = self._headers(body, signed=self.config.webhook_sign_verify)
        expected = sign(self.amt, challenge.encode())
        result: dict[str, Any] = {"verified": False, "challenge": challenge, "status": None}
        try:
            async with self._session.post(
                self.url,
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self.config.webhook_timeout_s),
            ) as resp:
                result["status"] = resp.status
                reply = await resp.json(content_type=None) if resp.status == 200 else None
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            result["error"] = f"{type(exc).__name__}: {exc}"
            reply = None
        answer = reply.get("challenge") if isinstance(reply, dict) else None
        ok = isinstance(answer, str) and hmac.compare_digest(answer, expected)
        self.verified = ok
        result["verified"] = ok
        if not ok and "error" not in result:
            result["error"] = "no 200 JSON reply with the expected challenge"
        return result

    # -- events ------------------------------------------------------------------------
    def _headers(self, body: bytes, *, signed: bool = True) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"Smartcar/{self.config.version}",
        }
        if signed:
            headers[SIGNATURE_HEADER] = sign(self.amt, body)
        return headers

    def emit(
        self, event_type: str, vehicle_id: str, data: dict[str, Any], extra_meta: dict[str, Any]
    ) -> Delivery:
        """Queue one event for delivery (dropped at once when there is nowhere to send it)."""
        event_id = str(uuid.uuid4())
        payload = {
            "eventId": event_id,
            "eventType": event_type,
            "vehicleId": vehicle_id,
            "data": data,
        }
        delivery = Delivery(event_id, event_type, vehicle_id, payload, extra_meta)
        self.deliveries.append(delivery)
        if self.url is None:
            delivery.state, delivery.reason = "dropped", "no webhook URL configured"
        elif not self.verified:
            # Smartcar delivers nothing before VERIFY succeeds (POST /_sim/webhook/verify).
            delivery.state, delivery.reason = "dropped", "webhook not verified"
        else:
            self._spawn(self._deliver(delivery))
        return delivery

    def _envelope(self, delivery: Delivery, attempt: Attempt) -> dict[str, Any]:
        meta = self._meta(attempt.delivery_id, attempt.delivered_at)
        return {**delivery.payload, "meta": {**meta, **delivery.extra_meta}}

    async def _deliver(self, delivery: Delivery) -> None:
        delays = [d * self.config.webhook_retry_scale for d in WEBHOOK_RETRY_DELAYS_S]
        for attempt_no in range(len(delays) + 1):
            if await self._attempt(delivery):
                delivery.state = "delivered"
                return
            if attempt_no < len(delays):
                await asyncio.sleep(delays[attempt_no])
        delivery.state, delivery.reason = "dropped", "no 2xx after the last retry"

    async def _attempt(self, delivery: Delivery) -> bool:
        assert self._session is not None
        assert self.url is not None
        attempt = Attempt(str(uuid.uuid4()), epoch_ms(self.clock()))
        body = compact(self._envelope(delivery, attempt))
        headers = self._headers(body)
        attempt.signature = headers[SIGNATURE_HEADER]
        delivery.attempts.append(attempt)
        started = time.monotonic()
        try:
            async with self._session.post(
                self.url,
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self.config.webhook_timeout_s),
            ) as resp:
                attempt.status = resp.status
                await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            attempt.error = f"{type(exc).__name__}: {exc}"
            return False
        if time.monotonic() - started > self.config.webhook_timeout_s:
            attempt.error = "answered after the timeout"
            return False
        return 200 <= attempt.status < 300
