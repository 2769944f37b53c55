"""The simulator's state: users, vehicles, OAuth tokens, connections, limits, faults and
the webhook, plus the operations the control API and the Smartcar endpoints share.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from simulators.smartcar.config import PERMISSIONS, SimConfig
from simulators.smartcar.errors import SmartcarError
from simulators.smartcar.limits import Fault, Faults, RateLimits
from simulators.smartcar.model import CATALOGUE, IdSource, User, Vehicle
from simulators.smartcar.signals import signal_ref, signal_values, webhook_signal
from simulators.smartcar.tokens import Grant, TokenStore
from simulators.smartcar.webhooks import Delivery, Webhook

# Smartcar's error-injection logins: <TYPE>.<CODE>@smartcar.com (reference section 7).
MAGIC_EMAIL = re.compile(r"^([A-Z_]+)\.([A-Z_]+)@smartcar\.com$")
VEHICLE_FIELDS = (
    "capacity_kwh",
    "nominal_capacity_kwh",
    "soc",
    "efficiency",
    "max_power_kw",
    "km_per_kwh",
    "charge_limit",
    "latitude",
    "longitude",
    "heading",
    "odometer_km",
)


@dataclass
class Connection:
    """A vehicle a user has connected to the application (the Management API's view)."""

    user_id: str
    vehicle_id: str
    connected_at: datetime
    mode: str
    scopes: frozenset[str]


@dataclass
class LoggedRequest:
    at: datetime
    method: str
    path: str
    status: int
    vehicle_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "vehicle_id": self.vehicle_id,
        }


class Simulator:
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.clock = config.clock
        self.ids = IdSource(config.seed)
        self.users: dict[str, User] = {}
        self.vehicles: dict[str, Vehicle] = {}
        self.tokens = TokenStore(self.clock, config.refresh_grace_s)
        self.connections: dict[tuple[str, str], Connection] = {}
        self.limits = RateLimits(
            self.clock,
            app_per_s=config.rate_limit_app_per_s,
            app_burst=config.rate_limit_app_burst,
            vehicle_per_min=config.rate_limit_vehicle_per_min,
            monthly_per_vehicle=config.monthly_requests_per_vehicle,
        )
        self.faults = Faults()
        self.webhook = Webhook(config, config.webhook_id or self.ids.uuid(), self.clock)
        self.requests: deque[LoggedRequest] = deque(maxlen=10_000)
        for _ in range(config.vehicles):
            self.create_vehicle()

    # -- users and vehicles ------------------------------------------------------------
    def create_user(self, email: str | None = None, user_id: str | None = None) -> User:
        user_id = user_id or self.ids.uuid()
        if user_id in self.users:
            raise ValueError(f"user {user_id} exists")
        email = email or f"driver{len(self.users) + 1}@example.com"
        if self.user_by_email(email) is not None:
            raise ValueError(f"a user with email {email} exists")
        user = User(user_id, email)
        self.users[user.id] = user
        return user

    def user_by_email(self, email: str) -> User | None:
        return next((u for u in self.users.values() if u.email.lower() == email.lower()), None)

    def find_user(self, key: str) -> User | None:
        """A user by id or email; magic error emails create their user on first use."""
        user = self.users.get(key) or self.user_by_email(key)
        if user is None and (match := MAGIC_EMAIL.match(key)):
            user = self.create_user(email=key)
            vehicle = self.create_vehicle(owner_id=user.id)
            self.faults.add(Fault(match[1], match[2], vehicle_id=vehicle.id, remaining=None))
        return user

    def vehicles_of(self, user_id: str) -> list[Vehicle]:
        return [v for v in self.vehicles.values() if v.owner_id == user_id]

    def create_vehicle(
        self,
        *,
        owner_id: str | None = None,
        make: str | None = None,
        model: str | None = None,
        year: int | None = None,
        vin: str | None = None,
        vehicle_id: str | None = None,
        **fields: Any,
    ) -> Vehicle:
        """A new vehicle; unknown ``fields`` raise, missing ones follow the catalogue."""
        unknown = set(fields) - set(VEHICLE_FIELDS)
        if unknown:
            raise ValueError(f"unknown vehicle fields: {', '.join(sorted(unknown))}")
        if owner_id is None:
            owner_id = self.create_user().id
        elif owner_id not in self.users:
            raise ValueError(f"unknown user {owner_id}")
        cat_make, cat_model, cat_year, kwh, kw = CATALOGUE[len(self.vehicles) % len(CATALOGUE)]
        vin = (vin or self.ids.vin()).upper()
        if len(vin) != 17 or any(v.vin == vin for v in self.vehicles.values()):
            raise ValueError("vin must be 17 characters and unique")
        vehicle_id = vehicle_id or self.ids.uuid()
        if vehicle_id in self.vehicles:
            raise ValueError(f"vehicle {vehicle_id} exists")
        defaults: dict[str, Any] = {
            "capacity_kwh": kwh,
            "nominal_capacity_kwh": fields.get("capacity_kwh", kwh),
            "soc": round(self.ids.uniform(0.2, 0.8), 2),
            "max_power_kw": kw,
            "latitude": round(37.4292 + self.ids.uniform(-0.05, 0.05), 6),
            "longitude": round(-122.1381 + self.ids.uniform(-0.05, 0.05), 6),
        }
        values = {**defaults, **fields}
        vehicle = Vehicle(
            id=vehicle_id,
            vin=vin,
            make=(make or cat_make).upper(),
            model=model or cat_model,
            year=int(year or cat_year),
            owner_id=owner_id,
            updated_at=self.clock(),
            **values,
        )
        self._validate(vehicle)
        self.vehicles[vehicle.id] = vehicle
        return vehicle

    @staticmethod
    def _validate(v: Vehicle) -> None:
        if v.capacity_kwh <= 0 or not 0 < v.efficiency <= 1 or v.max_power_kw <= 0:
            raise ValueError("capacity_kwh and max_power_kw must be > 0, efficiency in (0, 1]")
        if not 0 <= v.soc <= 1 or not 0.5 <= v.charge_limit <= 1:
            raise ValueError("soc must be within 0..1 and charge_limit within 0.5..1")
        if not -90 <= v.latitude <= 90 or not -180 <= v.longitude <= 180:
            raise ValueError("latitude/longitude out of range")

    @contextmanager
    def changing(self, vehicle: Vehicle) -> Iterator[None]:
        """Wrap a state change (also one that ends in an error, such as a START that finds
        the car full): when anything changed, stamp the data age, then send VEHICLE_STATE
        for changed trigger signals and VEHICLE_ERROR when the car falls asleep, drops off
        the network or comes back (subscribed vehicles only)."""
        triggers = self.webhook.triggers
        snapshot = vehicle.to_json()
        before = signal_values(vehicle, triggers)
        errors_before = self._state_errors(vehicle)
        try:
            yield
        finally:
            if vehicle.to_json() != snapshot:
                vehicle.updated_at = self.clock()
                if vehicle.id in self.webhook.subscribed:
                    self._announce(vehicle, before, errors_before)

    def _announce(self, vehicle: Vehicle, before: dict[str, Any], errors_before: set[str]) -> None:
        triggers = self.webhook.triggers
        after = signal_values(vehicle, triggers)
        changed = [code for code in triggers if before.get(code) != after.get(code)]
        if changed:
            self.emit_state(vehicle, [signal_ref(code) for code in changed])
        errors_after = self._state_errors(vehicle)
        for code in errors_after - errors_before:
            self.emit_error(vehicle, SmartcarError("VEHICLE_STATE", code), "ERROR")
        for code in errors_before - errors_after:
            self.emit_error(vehicle, SmartcarError("VEHICLE_STATE", code), "RESOLVED")

    @staticmethod
    def _state_errors(vehicle: Vehicle) -> set[str]:
        return {
            code
            for code, on in (("ASLEEP", vehicle.asleep), ("UNREACHABLE", vehicle.unreachable))
            if on
        }

    def deliver_energy(self, vehicle: Vehicle, wh: float, duration_s: float | None) -> float:
        with self.changing(vehicle):
            return vehicle.accept_energy(wh, duration_s)

    # -- OAuth grants and connections --------------------------------------------------
    def connect(self, grant: Grant) -> None:
        """Record the grant's vehicles as connected (when tokens are first issued)."""
        now = self.clock()
        for vehicle_id in grant.vehicle_ids:
            key = (grant.user_id, vehicle_id)
            known = self.connections.get(key)
            scopes = grant.scopes | (known.scopes if known else frozenset())
            self.connections[key] = Connection(
                grant.user_id, vehicle_id, known.connected_at if known else now, grant.mode, scopes
            )
            if self.config.webhook_auto_enroll and vehicle_id not in self.webhook.subscribed:
                self.subscribe(vehicle_id)

    def disconnect(self, vehicle_id: str, user_id: str | None = None) -> list[Connection]:
        gone = [
            c
            for c in self.connections.values()
            if c.vehicle_id == vehicle_id and (user_id is None or c.user_id == user_id)
        ]
        for c in gone:
            del self.connections[(c.user_id, c.vehicle_id)]
            self.tokens.revoke_vehicle(c.vehicle_id, c.user_id)
        return gone

    def mint_grant(
        self, user_id: str, vehicle_ids: list[str] | None = None, scopes: Any = None
    ) -> Grant:
        """A grant without Connect (control API): all the user's vehicles by default."""
        if user_id not in self.users:
            raise ValueError(f"unknown user {user_id}")
        owned = {v.id for v in self.vehicles_of(user_id)}
        ids = list(vehicle_ids) if vehicle_ids is not None else sorted(owned)
        if not set(ids) <= owned:
            raise ValueError("the user does not own all of these vehicles")
        wanted = frozenset(scopes if scopes is not None else PERMISSIONS)
        if not wanted <= set(PERMISSIONS):
            raise ValueError(f"unknown permissions: {sorted(wanted - set(PERMISSIONS))}")
        return Grant(user_id, ids, wanted, mode="simulated")

    # -- webhooks ----------------------------------------------------------------------
    def subscribe(self, vehicle_id: str) -> None:
        """Subscribe the vehicle; the first delivery carries every signal."""
        self.webhook.subscribed.add(vehicle_id)
        self.emit_state(self.vehicles[vehicle_id], [{"code": "FIRST_DELIVERY"}])

    def _event_data(self, vehicle: Vehicle) -> dict[str, Any]:
        return {
            "user": {"id": vehicle.owner_id},
            "vehicle": {
                "id": vehicle.id,
                "make": vehicle.make,
                "model": vehicle.model,
                "year": vehicle.year,
            },
        }

    def _mode(self, vehicle: Vehicle) -> str:
        modes = [c.mode for c in self.connections.values() if c.vehicle_id == vehicle.id]
        return (modes[0] if modes else "live").upper()

    def emit_state(self, vehicle: Vehicle, triggers: list[dict[str, Any]]) -> Delivery:
        now = self.clock()
        signals = [webhook_signal(vehicle, code, now) for code in self.webhook.signals]
        data = {**self._event_data(vehicle), "triggers": triggers, "signals": signals}
        meta = {"signalCount": len(signals), "mode": self._mode(vehicle)}
        return self.webhook.emit("VEHICLE_STATE", vehicle.id, data, meta)

    def emit_error(self, vehicle: Vehicle, error: SmartcarError, state: str) -> Delivery:
        item = {
            "type": error.type,
            "code": error.code,
            "state": state,
            "description": error.spec.description,
            "suggestedUserMessage": error.spec.user_message,
            "docURL": error.doc_url(),
            "resolution": error.resolution(),
            "signals": [signal_ref(code) for code in self.webhook.signals],
        }
        data = {**self._event_data(vehicle), "errors": [item]}
        return self.webhook.emit("VEHICLE_ERROR", vehicle.id, data, {"mode": self._mode(vehicle)})
