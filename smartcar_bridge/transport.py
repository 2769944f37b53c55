"""One HTTP exchange with Smartcar, done properly: limiter, timeout, error envelope,
retries with backoff that honours ``Retry-After``, response meta, and call counting.

Everything above this module (the v2 and v3 dialects, OAuth) speaks in
:class:`Reply` values and :mod:`smartcar_bridge.errors` exceptions, never in aiohttp.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import aiohttp
from multidict import CIMultiDictProxy

from smartcar_bridge.config import BridgeConfig
from smartcar_bridge.envelope import api_error
from smartcar_bridge.errors import (
    RateLimitError,
    RequestTimeout,
    ResponseFormatError,
    SmartcarError,
    TransportError,
    UpstreamError,
)
from smartcar_bridge.limiter import RateLimiter
from smartcar_bridge.metrics import CallMetrics
from smartcar_bridge.models import Meta

__all__ = ["Auth", "Kind", "Reply", "Transport", "meta_from_headers", "parse_time"]

Kind = Literal["read", "command", "token"]


@dataclass(frozen=True)
class Auth:
    """Who a call is made for: the access token, and the Smartcar user id (which v3 may
    want in ``sc-user-id``)."""

    access_token: str = field(repr=False)
    user_id: str | None = None


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    meta: Meta
    headers: Mapping[str, str]


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 string or an epoch number (ms when it is that large) as UTC."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = value / 1000.0 if value > 1e11 else float(value)
        return datetime.fromtimestamp(seconds, UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    return None


def meta_from_headers(headers: Mapping[str, str], *, request_id: str | None = None) -> Meta:
    """``SC-Request-Id``, ``SC-Data-Age``, ``SC-Fetched-At``, ``SC-Unit-System``; the
    lookup is case-insensitive (batch items carry lower-case names)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    return Meta(
        request_id=lowered.get("sc-request-id") or request_id,
        data_age=parse_time(lowered.get("sc-data-age")),
        fetched_at=parse_time(lowered.get("sc-fetched-at")),
        unit_system=lowered.get("sc-unit-system"),
    )


class Transport:
    """Sends requests for the client and OAuth.

    Args:
        session: the aiohttp session (owned by the caller).
        config: timeouts, retry policy, user agent.
        limiter: gate per application and vehicle.
        metrics: counts every request sent.
        clock: wall clock (``Retry-After`` dates); tests pass a fake one.
        sleep: how to wait between attempts.
        jitter: a number in [0, 1) to spread retries.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        config: BridgeConfig,
        *,
        limiter: RateLimiter | None = None,
        metrics: CallMetrics | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.session = session
        self.config = config
        self.limiter = limiter or RateLimiter(config.limits)
        self.metrics = metrics or CallMetrics()
        self.clock = clock
        self._sleep = sleep
        self._jitter = jitter

    def _timeout(self, kind: Kind) -> aiohttp.ClientTimeout:
        t = self.config.timeouts
        total = {"read": t.read_s, "command": t.command_s, "token": t.token_s}[kind]
        return aiohttp.ClientTimeout(total=total, connect=min(t.connect_s, total))

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        policy = self.config.retry
        exponential = min(policy.backoff_max_s, policy.backoff_base_s * 2.0 ** (attempt - 1))
        delay: float = exponential * (0.5 + 0.5 * self._jitter())
        return max(delay, retry_after or 0.0)

    def _pause_after(self, error: SmartcarError, vehicle_id: str | None, delay: float) -> None:
        if isinstance(error, RateLimitError) and not error.local:
            app_wide = error.code == "SMARTCAR_API" or vehicle_id is None
            self.limiter.pause(None if app_wide else vehicle_id, error.retry_after or delay)
        elif isinstance(error, UpstreamError) and error.code == "RATE_LIMIT":
            self.limiter.pause(vehicle_id, self.limiter.limits.upstream_pause_s)

    async def request(
        self,
        method: str,
        url: str,
        *,
        endpoint: str,
        kind: Kind = "read",
        vehicle_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        cost: int = 1,
        limited: bool = True,
        error_parser: Callable[[int, Any, Mapping[str, str]], SmartcarError] | None = None,
    ) -> Reply:
        """Send one logical request, retrying what is retryable.

        Args:
            endpoint: a low-cardinality label for the metrics (``GET /battery``).
            kind: picks the timeout; a timed-out command or token request is not
                re-sent (it may have been carried out).
            vehicle_id: whose limits and counters apply.
            cost: requests this counts as (a batch counts each path).
            limited: False for the token endpoint, which is not the vehicle API.
            error_parser: how to read error answers (default: the API envelopes).

        Raises:
            SmartcarError: the first non-retryable error, or the last one.
        """
        sent_headers = {"User-Agent": self.config.user_agent, **(headers or {})}
        attempts = self.config.retry.max_attempts
        for attempt in range(1, attempts + 1):
            if limited:
                try:
                    await self.limiter.acquire(vehicle_id, cost)
                except RateLimitError:
                    self.metrics.record_limited("vehicle" if vehicle_id else "app")
                    raise
            try:
                reply = await self._send(
                    method,
                    url,
                    kind=kind,
                    headers=sent_headers,
                    json_body=json_body,
                    form=form,
                    params=params,
                    endpoint=endpoint,
                    vehicle_id=vehicle_id,
                    cost=cost,
                )
            except TransportError as exc:
                error: SmartcarError = exc
                # A command or token request that timed out may have been carried out:
                # re-sending could act twice or spend a rotated refresh token.
                if kind != "read" and isinstance(exc, RequestTimeout):
                    raise
            else:
                if 200 <= reply.status < 300:
                    return reply
                parse = error_parser or (
                    lambda status, body, h: api_error(status, body, h, self.clock())
                )
                error = parse(reply.status, reply.body, reply.headers)
            delay = self._backoff(attempt, error.retry_after)
            self._pause_after(error, vehicle_id, delay)
            if (
                not error.retryable
                or attempt == attempts
                or (error.retry_after or 0.0) > self.config.retry.max_retry_after_s
            ):
                raise error
            await self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(
        self,
        method: str,
        url: str,
        *,
        kind: Kind,
        headers: Mapping[str, str],
        json_body: Any,
        form: Mapping[str, str] | None,
        params: Mapping[str, str] | None,
        endpoint: str,
        vehicle_id: str | None,
        cost: int,
    ) -> Reply:
        data: Any = None
        if json_body is not None:
            data = json.dumps(json_body, separators=(",", ":"))
            headers = {**headers, "Content-Type": "application/json"}
        elif form is not None:
            data = aiohttp.FormData(dict(form))
        try:
            async with self.session.request(
                method,
                url,
                headers=headers,
                data=data,
                params=params,
                timeout=self._timeout(kind),
            ) as response:
                raw = await response.read()
                status = response.status
                received: CIMultiDictProxy[str] = response.headers
        except TimeoutError:
            await self.metrics.record(
                vehicle_id=vehicle_id,
                endpoint=endpoint,
                status=None,
                cost=cost,
                persist=kind != "token",
            )
            raise RequestTimeout() from None
        except aiohttp.ClientConnectorError as exc:
            # Never reached Smartcar: nothing to count.
            raise TransportError(f"cannot connect: {exc}") from None
        except aiohttp.ClientError as exc:
            await self.metrics.record(
                vehicle_id=vehicle_id,
                endpoint=endpoint,
                status=None,
                cost=cost,
                persist=kind != "token",
            )
            raise TransportError(f"{type(exc).__name__}: {exc}") from None
        await self.metrics.record(
            vehicle_id=vehicle_id,
            endpoint=endpoint,
            status=status,
            cost=cost,
            persist=kind != "token",
        )
        body = _decode(raw)
        if 200 <= status < 300 and body is _NOT_JSON:
            raise ResponseFormatError(
                f"{endpoint}: answer is not JSON", status=status, request_id=_rid(received)
            )
        return Reply(
            status=status,
            body=raw.decode("utf-8", "replace") if body is _NOT_JSON else body,
            meta=meta_from_headers(received),
            headers=received,
        )


_NOT_JSON: Any = object()


def _decode(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return _NOT_JSON


def _rid(headers: Mapping[str, str]) -> str | None:
    return headers.get("SC-Request-Id")
