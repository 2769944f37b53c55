"""v3 signals (reference 3.1, 6.4): code, name, group, permission and body from a vehicle.

Shared by the v3 Vehicle API and the webhook payloads. v3 SoC and limits are 0..100
percent, not v2's 0..1 fractions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from simulators.smartcar.model import Vehicle


def epoch_ms(when: datetime) -> int:
    # Signal timestamps are epoch values whose unit is UNCONFIRMED (the spec examples are
    # seconds, the webhook examples milliseconds). We use milliseconds everywhere.
    return int(when.timestamp() * 1000)


def _pct(fraction: float) -> float:
    return round(fraction * 100, 1)


def _nominal(v: Vehicle) -> dict[str, Any]:
    nominal = v.nominal_capacity_kwh
    return {
        "source": "SMARTCAR" if nominal is not None else None,
        "capacity": nominal,
        "availableCapacities": (
            [{"capacity": nominal, "description": None}] if nominal is not None else []
        ),
        "unit": "kWh",
    }


def _location(v: Vehicle) -> dict[str, Any]:
    directions = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
    return {
        "latitude": v.latitude,
        "longitude": v.longitude,
        "heading": v.heading,
        "direction": directions[round(v.heading / 45) % 8],
        "locationType": "CURRENT",
    }


@dataclass(frozen=True)
class Signal:
    code: str
    name: str
    group: str
    permission: str
    body: Callable[[Vehicle], dict[str, Any]]
    static: bool = False  # served from Smartcar's records, not the car


SIGNALS: dict[str, Signal] = {
    s.code: s
    for s in (
        Signal(
            "vehicleidentification-vin",
            "Vin",
            "VehicleIdentification",
            "read_vin",
            lambda v: {"value": v.vin},
            static=True,
        ),
        Signal(
            "tractionbattery-stateofcharge",
            "StateOfCharge",
            "TractionBattery",
            "read_battery",
            lambda v: {"unit": "percent", "value": _pct(v.soc)},
        ),
        Signal(
            "tractionbattery-range",
            "Range",
            "TractionBattery",
            "read_battery",
            lambda v: {"unit": "kilometers", "value": round(v.range_km(), 1)},
        ),
        Signal(
            "tractionbattery-nominalcapacity",
            "NominalCapacity",
            "TractionBattery",
            "read_battery",
            _nominal,
        ),
        Signal(
            "charge-ischargingcableconnected",
            "IsChargingCableConnected",
            "Charge",
            "read_charge",
            lambda v: {"value": v.plugged_in},
        ),
        Signal(
            "charge-ischarging",
            "IsCharging",
            "Charge",
            "read_charge",
            lambda v: {"value": v.is_charging},
        ),
        Signal(
            "charge-detailedchargingstatus",
            "DetailedChargingStatus",
            "Charge",
            "read_charge",
            lambda v: {"value": v.charge_state},
        ),
        Signal(
            "charge-chargelimits",
            "ChargeLimits",
            "Charge",
            "read_charge",
            lambda v: {
                "values": [{"type": "GLOBAL", "limit": _pct(v.charge_limit), "condition": None}],
                "activeLimit": _pct(v.charge_limit),
                "unit": "percent",
            },
        ),
        Signal(
            "charge-energyadded",
            "EnergyAdded",
            "Charge",
            "read_charge",
            lambda v: {"unit": "kilowatt_hours", "value": round(v.energy_added_kwh, 3)},
        ),
        Signal(
            "location-preciselocation", "PreciseLocation", "Location", "read_location", _location
        ),
        Signal(
            "odometer-traveleddistance",
            "TraveledDistance",
            "Odometer",
            "read_odometer",
            lambda v: {"unit": "kilometers", "value": round(v.odometer_km, 1)},
        ),
    )
}


def signal_ref(code: str) -> dict[str, str]:
    """``{code, name, group}`` as webhook triggers and error items name a signal."""
    s = SIGNALS[code]
    return {"code": s.code, "name": s.name, "group": s.group}


def signal_values(vehicle: Vehicle, codes: tuple[str, ...]) -> dict[str, Any]:
    return {code: SIGNALS[code].body(vehicle) for code in codes if code in SIGNALS}


def signal_resource(vehicle: Vehicle, code: str, now: datetime) -> dict[str, Any]:
    """The v3 REST SignalResource."""
    s = SIGNALS[code]
    return {
        "id": s.code,
        "type": "signal",
        "attributes": {
            "code": s.code,
            "name": s.name,
            "group": s.group,
            "status": {"value": "SUCCESS"},
            "body": s.body(vehicle),
        },
        "meta": {"retrievedAt": epoch_ms(now), "oemUpdatedAt": epoch_ms(vehicle.updated_at)},
        "links": {"self": f"/vehicles/{vehicle.id}/signals/{s.code}"},
    }


def webhook_signal(vehicle: Vehicle, code: str, now: datetime) -> dict[str, Any]:
    """A signal as VEHICLE_STATE webhooks carry it (``meta.fetchedAt``, not retrievedAt)."""
    s = SIGNALS[code]
    return {
        **signal_ref(code),
        "body": s.body(vehicle),
        "meta": {"oemUpdatedAt": epoch_ms(vehicle.updated_at), "fetchedAt": epoch_ms(now)},
    }
