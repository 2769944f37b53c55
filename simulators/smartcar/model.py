"""Simulated users and vehicles: the battery model and the charge state machine.

A vehicle's ``soc`` is a 0..1 fraction of its usable ``capacity_kwh``. Energy a charger
delivers (Wh at the charger) raises it by ``wh x efficiency / capacity``, only while the
car is plugged in and charging, never past its charge limit (at most 1.0).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from simulators.smartcar.errors import SmartcarError

CHARGING = "CHARGING"
FULLY_CHARGED = "FULLY_CHARGED"
NOT_CHARGING = "NOT_CHARGING"
CHARGE_STATES = (CHARGING, FULLY_CHARGED, NOT_CHARGING)
KM_PER_MILE = 1.609344

# (make, model, year, usable kWh, max AC kW): what ``--vehicles N`` cycles through.
CATALOGUE = (
    ("TESLA", "Model 3", 2022, 57.5, 11.0),
    ("VOLKSWAGEN", "ID.4", 2023, 77.0, 11.0),
    ("FORD", "Mustang Mach-E", 2022, 88.0, 10.5),
    ("HYUNDAI", "IONIQ 5", 2023, 74.0, 10.9),
    ("BMW", "i4", 2023, 80.7, 11.0),
    ("NISSAN", "LEAF", 2021, 39.0, 6.6),
    ("CHEVROLET", "Bolt EV", 2022, 65.0, 11.0),
    ("KIA", "EV6", 2023, 74.0, 10.9),
)

_VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"  # no I, O, Q
_VIN_VALUES = dict(zip("ABCDEFGHJKLMNPRSTUVWXYZ", map(int, "12345678123457923456789"), strict=True))
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def vin_check_digit(vin: str) -> str:
    """The ISO 3779 / FMVSS 115 check digit (position 9) of a 17-character VIN."""
    total = sum(
        (int(ch) if ch.isdigit() else _VIN_VALUES[ch]) * weight
        for ch, weight in zip(vin, _VIN_WEIGHTS, strict=True)
    )
    rest = total % 11
    return "X" if rest == 10 else str(rest)


class IdSource:
    """Deterministic ids and VINs from a seed (tokens and request ids stay random)."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def vin(self) -> str:
        # Smartcar's test-mode VINs start with 0SC.
        body = "0SC" + "".join(self._rng.choice(_VIN_CHARS) for _ in range(14))
        return body[:8] + vin_check_digit(body[:8] + "0" + body[9:]) + body[9:]

    def uniform(self, low: float, high: float) -> float:
        return self._rng.uniform(low, high)


@dataclass
class User:
    id: str
    email: str

    def to_json(self, vehicle_ids: list[str]) -> dict[str, Any]:
        return {"id": self.id, "email": self.email, "vehicles": vehicle_ids}


@dataclass
class Vehicle:
    id: str
    vin: str
    make: str
    model: str
    year: int
    owner_id: str
    updated_at: datetime  # when the car last recorded its data (SC-Data-Age)
    capacity_kwh: float = 60.0  # usable; what /battery/capacity reports and SoC refers to
    nominal_capacity_kwh: float | None = 60.0  # None: Smartcar cannot tell (owner picks)
    soc: float = 0.5
    efficiency: float = 0.9  # share of the charger's energy that ends up in the battery
    max_power_kw: float = 11.0
    km_per_kwh: float = 6.0
    charge_limit: float = 1.0
    plugged_in: bool = False
    charge_state: str = NOT_CHARGING
    # The car's own wish to take energy while plugged in: set at plug-in and by a START
    # command, cleared by STOP (or a departure timer). Chargers limit power to 0 without it.
    wants_charge: bool = True
    latitude: float = 37.4292
    longitude: float = -122.1381
    heading: float = 0.0
    odometer_km: float = 10_000.0
    asleep: bool = False
    unreachable: bool = False
    charge_fault: bool = False
    energy_added_kwh: float = 0.0  # into the battery since it was plugged in
    extra: dict[str, Any] = field(default_factory=dict)

    # -- read side ---------------------------------------------------------------------
    @property
    def is_charging(self) -> bool:
        return self.charge_state == CHARGING

    def range_km(self) -> float:
        return self.soc * self.capacity_kwh * self.km_per_kwh

    # -- state changes (callers stamp ``updated_at``) ----------------------------------
    @property
    def takes_energy(self) -> bool:
        """Whether the car draws power from a charger now (plugged in, wants charge, room
        below its charge limit)."""
        return self.plugged_in and self.wants_charge and self.soc < min(self.charge_limit, 1.0)

    def plug(self) -> None:
        if not self.plugged_in:
            self.plugged_in = True
            self.wants_charge = True
            self.energy_added_kwh = 0.0
            self.charge_state = FULLY_CHARGED if self.soc >= self.charge_limit else NOT_CHARGING

    def unplug(self) -> None:
        self.plugged_in = False
        self.charge_state = NOT_CHARGING

    def start_charging(self) -> None:
        """What the car does with a START command; the errors of POST /charge."""
        if not self.plugged_in:
            raise SmartcarError("VEHICLE_STATE", "CHARGING_PLUG_NOT_CONNECTED")
        if self.charge_fault:
            raise SmartcarError("VEHICLE_STATE", "CHARGE_FAULT")
        self.wants_charge = True
        if self.charge_state == CHARGING:
            raise SmartcarError("VEHICLE_STATE", "CHARGING_IN_PROGRESS")
        if self.soc >= self.charge_limit:
            self.charge_state = FULLY_CHARGED
            raise SmartcarError("VEHICLE_STATE", "FULLY_CHARGED")
        self.charge_state = CHARGING

    def stop_charging(self, *, idle_is_error: bool) -> None:
        if not self.plugged_in:
            raise SmartcarError("VEHICLE_STATE", "CHARGING_PLUG_NOT_CONNECTED")
        self.wants_charge = False  # the car keeps the command even when idle
        if self.charge_state != CHARGING:
            if idle_is_error:
                raise SmartcarError("VEHICLE_STATE", "NOT_CHARGING")
            return
        self.charge_state = NOT_CHARGING

    def set_charge_state(self, state: str) -> None:
        """Force the reported state (control API); CHARGING needs the plug."""
        if state not in CHARGE_STATES:
            raise ValueError(f"charge state must be one of {', '.join(CHARGE_STATES)}")
        if state != NOT_CHARGING and not self.plugged_in:
            raise ValueError(f"{state} needs the vehicle plugged in")
        self.charge_state = state

    def set_soc(self, soc: float) -> None:
        if not 0.0 <= soc <= 1.0:
            raise ValueError("soc must be within 0..1")
        self.soc = soc
        self._settle()

    def set_limit(self, limit: float) -> None:
        self.charge_limit = limit
        self._settle()

    def _settle(self) -> None:
        """Keep the state consistent with SoC and limit."""
        if self.plugged_in and self.soc >= self.charge_limit:
            self.charge_state = FULLY_CHARGED
        elif self.charge_state == FULLY_CHARGED:
            self.charge_state = NOT_CHARGING

    def accept_energy(self, wh: float, duration_s: float | None = None) -> float:
        """Take ``wh`` from a charger; returns the Wh actually accepted.

        Only while plugged in and charging. Bounded by what fits below the charge limit
        and, when ``duration_s`` is given, by ``max_power_kw`` over that time.
        """
        if wh < 0:
            raise ValueError("wh must not be negative")
        if not (self.plugged_in and self.is_charging):
            return 0.0
        accepted = wh
        if duration_s is not None:
            accepted = min(accepted, self.max_power_kw * 1000.0 * duration_s / 3600.0)
        room_wh = max(0.0, (min(self.charge_limit, 1.0) - self.soc)) * self.capacity_kwh * 1000
        accepted = min(accepted, room_wh / self.efficiency)
        stored_kwh = accepted * self.efficiency / 1000.0
        self.soc = min(1.0, self.soc + stored_kwh / self.capacity_kwh)
        self.energy_added_kwh += stored_kwh
        if self.soc >= min(self.charge_limit, 1.0) - 1e-9:
            self.soc = min(self.charge_limit, 1.0)
            self.charge_state = FULLY_CHARGED
        return accepted

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "vin": self.vin,
            "make": self.make,
            "model": self.model,
            "year": self.year,
            "owner_id": self.owner_id,
            "capacity_kwh": self.capacity_kwh,
            "nominal_capacity_kwh": self.nominal_capacity_kwh,
            "soc": self.soc,
            "efficiency": self.efficiency,
            "max_power_kw": self.max_power_kw,
            "km_per_kwh": self.km_per_kwh,
            "range_km": round(self.range_km(), 1),
            "charge_limit": self.charge_limit,
            "plugged_in": self.plugged_in,
            "charge_state": self.charge_state,
            "wants_charge": self.wants_charge,
            "takes_energy": self.takes_energy,
            "location": {"latitude": self.latitude, "longitude": self.longitude},
            "heading": self.heading,
            "odometer_km": self.odometer_km,
            "asleep": self.asleep,
            "unreachable": self.unreachable,
            "charge_fault": self.charge_fault,
            "energy_added_kwh": round(self.energy_added_kwh, 4),
            "updated_at": self.updated_at.isoformat(),
        }
