"""The car's wish to take energy: set at plug-in and by START, cleared by STOP (v2 and v3)."""

from __future__ import annotations

from tests.simulators.smartcar.conftest import Harness
from tests.simulators.smartcar.test_vehicle_api import linked


async def test_stop_and_start_commands_change_what_the_car_takes(harness: Harness) -> None:
    token, vid = await linked(harness)
    car = f"/vehicles/{vid}"
    plugged = await harness.control("PATCH", car, {"plugged_in": True, "soc": 0.5})
    assert (plugged["wants_charge"], plugged["takes_energy"]) == (True, True)

    v2 = f"/v2.0/vehicles/{vid}/charge"
    assert (await harness.post(v2, token, {"action": "START"})).status == 200
    assert (await harness.post(v2, token, {"action": "STOP"})).status == 200
    stopped = await harness.control("GET", car)
    assert (stopped["wants_charge"], stopped["takes_energy"]) == (False, False)
    assert stopped["charge_state"] == "NOT_CHARGING"

    v3 = f"/v3/vehicles/{vid}/commands/charge"
    assert (await harness.post(f"{v3}/start", token, None)).status == 200
    assert (await harness.control("GET", car))["takes_energy"] is True
    assert (await harness.post(f"{v3}/stop", token, None)).status == 200
    assert (await harness.control("GET", car))["wants_charge"] is False

    timer = await harness.control("PATCH", car, {"plugged_in": False})
    timer = await harness.control("PATCH", car, {"plugged_in": True, "wants_charge": False})
    assert timer["takes_energy"] is False  # a departure timer: waits for START
    replug = await harness.control("PATCH", car, {"plugged_in": False})
    replug = await harness.control("PATCH", car, {"plugged_in": True})
    assert replug["wants_charge"] is True  # plugging in again resets the wish
    full = await harness.control("PATCH", car, {"soc": 1.0})
    assert (full["charge_state"], full["takes_energy"]) == ("FULLY_CHARGED", False)
