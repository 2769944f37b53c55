"""Composition root: build the services, run the OCPP server, the admin API, the frame log
and the worker under one TaskGroup, and shut them down in order.

Shutdown order: stop accepting and close charger connections, stop the admin API, flush
the frame log, then the caller closes the pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
from aiohttp import web

from billing.payments import PaymentProvider
from csms.admin import AdminDeps, create_app, ensure_admin_token
from csms.chargers import ChargerService
from csms.clock import Clock, system_clock
from csms.cluster import Cluster
from csms.commands import CommandService, Connections
from csms.commit import GroupCommit
from csms.config import Settings
from csms.corrections import Corrections
from csms.device_model import DeviceModelService
from csms.invoicing import BillingPolicy, Invoicing
from csms.logs import get_logger
from csms.message_log import FrameLog
from csms.payments import build_provider
from csms.plugcharge.finish import plug_and_charge_evidence
from csms.plugcharge.service import PlugAndCharge
from csms.reservations import ReservationService
from csms.server import start_ocpp_server
from csms.services import Services
from csms.sessions import SessionService
from csms.settlement import SettlementService
from csms.transaction_events import TransactionEventService
from csms.vehicles import VehicleService
from csms.worker import Worker

__all__ = ["Ready", "serve"]

log = get_logger(__name__)


@dataclass(frozen=True)
class Ready:
    """Where the running system listens, and the admin token if one was just generated."""

    ocpp_port: int
    api_port: int
    generated_admin_token: str | None


async def serve(
    settings: Settings,
    pool: asyncpg.Pool,
    *,
    stop: asyncio.Event,
    on_ready: Callable[[Ready], None] | None = None,
    clock: Clock = system_clock,
    payments: PaymentProvider | None = None,
) -> None:
    """Serve until ``stop`` is set. ``payments`` replaces the configured payment provider
    (tests hand in a simulated one they can steer)."""
    connections = Connections()
    commit = GroupCommit(pool, writers=settings.group_commit_writers)
    cluster = Cluster(pool)
    commands = CommandService(pool, connections, timeout_s=settings.call_timeout_s, cluster=cluster)
    provider = payments if payments is not None else build_provider(settings)
    policy = BillingPolicy(
        provider=provider.name,
        currency=settings.billing_currency,
        minimum_charge_minor=settings.payment_minimum_charge_minor,
        payment_max_attempts=settings.payment_max_attempts,
    )
    invoicing = Invoicing(pool, clock, policy, evidence=plug_and_charge_evidence)
    settlement = SettlementService(pool, clock, provider, policy)
    vehicles = VehicleService.from_settings(settings, pool, clock)  # None: Smartcar off
    pnc = None
    if vehicles is not None and settings.pnc_enabled:
        pnc = PlugAndCharge(pool, clock, vehicles.bridge, commands, provider, invoicing, settings)
    plug = None if pnc is None else pnc.hooks
    if vehicles is not None and plug is not None:
        vehicles.on_state = plug.car_state_pushed
    chargers = ChargerService(
        pool, clock, commit, auto_register=settings.auto_register_charge_points, plug=plug
    )
    sessions = SessionService(pool, clock, commit, plug=plug)
    services = Services(
        chargers=chargers,
        sessions=sessions,
        transactions=TransactionEventService(clock, commit, plug=plug),
        device_model=DeviceModelService(commit),
        reservations=ReservationService(commit),
        clock=clock,
        heartbeat_interval_s=settings.heartbeat_interval_s,
        boot_status=settings.boot_registration_status,
    )
    frames = FrameLog(
        pool,
        clock,
        flush_ms=settings.message_log_flush_ms,
        max_frame_chars=settings.message_log_max_frame_chars,
    )
    worker = Worker(
        pool,
        clock,
        handlers={
            **invoicing.handlers(),
            **settlement.handlers(),
            **({} if pnc is None else pnc.handlers()),
        },
        poll_interval_s=settings.worker_poll_interval_s,
    )
    configured = settings.admin_token.get_secret_value() if settings.admin_token else None
    digest, generated = await ensure_admin_token(pool, configured)
    admin = create_app(
        AdminDeps(
            pool=pool,
            commands=commands,
            connections=connections,
            token_sha256=digest,
            clock=clock,
            vehicles=vehicles,
            invoicing=invoicing,
            corrections=Corrections(pool, clock, policy),
        )
    )
    runner = web.AppRunner(admin, access_log=None, shutdown_timeout=settings.shutdown_timeout_s)
    await runner.setup()
    ocpp_server = await start_ocpp_server(
        settings, services, frames, connections, chargers, cluster
    )
    try:
        site = web.TCPSite(
            runner, settings.host, settings.api_port, reuse_port=settings.reuse_port or None
        )
        await site.start()
        # Advertised as a node only once it can serve: others relay commands to it.
        await cluster.start()
        ready = Ready(
            ocpp_port=ocpp_server.sockets[0].getsockname()[1],
            api_port=runner.addresses[0][1],
            generated_admin_token=generated,
        )
        log.info("csms_ready", ocpp_port=ready.ocpp_port, api_port=ready.api_port)
        async with asyncio.TaskGroup() as group:
            background = [
                group.create_task(commit.serve(), name="group-commit"),
                group.create_task(cluster.run(), name="cluster"),
                group.create_task(frames.run(), name="frame-log"),
                group.create_task(worker.run(), name="worker"),
            ]
            if on_ready is not None:
                on_ready(ready)
            await stop.wait()
            log.info("csms_stopping")
            ocpp_server.close(close_connections=True)
            await asyncio.wait_for(ocpp_server.wait_closed(), settings.shutdown_timeout_s)
            await runner.cleanup()
            for task in background:
                task.cancel()
    finally:
        ocpp_server.close(close_connections=True)
        await runner.cleanup()
        await frames.close()
        await cluster.stop()
        if vehicles is not None:
            await vehicles.close()
        if payments is None:
            await provider.close()
        log.info("csms_stopped")
