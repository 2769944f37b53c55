"""Async Smartcar API client, OAuth Connect flow, token storage and webhooks.

Imports neither ``csms`` nor ``billing``; the application builds a :class:`BridgeConfig`
from its settings and composes the pieces (see :func:`build_bridge`).

Modules: ``config`` (what it is configured with), ``models`` (typed results), ``errors``
(the error tree), ``envelope`` (error answers to exceptions), ``transport`` (one HTTP
exchange: limiter, timeout, retries, meta, counting), ``v2``/``v3`` (paths and parsing per
API version), ``client`` (one interface over both), ``oauth`` (Connect URL, state, code
exchange, refresh), ``tokens`` (encrypted grants, lock-guarded refresh), ``bridge``
(vehicles by id, tokens handled), ``webhooks`` (signatures, VERIFY, events), ``limiter``,
``metrics``, ``store`` (SQL).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import aiohttp
import asyncpg

from smartcar_bridge.bridge import ConnectResult, LinkedVehicle, SmartcarBridge
from smartcar_bridge.client import SmartcarClient
from smartcar_bridge.config import (
    DEFAULT_SCOPES,
    ApiVersion,
    BridgeConfig,
    LimitConfig,
    RetryConfig,
    TimeoutConfig,
)
from smartcar_bridge.errors import SmartcarError
from smartcar_bridge.limiter import RateLimiter
from smartcar_bridge.metrics import CallMetrics, session_scope
from smartcar_bridge.oauth import ConnectStates, OAuthClient
from smartcar_bridge.store import PostgresCallLedger
from smartcar_bridge.tokens import TokenCipher, TokenVault
from smartcar_bridge.transport import Auth
from smartcar_bridge.webhooks import WebhookReceiver

__all__ = [
    "DEFAULT_SCOPES",
    "ApiVersion",
    "Auth",
    "BridgeConfig",
    "CallMetrics",
    "ConnectResult",
    "LimitConfig",
    "LinkedVehicle",
    "RetryConfig",
    "SmartcarBridge",
    "SmartcarClient",
    "SmartcarError",
    "TimeoutConfig",
    "TokenCipher",
    "WebhookReceiver",
    "build_bridge",
    "session_scope",
]


def build_bridge(
    session: aiohttp.ClientSession,
    pool: asyncpg.Pool,
    config: BridgeConfig,
    cipher: TokenCipher,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    jitter: Callable[[], float] = random.random,
    limiter: RateLimiter | None = None,
) -> SmartcarBridge:
    """The whole bridge over one aiohttp session and one database pool: client, OAuth,
    token vault, Connect states, with calls counted in memory and in the database."""
    metrics = CallMetrics(PostgresCallLedger(pool, clock))
    client = SmartcarClient(
        session, config, limiter=limiter, metrics=metrics, clock=clock, sleep=sleep, jitter=jitter
    )
    oauth = OAuthClient(client.transport, config)
    vault = TokenVault(pool, cipher, oauth, clock, refresh_margin_s=config.refresh_margin_s)
    states = ConnectStates(pool, clock, ttl_s=config.state_ttl_s)
    return SmartcarBridge(client, oauth, vault, states)
