"""What the admin API needs from the rest of the process, and where the app keeps it."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from aiohttp import web

from csms.clock import Clock
from csms.commands import CommandService, Connections
from csms.corrections import Corrections
from csms.invoicing import Invoicing
from csms.vehicles import VehicleService

__all__ = ["DEPS", "AdminDeps", "deps_of"]


@dataclass(frozen=True)
class AdminDeps:
    """Collaborators of the admin API, built by the caller (CLI, tests)."""

    pool: asyncpg.Pool
    commands: CommandService
    connections: Connections
    token_sha256: bytes
    """SHA-256 digest of the valid bearer token (never the token itself)."""
    clock: Clock
    vehicles: VehicleService | None = None
    """Smartcar linking and webhooks; None when Smartcar is not configured."""
    invoicing: Invoicing | None = None
    """Bills and estimates; None: built with the default billing policy."""
    corrections: Corrections | None = None
    """Credit notes, refunds and reviews; None: built with the default billing policy."""


DEPS = web.AppKey("csms_admin_deps", AdminDeps)


def deps_of(request: web.Request) -> AdminDeps:
    return request.app[DEPS]
