"""The bridge as the application uses it: vehicles by id, tokens handled.

:class:`SmartcarBridge` puts the pieces together: Connect linking (state, code exchange,
what the driver linked), the token vault (a valid token per vehicle, refreshed under a
lock), and the client (v2.0 or v3). A 401 is answered the way the reference advises:
refresh once and retry; a second 401 marks the grant for re-authorisation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import asyncpg

from smartcar_bridge.client import SmartcarClient
from smartcar_bridge.errors import (
    ApiError,
    AuthenticationError,
    PermissionDenied,
    ReauthorizationRequired,
    SmartcarError,
)
from smartcar_bridge.models import (
    Battery,
    BatteryCapacity,
    ChargeLimit,
    ChargeStatus,
    CommandResult,
    Location,
    NominalCapacity,
    TokenSet,
    VehicleAttributes,
    VehicleSnapshot,
    Vin,
)
from smartcar_bridge.oauth import ConnectStates, OAuthClient, connect_url, parse_callback
from smartcar_bridge.tokens import TokenVault
from smartcar_bridge.transport import Auth

__all__ = ["ConnectResult", "LinkedVehicle", "SmartcarBridge"]

T = TypeVar("T")


@dataclass(frozen=True)
class LinkedVehicle:
    """What we learn about a vehicle when the driver links it. A read that failed leaves
    its field None and its error in ``errors``."""

    vehicle_id: str
    vin: str | None = None
    make: str | None = None
    model: str | None = None
    year: int | None = None
    capacity_kwh: float | None = None
    capacity_source: str | None = None
    errors: dict[str, SmartcarError] = field(default_factory=dict)


@dataclass(frozen=True)
class ConnectResult:
    """A completed Connect: the owner the state was issued for, the tokens, the user."""

    owner: str
    tokens: TokenSet
    user_id: str | None
    vehicles: tuple[LinkedVehicle, ...]


class SmartcarBridge:
    def __init__(
        self,
        client: SmartcarClient,
        oauth: OAuthClient,
        vault: TokenVault,
        states: ConnectStates,
    ) -> None:
        self.client = client
        self.oauth = oauth
        self.vault = vault
        self.states = states

    # --- linking -----------------------------------------------------------------------------

    async def start_link(
        self, owner: str, *, make: str | None = None, single_select_vin: str | None = None
    ) -> str:
        """A Connect URL for ``owner`` (an account id), with a fresh state bound to it."""
        state = await self.states.issue(owner)
        return connect_url(
            self.client.config, state, make=make, single_select_vin=single_select_vin
        )

    async def finish_link(self, query: Mapping[str, str]) -> ConnectResult:
        """Handle the Connect redirect: check the state (used up even if later steps
        fail), exchange the code, and read what the driver linked.

        Raises:
            ConnectError: the driver declined, or Connect failed.
            StateError: forged, used or expired state.
            OAuthError: the code was refused.
        """
        code, state = parse_callback(query)
        owner = await self.states.consume(state)
        tokens = await self.oauth.exchange_code(code)
        auth = Auth(tokens.access_token)
        user_id = (await self.client.user(auth)).id
        auth = Auth(tokens.access_token, user_id)
        # Sorted: whoever stores several links locks their rows in one global order.
        vehicle_ids = sorted(await self.client.all_vehicles(auth))
        vehicles = tuple([await self._describe(auth, vid) for vid in vehicle_ids])
        return ConnectResult(owner, tokens, user_id, vehicles)

    async def _describe(self, auth: Auth, vehicle_id: str) -> LinkedVehicle:
        errors: dict[str, SmartcarError] = {}
        values: dict[str, object] = {}
        reads: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            ("attributes", lambda: self.client.attributes(auth, vehicle_id)),
            ("vin", lambda: self.client.vin(auth, vehicle_id)),
            ("nominal_capacity", lambda: self.client.nominal_capacity(auth, vehicle_id)),
        ]
        for name, read in reads:
            try:
                values[name] = await read()
            except ApiError as exc:
                errors[name] = exc
        attributes = values.get("attributes")
        vin = values.get("vin")
        nominal = values.get("nominal_capacity")
        capacity = nominal.capacity_kwh if isinstance(nominal, NominalCapacity) else None
        source = nominal.source if isinstance(nominal, NominalCapacity) else None
        if capacity is None and self.client.v3 is None:
            try:  # the older endpoint, which Canadian vehicles still need
                capacity = (await self.client.battery_capacity(auth, vehicle_id)).capacity_kwh
                source = "BATTERY_CAPACITY"
            except ApiError as exc:
                errors["battery_capacity"] = exc
        return LinkedVehicle(
            vehicle_id=vehicle_id,
            vin=vin.vin if isinstance(vin, Vin) else None,
            make=attributes.make if isinstance(attributes, VehicleAttributes) else None,
            model=attributes.model if isinstance(attributes, VehicleAttributes) else None,
            year=attributes.year if isinstance(attributes, VehicleAttributes) else None,
            capacity_kwh=capacity,
            capacity_source=source,
            errors=errors,
        )

    async def save_link(self, conn: asyncpg.Connection, result: ConnectResult) -> int:
        """Store the grant and link its vehicles, in the caller's transaction."""
        grant_id = await self.vault.save_grant(
            conn,
            result.tokens,
            smartcar_user_id=result.user_id,
            scopes=[s.removeprefix("required:") for s in self.client.config.scopes],
        )
        for vehicle in result.vehicles:
            await self.vault.link(conn, vehicle.vehicle_id, grant_id)
        return grant_id

    async def revoke(self, vehicle_id: str) -> None:
        """Revoke this application's access to the vehicle at Smartcar. Access that is
        already gone (no tokens, refused refresh, 401, or 403 because the driver revoked
        it) has nothing left to revoke.

        Raises:
            SmartcarError: a transient failure; nothing was revoked, try again.
        """
        try:
            await self._call(vehicle_id, lambda auth: self.client.disconnect(auth, vehicle_id))
        except (ReauthorizationRequired, AuthenticationError, PermissionDenied):
            return

    async def forget(self, conn: asyncpg.Connection, vehicle_id: str) -> bool:
        """Delete the vehicle's tokens (its grant once no vehicle uses it)."""
        return await self.vault.forget(conn, vehicle_id)

    # --- vehicle calls -------------------------------------------------------------------------

    async def _call(self, vehicle_id: str, call: Callable[[Auth], Awaitable[T]]) -> T:
        auth = await self.vault.auth(vehicle_id)
        try:
            return await call(auth)
        except AuthenticationError:
            auth = await self.vault.refreshed(vehicle_id, auth)
        try:
            return await call(auth)
        except AuthenticationError as exc:
            # A token fresh from the token endpoint is refused: access was revoked.
            await self.vault.mark_reauth_required(vehicle_id, str(exc))
            raise ReauthorizationRequired(
                f"Smartcar refuses even a fresh token: {exc}", code="revoked"
            ) from exc

    async def attributes(self, vehicle_id: str) -> VehicleAttributes:
        return await self._call(vehicle_id, lambda a: self.client.attributes(a, vehicle_id))

    async def vin(self, vehicle_id: str) -> Vin:
        return await self._call(vehicle_id, lambda a: self.client.vin(a, vehicle_id))

    async def battery(self, vehicle_id: str) -> Battery:
        return await self._call(vehicle_id, lambda a: self.client.battery(a, vehicle_id))

    async def battery_capacity(self, vehicle_id: str) -> BatteryCapacity:
        return await self._call(vehicle_id, lambda a: self.client.battery_capacity(a, vehicle_id))

    async def nominal_capacity(self, vehicle_id: str) -> NominalCapacity:
        return await self._call(vehicle_id, lambda a: self.client.nominal_capacity(a, vehicle_id))

    async def charge_status(self, vehicle_id: str) -> ChargeStatus:
        return await self._call(vehicle_id, lambda a: self.client.charge_status(a, vehicle_id))

    async def charge_limit(self, vehicle_id: str) -> ChargeLimit:
        return await self._call(vehicle_id, lambda a: self.client.charge_limit(a, vehicle_id))

    async def location(self, vehicle_id: str) -> Location:
        return await self._call(vehicle_id, lambda a: self.client.location(a, vehicle_id))

    async def snapshot(self, vehicle_id: str) -> VehicleSnapshot:
        return await self._call(vehicle_id, lambda a: self.client.snapshot(a, vehicle_id))

    async def start_charge(self, vehicle_id: str) -> CommandResult:
        return await self._call(vehicle_id, lambda a: self.client.start_charge(a, vehicle_id))

    async def stop_charge(self, vehicle_id: str) -> CommandResult:
        return await self._call(vehicle_id, lambda a: self.client.stop_charge(a, vehicle_id))

    async def set_charge_limit(self, vehicle_id: str, limit: float) -> CommandResult:
        return await self._call(
            vehicle_id, lambda a: self.client.set_charge_limit(a, vehicle_id, limit)
        )
