"""The matching rules (csms.matching) fed from the coupled simulators: the plugged car is
found, the wrong car parked nearby is not, and two cars at one charger are ambiguous."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from csms.matching import (
    LearnedTag,
    Method,
    Outcome,
    PlugEvent,
    Reason,
    VehicleObservation,
    decide,
    tag_to_learn,
)
from simulators.charger import SimulatedCharger
from simulators.ev import Faults, SimulatedEV
from tests.simulators.ev.conftest import CHARGER_AT, Smartcar

VID = "VID:92D50A693F80"


async def observe(car: SimulatedEV) -> VehicleObservation:
    """What a /batch of /charge and /location would say, read from the simulator."""
    state = await car.state()
    return VehicleObservation(
        vehicle_id=state["id"],
        vin=state["vin"],
        account_id=state["owner_id"],
        observed_at=datetime.now(UTC),
        data_age=datetime.fromisoformat(state["updated_at"]),
        is_plugged_in=state["plugged_in"],
        charge_state=state["charge_state"],
        latitude=state["location"]["latitude"],
        longitude=state["location"]["longitude"],
    )


def plug_event(connector: int, id_token: str | None = None) -> PlugEvent:
    return PlugEvent("CP1", connector, datetime.now(UTC), *CHARGER_AT, id_token=id_token)


async def test_the_plugged_car_matches_and_the_wrong_car_nearby_does_not(
    smartcar: Smartcar, charger: SimulatedCharger
) -> None:
    car, neighbour = await smartcar.car(), await smartcar.car()
    coupling = await car.plug_into(
        charger, 1, location=CHARGER_AT, faults=Faults(neighbour=neighbour)
    )
    event = plug_event(1, id_token=VID)
    decision = decide(event, [await observe(car), await observe(neighbour)])
    assert decision.outcome is Outcome.MATCHED
    assert decision.vehicle_id == car.vehicle_id
    by_vehicle = {e.vehicle_id: e.reason for e in decision.evidence}
    assert by_vehicle[neighbour.vehicle_id] is Reason.NOT_PLUGGED
    learned = tag_to_learn(event, decision)
    assert learned is not None
    await coupling.run_session("TAG1", energy_wh=550)

    # Next time the tag decides alone, with no Smartcar call.
    again = decide(plug_event(1, id_token=VID), [], [LearnedTag(*learned)])
    assert (again.outcome, again.method) == (Outcome.MATCHED, Method.AUTOCHARGE_TAG)
    assert again.vin == (await car.state())["vin"]


async def test_two_cars_plugged_in_at_one_charger_are_ambiguous(
    smartcar: Smartcar, charger: SimulatedCharger
) -> None:
    a, b = await smartcar.car(), await smartcar.car()
    one = await a.plug_into(charger, 1, location=CHARGER_AT)
    two = await b.plug_into(charger, 2, location=CHARGER_AT)
    sessions = [
        asyncio.create_task(c.run_session(tag, energy_wh=550))
        for c, tag in ((one, "TAG-A"), (two, "TAG-B"))
    ]
    observations = [await observe(a), await observe(b)]
    for connector in (1, 2):
        decision = decide(plug_event(connector), observations)
        assert decision.outcome is Outcome.AMBIGUOUS
        assert decision.vehicle_id is None
    await asyncio.gather(*sessions)
