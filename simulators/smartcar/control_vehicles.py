"""Control API: simulated vehicles, their state, a charger's energy and webhook events."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from simulators.smartcar.control_io import (
    ControlError,
    bad,
    boolean,
    location,
    number,
    read_body,
    sim_of,
    vehicle_of,
)
from simulators.smartcar.errors import SmartcarError
from simulators.smartcar.model import Vehicle
from simulators.smartcar.signals import SIGNALS, signal_ref
from simulators.smartcar.simulator import VEHICLE_FIELDS, Simulator


async def create_vehicle(request: web.Request) -> web.StreamResponse:
    """Fields: make, model, year, vin, capacity_kwh, nominal_capacity_kwh, soc,
    efficiency, max_power_kw, km_per_kwh, charge_limit, location / latitude+longitude,
    heading, odometer_km, owner (user id or email; a new user when absent), plus the
    state fields PATCH takes."""
    sim = sim_of(request)
    body = await read_body(request)
    fields = {k: body[k] for k in VEHICLE_FIELDS if body.get(k) is not None}
    fields.update(location(body))
    owner = body.get("owner")
    try:
        owner_id = None
        if owner is not None:
            user = sim.find_user(str(owner))
            if user is None and "@" not in str(owner):
                raise ControlError(404, "not_found", "no such user", "owner")
            owner_id = (user or sim.create_user(email=str(owner))).id
        vehicle = sim.create_vehicle(
            owner_id=owner_id,
            make=body.get("make"),
            model=body.get("model"),
            year=body.get("year"),
            vin=body.get("vin"),
            vehicle_id=body.get("id"),
            **fields,
        )
        _patch(sim, vehicle, body)
    except (ValueError, TypeError) as exc:
        raise bad("body", str(exc)) from None
    return web.json_response(vehicle.to_json(), status=201)


async def list_vehicles(request: web.Request) -> web.StreamResponse:
    return web.json_response({"items": [v.to_json() for v in sim_of(request).vehicles.values()]})


async def get_vehicle(request: web.Request) -> web.StreamResponse:
    return web.json_response(vehicle_of(request).to_json())


def _patch(sim: Simulator, v: Vehicle, body: dict[str, Any]) -> None:
    """Validate everything first, then apply in one change (one webhook event)."""
    plugged, fault = boolean(body, "plugged_in"), boolean(body, "charge_fault")
    asleep, unreachable = boolean(body, "asleep"), boolean(body, "unreachable")
    wants = boolean(body, "wants_charge")
    soc, limit = number(body, "soc", 0, 1), number(body, "charge_limit", 0.5, 1)
    numbers = {k: number(body, k, 0, 1e9) for k in ("odometer_km", "heading")}
    numbers |= {
        k: number(body, k, 1e-3, 1e4) for k in ("capacity_kwh", "max_power_kw", "km_per_kwh")
    }
    efficiency = number(body, "efficiency", 0.01, 1)
    where = location(body)
    state = body.get("charge_state", body.get("state"))
    if state is not None and state not in ("CHARGING", "FULLY_CHARGED", "NOT_CHARGING"):
        raise bad("charge_state", "charge_state must be CHARGING, FULLY_CHARGED or NOT_CHARGING")
    if state not in (None, "NOT_CHARGING") and not (plugged or (plugged is None and v.plugged_in)):
        raise ControlError(
            409, "unplugged", f"{state} needs the vehicle plugged in", "charge_state"
        )
    with sim.changing(v):
        if plugged is True:
            v.plug()
        elif plugged is False:
            v.unplug()
        if wants is not None:
            v.wants_charge = wants
        for key, value in numbers.items():
            if value is not None:
                setattr(v, key, value)
        if efficiency is not None:
            v.efficiency = efficiency
        if limit is not None:
            v.set_limit(limit)
        if soc is not None:
            v.set_soc(soc)
        if state is not None:
            v.set_charge_state(state)
        for key, flag in (
            ("charge_fault", fault),
            ("asleep", asleep),
            ("unreachable", unreachable),
        ):
            if flag is not None:
                setattr(v, key, flag)
        if where:
            v.latitude = where.get("latitude", v.latitude)
            v.longitude = where.get("longitude", v.longitude)


async def patch_vehicle(request: web.Request) -> web.StreamResponse:
    vehicle = vehicle_of(request)
    try:
        _patch(sim_of(request), vehicle, await read_body(request))
    except ValueError as exc:
        raise bad("body", str(exc)) from None
    return web.json_response(vehicle.to_json())


async def energy(request: web.Request) -> web.StreamResponse:
    """Energy from a charger: SoC rises by wh x efficiency / capacity while plugged in and
    charging (409 otherwise), up to the charge limit. ``accepted_wh`` says how much the car
    took (less near the limit, or above ``max_power_kw`` over ``duration_s``)."""
    sim, vehicle = sim_of(request), vehicle_of(request)
    body = await read_body(request)
    wh = number(body, "wh", 0, 1e9)
    if wh is None:
        raise bad("wh", "wh is required")
    duration = number(body, "duration_s", 0, 1e9)
    if not vehicle.plugged_in or not vehicle.is_charging:
        why = "not plugged in" if not vehicle.plugged_in else f"{vehicle.charge_state}"
        raise ControlError(409, "not_charging", f"the vehicle takes no energy: {why}")
    accepted = sim.deliver_energy(vehicle, wh, duration)
    return web.json_response({"accepted_wh": round(accepted, 3), "vehicle": vehicle.to_json()})


async def trigger_event(request: web.Request) -> web.StreamResponse:
    """``{"event_type": "VEHICLE_STATE", "triggers"?: [signal codes]}`` or
    ``{"event_type": "VEHICLE_ERROR", "type", "code", "state"?: "ERROR"|"RESOLVED"}``."""
    sim, vehicle = sim_of(request), vehicle_of(request)
    body = await read_body(request)
    kind = body.get("event_type", "VEHICLE_STATE")
    if kind == "VEHICLE_STATE":
        codes = body.get("triggers") or ["FIRST_DELIVERY"]
        if not isinstance(codes, list) or not all(
            c == "FIRST_DELIVERY" or c in SIGNALS for c in codes
        ):
            raise bad("triggers", "triggers must be signal codes or FIRST_DELIVERY")
        refs = [{"code": c} if c == "FIRST_DELIVERY" else signal_ref(c) for c in codes]
        delivery = sim.emit_state(vehicle, refs)
    elif kind == "VEHICLE_ERROR":
        state = body.get("state", "ERROR")
        if state not in ("ERROR", "RESOLVED"):
            raise bad("state", "state must be ERROR or RESOLVED")
        try:
            error = SmartcarError(str(body.get("type")), body.get("code"))
        except ValueError as exc:
            raise bad("code", str(exc)) from None
        delivery = sim.emit_error(vehicle, error, state)
    else:
        raise bad("event_type", "event_type must be VEHICLE_STATE or VEHICLE_ERROR")
    return web.json_response(delivery.to_json(), status=201)


async def subscription(request: web.Request) -> web.StreamResponse:
    sim, vehicle = sim_of(request), vehicle_of(request)
    if request.method == "PUT":
        sim.subscribe(vehicle.id)
    else:
        sim.webhook.subscribed.discard(vehicle.id)
    return web.json_response(sim.webhook.to_json())
