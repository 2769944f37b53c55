"""The checks every vehicle call passes, in order: bearer token, app rate limit, vehicle
id, permission, per-vehicle rate limit, billing quota, injected faults, vehicle state.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web
from yarl import URL

from simulators.smartcar.errors import SmartcarError, validation
from simulators.smartcar.model import Vehicle
from simulators.smartcar.simulator import Simulator
from simulators.smartcar.tokens import Grant

_VERSION = re.compile(r"^(\d+)\.(\d+)$")


def iso_ms(when: datetime) -> str:
    """``2018-06-20T01:33:37.078Z``, the form of SC-Data-Age and SC-Fetched-At."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def version_error(version: str) -> SmartcarError | None:
    """v2.0 is served; v1.0 is sunset (404 VERSION). Other numeric versions above 2.0
    fall back to the latest, as one python-sdk end-to-end test observed (UNCONFIRMED)."""
    match = _VERSION.match(version)
    if match is None or int(match[1]) < 2:
        return SmartcarError("RESOURCE_NOT_FOUND", "VERSION")
    return None


def check_version(request: web.Request) -> None:
    error = version_error(request.match_info.get("version", "2.0"))
    if error is not None:
        raise error


def bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def user_grant(sim: Simulator, request: web.Request) -> Grant:
    """The grant behind a per-user (Connect) access token, or 401 AUTHENTICATION."""
    token = bearer(request)
    grant = sim.tokens.grant_for(token) if token else None
    if grant is None:
        raise SmartcarError("AUTHENTICATION")
    return grant


@dataclass
class Caller:
    """Who is calling and what they may reach."""

    user_id: str
    vehicle_ids: list[str]
    scopes: frozenset[str]

    @classmethod
    def of(cls, grant: Grant) -> Caller:
        return cls(grant.user_id, grant.vehicle_ids, grant.scopes)


def vehicle_for(sim: Simulator, caller: Caller, vehicle_id: str) -> Vehicle:
    try:
        uuid.UUID(vehicle_id)
    except ValueError:
        # The live API answered a bogus id ("bad_id") with a 400.
        raise validation("vehicle_id", f'"vehicle_id" must be a valid UUID: {vehicle_id}') from None
    vehicle = sim.vehicles.get(vehicle_id)
    if vehicle is None or vehicle_id not in caller.vehicle_ids:
        # A vehicle the token does not cover (never granted, revoked by DELETE
        # /application or the Management API, or unknown): 403 PERMISSION. The reference
        # leaves 401 vs 403 open (UNCONFIRMED); this is the one place that decides.
        raise SmartcarError("PERMISSION")
    return vehicle


def reauthenticate_url(request: web.Request, vehicle_id: str) -> str:
    """The half-built Connect link AUTHENTICATION_FAILED carries in ``resolution.url``."""
    return str(
        URL(f"{request.scheme}://{request.host}/oauth/reauthenticate").with_query(
            response_type="vehicle_id", vehicle_id=vehicle_id
        )
    )


def admit(
    sim: Simulator,
    request: web.Request,
    caller: Caller,
    vehicle: Vehicle,
    *,
    method: str,
    path: str,
    permission: str | None,
    static: bool,
    count_vehicle: bool = True,
) -> None:
    """Everything after authentication and the app limit, for one (method, path)."""
    if permission is not None and permission not in caller.scopes:
        raise SmartcarError("PERMISSION")
    if count_vehicle and not static:
        sim.limits.check_vehicle(vehicle.id)
    sim.limits.bill(vehicle.id)
    try:
        sim.faults.take(vehicle.id, method, path, static)
    except SmartcarError as exc:
        if exc.code in ("AUTHENTICATION_FAILED", "VIRTUAL_KEY_REQUIRED"):
            exc.resolution_url = reauthenticate_url(request, vehicle.id)
        raise
    if not static:
        if vehicle.unreachable:
            raise SmartcarError("VEHICLE_STATE", "UNREACHABLE")
        if vehicle.asleep:
            raise SmartcarError("VEHICLE_STATE", "ASLEEP")
