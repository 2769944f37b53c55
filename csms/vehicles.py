"""Drivers' cars linked through Smartcar: linking, listing, unlinking, and webhooks that
keep each car's last known state (plugged in, charging state, SoC).

The Smartcar side (HTTP, OAuth, tokens, signatures) is :mod:`smartcar_bridge`; this
service owns the ``vehicles`` rows and decides what a bridge failure means to an
operator. The token key comes from ``CSMS_SMARTCAR_TOKEN_KEY``; without it a key is
generated on first start into ``<data_dir>/smartcar-token.key`` (mode 0600) and reused.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from csms.clock import Clock
from csms.config import Settings
from csms.errors import Conflict, CsmsError, NotFound
from csms.logs import get_logger
from csms.store import Row
from csms.store import accounts as accounts_store
from csms.store import vehicles as store
from smartcar_bridge import (
    BridgeConfig,
    LimitConfig,
    RetryConfig,
    SmartcarBridge,
    TimeoutConfig,
    TokenCipher,
    WebhookReceiver,
    build_bridge,
)
from smartcar_bridge.errors import (
    ConnectError,
    OAuthError,
    SmartcarError,
    StateError,
)
from smartcar_bridge.webhooks import (
    Challenge,
    StateUpdate,
    WebhookEvent,
    WebhookRejected,
    parse_event,
    state_update,
)

__all__ = [
    "LinkOutcome",
    "LinkRefused",
    "SmartcarNotConfigured",
    "SmartcarUnavailable",
    "VehicleService",
    "WebhookRefused",
    "load_token_key",
]

log = get_logger(__name__)

KEY_FILE = "smartcar-token.key"

# (connection, vehicle id, plugged in (None: not said), when the car recorded it)
StateListener = Callable[[asyncpg.Connection, int, bool | None, datetime], Awaitable[None]]


class SmartcarNotConfigured(CsmsError):
    code = "smartcar_not_configured"
    http_status = 503


class SmartcarUnavailable(CsmsError):
    """Smartcar failed in a way that may pass; nothing was changed here."""

    code = "smartcar_unavailable"
    http_status = 502


class LinkRefused(CsmsError):
    """The Connect callback cannot be completed (declined, bad or expired state, code)."""

    code = "link_refused"
    http_status = 400

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class WebhookRefused(CsmsError):
    code = "webhook_refused"

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.http_status = status


@dataclass(frozen=True)
class LinkOutcome:
    account_id: int
    vehicles: list[Row]
    moved_from: dict[int, int]
    """Vehicle id -> the account it was linked to before (a car that changed hands)."""


def load_token_key(settings: Settings) -> str:
    """The token encryption key: the setting, else the key file, else a new key file."""
    if settings.smartcar_token_key is not None:
        return settings.smartcar_token_key.get_secret_value()
    path = Path(settings.data_dir) / KEY_FILE
    if path.exists():
        return path.read_text("ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = TokenCipher.generate_key()
    # O_EXCL: two processes starting at once do not overwrite each other's key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text("ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    log.warning("smartcar_token_key_generated", path=str(path))
    return key


def bridge_config(settings: Settings) -> BridgeConfig:
    assert settings.smartcar_client_id is not None
    secret = settings.smartcar_client_secret
    return BridgeConfig(
        client_id=settings.smartcar_client_id,
        client_secret=secret.get_secret_value() if secret else "",
        redirect_uri=settings.smartcar_redirect_uri,
        connect_url=settings.smartcar_connect_url,
        auth_url=settings.smartcar_auth_url,
        api_url=settings.smartcar_api_url,
        vehicle_api_url=settings.smartcar_vehicle_api_url,
        api_version=settings.smartcar_api_version,
        connect_mode=settings.smartcar_connect_mode,
        timeouts=TimeoutConfig(
            read_s=settings.smartcar_read_timeout_s,
            command_s=settings.smartcar_command_timeout_s,
            token_s=settings.smartcar_token_timeout_s,
        ),
        retry=RetryConfig(max_attempts=settings.smartcar_max_attempts),
        limits=LimitConfig(
            app_capacity=settings.smartcar_app_burst,
            app_refill_per_s=settings.smartcar_app_requests_per_minute / 60.0,
            vehicle_capacity=settings.smartcar_vehicle_burst,
            vehicle_refill_per_s=settings.smartcar_vehicle_requests_per_minute / 60.0,
        ),
    )


def vehicle_view(row: Row) -> dict[str, Any]:
    capacity = row["battery_capacity_kwh"]
    soc = row["soc_percent"]
    return {
        "id": row["id"],
        "account_id": row["account_id"],
        "smartcar_vehicle_id": row["smartcar_vehicle_id"],
        "vin": row["vin"],
        "make": row["make"],
        "model": row["model"],
        "year": row["year"],
        "battery_capacity_kwh": None if capacity is None else float(capacity),
        "capacity_source": row["capacity_source"],
        "status": row["status"],
        "status_reason": row["status_reason"] if row["status"] == "reauth_required" else None,
        "state": {
            "plugged_in": row["plugged_in"],
            "charging_state": row["charging_state"],
            "soc_percent": None if soc is None else float(soc),
            "observed_at": row["state_at"],
            "source": row["state_source"],
        },
        "linked_at": row["linked_at"],
    }


class VehicleService:
    """Linking, listing and unlinking cars, and applying Smartcar webhooks.

    Args:
        pool: the database.
        bridge: the Smartcar bridge (client, OAuth, tokens).
        receiver: webhook verification; None when no webhook secret is configured.
        clock: wall clock.
        session: an aiohttp session this service owns and closes (None: the caller's).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        bridge: SmartcarBridge,
        receiver: WebhookReceiver | None,
        clock: Clock,
        *,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.pool = pool
        self.bridge = bridge
        self.receiver = receiver
        self.clock = clock
        self._session = session
        # Told of every state a webhook delivered, in its transaction (plug-and-charge).
        self.on_state: StateListener | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, pool: asyncpg.Pool, clock: Clock
    ) -> VehicleService | None:
        """The service as configured, or None when Smartcar is not (no client id)."""
        if not settings.smartcar_client_id:
            return None
        session = aiohttp.ClientSession()
        bridge = build_bridge(
            session,
            pool,
            bridge_config(settings),
            TokenCipher.from_text(load_token_key(settings)),
            clock=clock,
        )
        secret = settings.smartcar_webhook_secret
        receiver = (
            WebhookReceiver(
                secret.get_secret_value(),
                unsigned_verify=settings.smartcar_webhook_unsigned_verify,
                clock=clock,
            )
            if secret is not None and secret.get_secret_value()
            else None
        )
        return cls(pool, bridge, receiver, clock, session=session)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def metrics_text(self) -> str:
        """Smartcar call counters in the Prometheus text format."""
        return self.bridge.client.metrics.exposition()

    # --- linking -----------------------------------------------------------------------------

    async def start_linking(self, account_id: int, *, make: str | None = None) -> str:
        """The Connect URL for the account's driver.

        Raises:
            NotFound: no such account.
            Conflict: the account is not active.
        """
        async with self.pool.acquire() as conn:
            account = await accounts_store.get(conn, account_id)
        if account is None:
            raise NotFound(f"account {account_id} not found")
        if account["status"] != "active":
            raise Conflict(f"account {account_id} is {account['status']}")
        return await self.bridge.start_link(str(account_id), make=make)

    async def complete_linking(self, query: Mapping[str, str]) -> LinkOutcome:
        """Handle the Connect redirect: link every vehicle the driver chose.

        Raises:
            LinkRefused: declined, bad/used/expired state, refused code.
            SmartcarUnavailable: Smartcar failed; the driver may try again.
        """
        try:
            result = await self.bridge.finish_link(query)
        except StateError as exc:
            raise LinkRefused(str(exc.description), reason="invalid_state") from exc
        except ConnectError as exc:
            raise LinkRefused(exc.description, reason=exc.code or "connect_error") from exc
        except OAuthError as exc:
            if exc.retryable:
                raise SmartcarUnavailable(f"Smartcar token endpoint: {exc}") from exc
            raise LinkRefused(exc.description, reason=exc.code or "oauth_error") from exc
        except SmartcarError as exc:
            raise SmartcarUnavailable(f"Smartcar failed while linking: {exc}") from exc
        account_id = int(result.owner)
        now = self.clock()
        moved: dict[int, int] = {}
        async with self.pool.acquire() as conn, conn.transaction():
            if not await accounts_store.exists(conn, account_id):
                raise LinkRefused(f"account {account_id} no longer exists", reason="no_account")
            await self.bridge.save_link(conn, result)
            ids = []
            for vehicle in result.vehicles:
                await store.lock_smartcar_vehicle(conn, vehicle.vehicle_id)
                vehicle_id, previous = await store.upsert_linked(
                    conn,
                    account_id=account_id,
                    smartcar_vehicle_id=vehicle.vehicle_id,
                    vin=vehicle.vin,
                    make=vehicle.make,
                    model=vehicle.model,
                    year=vehicle.year,
                    capacity_kwh=vehicle.capacity_kwh,
                    capacity_source=vehicle.capacity_source,
                    now=now,
                )
                await self._replay_pending(conn, vehicle_id, vehicle.vehicle_id)
                ids.append(vehicle_id)
                if previous is not None:
                    moved[vehicle_id] = previous
            rows = [row for vid in ids if (row := await store.get(conn, vid)) is not None]
        for vehicle_id, previous in moved.items():
            log.warning("vehicle_moved_account", vehicle_id=vehicle_id, previous=previous)
        log.info("vehicles_linked", account_id=account_id, vehicles=len(rows))
        return LinkOutcome(account_id, rows, moved)

    # --- listing and unlinking ---------------------------------------------------------------

    async def list_vehicles(self, account_id: int, *, after: int | None, limit: int) -> list[Row]:
        async with self.pool.acquire() as conn:
            if not await accounts_store.exists(conn, account_id):
                raise NotFound(f"account {account_id} not found")
            return await store.page_for_account(conn, account_id, after=after, limit=limit)

    async def unlink(self, account_id: int, vehicle_id: int) -> None:
        """Revoke the app's access at Smartcar, delete the tokens, mark the row unlinked.

        Raises:
            NotFound: the account has no such (linked) vehicle.
            SmartcarUnavailable: the revocation failed transiently; nothing changed.
        """
        async with self.pool.acquire() as conn:
            row = await store.get_for_account(conn, account_id, vehicle_id)
        if row is None:
            raise NotFound(f"vehicle {vehicle_id} of account {account_id} not found")
        try:
            await self.bridge.revoke(row["smartcar_vehicle_id"])
        except SmartcarError as exc:
            raise SmartcarUnavailable(f"Smartcar did not revoke access: {exc}") from exc
        async with self.pool.acquire() as conn, conn.transaction():
            await self.bridge.forget(conn, row["smartcar_vehicle_id"])
            await store.mark_unlinked(conn, vehicle_id, self.clock())
        log.info("vehicle_unlinked", account_id=account_id, vehicle_id=vehicle_id)

    # --- webhooks ----------------------------------------------------------------------------

    def open_verify_window(self, seconds: float) -> datetime:
        if self.receiver is None:
            raise SmartcarNotConfigured("no Smartcar webhook secret is configured")
        return self.receiver.open_verify_window(seconds)

    async def receive_webhook(self, body: bytes, signature: str | None) -> dict[str, Any]:
        """Answer VERIFY, or store a signed delivery's events and apply their state.

        Raises:
            SmartcarNotConfigured: no webhook secret.
            WebhookRefused: bad signature (401), refused VERIFY (403), malformed (400).
        """
        if self.receiver is None:
            raise SmartcarNotConfigured("no Smartcar webhook secret is configured")
        try:
            outcome = self.receiver.receive(body, signature)
        except WebhookRejected as exc:
            log.warning("smartcar_webhook_refused", reason=exc.description, status=exc.status)
            raise WebhookRefused(exc.description, exc.status or 400) from exc
        if isinstance(outcome, Challenge):
            return {"challenge": outcome.response}
        applied = 0
        for event in outcome:
            applied += await self._apply(event)
        return {"status": "ok", "events": len(outcome), "applied": applied}

    def _newer(self, vehicle: Row | None, update: StateUpdate | None) -> bool:
        # Delivery order is not guaranteed: never let an older event win.
        if update is None or vehicle is None:
            return False
        observed = update.observed_at or self.clock()
        return vehicle["state_at"] is None or observed >= vehicle["state_at"]

    async def _set_state(
        self, conn: asyncpg.Connection, vehicle_id: int, update: StateUpdate, event_type: str
    ) -> None:
        observed = update.observed_at or self.clock()
        await store.update_state(
            conn,
            vehicle_id,
            plugged_in=update.plugged_in,
            charging_state=update.charging_state,
            soc_percent=None if update.soc_fraction is None else update.soc_fraction * 100,
            observed_at=observed,
            source=f"webhook:{event_type}",
        )
        if update.latitude is not None and update.longitude is not None:
            await store.record_position(
                conn, vehicle_id, latitude=update.latitude, longitude=update.longitude, at=observed
            )
        if self.on_state is not None:
            await self.on_state(conn, vehicle_id, update.plugged_in, observed)

    async def _apply(self, event: WebhookEvent) -> int:
        update = state_update(event)
        async with self.pool.acquire() as conn, conn.transaction():
            vehicle = None
            if event.vehicle_id:
                await store.lock_smartcar_vehicle(conn, event.vehicle_id)
                vehicle = await store.lock_by_smartcar_id(conn, event.vehicle_id)
            apply = self._newer(vehicle, update)
            fresh = await store.insert_webhook_event(
                conn,
                event_id=event.event_id,
                event_type=event.event_type,
                smartcar_vehicle_id=event.vehicle_id,
                vehicle_id=None if vehicle is None else vehicle["id"],
                delivery_id=event.delivery_id,
                payload=event.payload,
                applied=apply,
            )
            if not (fresh and apply and update is not None and vehicle is not None):
                return 0
            await self._set_state(conn, vehicle["id"], update, event.event_type)
        return 1

    async def _replay_pending(
        self, conn: asyncpg.Connection, vehicle_id: int, smartcar_vehicle_id: str
    ) -> None:
        """Apply events that arrived before the car was linked (Smartcar sends the first
        delivery as soon as the driver consents, which can beat our callback)."""
        for row in await store.pending_webhook_events(conn, smartcar_vehicle_id):
            _, events = parse_event(json.dumps(row["payload"]).encode())
            event = next((e for e in events if e.event_id == row["event_id"]), None)
            update = None if event is None else state_update(event)
            current = await store.lock_by_smartcar_id(conn, smartcar_vehicle_id)
            apply = event is not None and update is not None and self._newer(current, update)
            if apply and update is not None and event is not None:
                await self._set_state(conn, vehicle_id, update, event.event_type)
            await store.attach_webhook_event(conn, row["id"], vehicle_id, apply)
