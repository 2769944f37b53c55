"""The v2.0 vehicle endpoints (reference section 3): permission, headers and body of each
path below ``/v2.0/vehicles/{id}``. Units are metric unless ``SC-Unit-System: imperial``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from yarl import URL

from simulators.smartcar.errors import validation
from simulators.smartcar.model import KM_PER_MILE, Vehicle
from simulators.smartcar.simulator import Simulator

COMMAND_OK = {"status": "success", "message": "Successfully sent request to vehicle"}


@dataclass
class Call:
    sim: Simulator
    vehicle: Vehicle
    imperial: bool
    body: Any  # parsed JSON of a POST, else None
    origin: str  # scheme://host of this request, for Connect links


Run = Callable[[Call], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # below /vehicles/{id}; "/" is the vehicle itself
    permission: str | None
    run: Run
    static: bool = False  # answered from Smartcar's records: no car contact
    data_age: bool = False  # SC-Data-Age and SC-Fetched-At
    units: bool = False  # SC-Unit-System


def _distance(km: float, imperial: bool) -> float:
    return round(km / KM_PER_MILE if imperial else km, 2)


async def _attributes(c: Call) -> dict[str, Any]:
    v = c.vehicle
    return {"id": v.id, "make": v.make, "model": v.model, "year": v.year}


async def _vin(c: Call) -> dict[str, Any]:
    return {"vin": c.vehicle.vin}


async def _battery(c: Call) -> dict[str, Any]:
    v = c.vehicle
    return {"percentRemaining": round(v.soc, 4), "range": _distance(v.range_km(), c.imperial)}


async def _capacity(c: Call) -> dict[str, Any]:
    return {"capacity": c.vehicle.capacity_kwh}


async def _nominal_capacity(c: Call) -> dict[str, Any]:
    v = c.vehicle
    if v.nominal_capacity_kwh is None:
        # Smartcar cannot decide: no capacity, and a Connect link where the owner picks.
        url = URL(f"{c.origin}/battery-capacity").with_query(
            vehicle_id=v.id,
            client_id=c.sim.config.client_id,
            response_type="vehicle_id",
            redirect_uri="",
        )
        return {"availableCapacities": [], "capacity": None, "url": str(url)}
    return {
        "availableCapacities": [{"capacity": v.nominal_capacity_kwh, "description": None}],
        "capacity": {"nominal": v.nominal_capacity_kwh, "source": "SMARTCAR"},
        "url": None,
    }


async def _charge(c: Call) -> dict[str, Any]:
    return {"isPluggedIn": c.vehicle.plugged_in, "state": c.vehicle.charge_state}


async def _charge_limit(c: Call) -> dict[str, Any]:
    return {"limit": c.vehicle.charge_limit}


async def _location(c: Call) -> dict[str, Any]:
    return {"latitude": c.vehicle.latitude, "longitude": c.vehicle.longitude}


async def _odometer(c: Call) -> dict[str, Any]:
    return {"distance": _distance(c.vehicle.odometer_km, c.imperial)}


async def _command_delay(c: Call) -> None:
    if c.sim.config.command_delay_s > 0:
        await asyncio.sleep(c.sim.config.command_delay_s)


async def _charge_command(c: Call) -> dict[str, Any]:
    action = c.body.get("action") if isinstance(c.body, dict) else None
    if action not in ("START", "STOP"):
        raise validation("action", '"action" must be one of [START, STOP]')
    await _command_delay(c)
    with c.sim.changing(c.vehicle):
        if action == "START":
            c.vehicle.start_charging()
        else:
            c.vehicle.stop_charging(idle_is_error=c.sim.config.stop_when_idle == "error")
    return dict(COMMAND_OK)


def parse_limit(raw: Any) -> float:
    """0.5..1 as a number or a numeric string (the Node SDK sends a string)."""
    try:
        limit = float(raw) if isinstance(raw, int | float | str) and raw is not True else None
    except ValueError:
        limit = None
    if limit is None or not 0.5 <= limit <= 1.0:
        raise validation("limit", '"limit" must be a number from 0.5 to 1')
    return limit


async def _set_charge_limit(c: Call) -> dict[str, Any]:
    raw = c.body.get("limit") if isinstance(c.body, dict) else None
    limit = parse_limit(raw)
    await _command_delay(c)
    with c.sim.changing(c.vehicle):
        c.vehicle.set_limit(limit)
    return dict(COMMAND_OK)


ENDPOINTS: dict[tuple[str, str], Endpoint] = {
    (e.method, e.path): e
    for e in (
        Endpoint("GET", "/", "read_vehicle_info", _attributes, static=True),
        Endpoint("GET", "/vin", "read_vin", _vin, static=True),
        Endpoint("GET", "/battery", "read_battery", _battery, data_age=True, units=True),
        Endpoint("GET", "/battery/capacity", "read_battery", _capacity, data_age=True),
        Endpoint(
            "GET", "/battery/nominal_capacity", "read_battery", _nominal_capacity, data_age=True
        ),
        Endpoint("GET", "/charge", "read_charge", _charge, data_age=True),
        Endpoint("POST", "/charge", "control_charge", _charge_command),
        Endpoint("GET", "/charge/limit", "read_charge", _charge_limit, data_age=True),
        Endpoint("POST", "/charge/limit", "control_charge", _set_charge_limit),
        Endpoint("GET", "/location", "read_location", _location, data_age=True),
        Endpoint("GET", "/odometer", "read_odometer", _odometer, data_age=True, units=True),
    )
}
