"""Plug-and-charge scenarios from issue 7: simulated cars plugged into simulated chargers,
the central system matching them through the Smartcar simulator, driving the session and
billing it. Every scenario asserts the Smartcar calls stayed within the budgets."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from simulators.charger import BaseCharger
from simulators.ev import Faults, SimulatedEV
from tests.csms.plugcharge.conftest import SITE, World

pytestmark = pytest.mark.slow

MATCH_BUDGET = 30
SESSION_BUDGET = 12  # the default of CSMS_PNC_SESSION_CALL_BUDGET


async def assert_within_budget(world: World, attempt_id: int) -> tuple[int, int]:
    matching, session = await world.calls(attempt_id)
    assert matching <= MATCH_BUDGET
    assert session <= SESSION_BUDGET
    return matching, session


async def charge_to_the_end(world: World, charger: BaseCharger, ev: SimulatedEV, **kw: Any) -> Any:
    """Plug ``ev`` in at connector 1; wait until the session it starts has ended."""
    coupling = await ev.plug_into(charger, 1, location=SITE, **kw)
    attempt = await world.attempt_status(charger.config.charge_point_id, ("charging",))
    session_id = attempt["session_id"]

    async def ended() -> bool:
        status = await world.system.fetchval(
            "SELECT status FROM sessions WHERE id = $1", session_id
        )
        return bool(status == "completed")

    await world.until("the session to end", ended, within_s=60)
    return coupling, session_id


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
async def test_happy_path_from_plug_in_to_captured_payment(world: World, protocol: str) -> None:
    driver = await world.driver("ada@example.com", target=80)
    charger = await world.charger("PNC-1", protocol)
    ev = driver.cars[0]
    coupling, session_id = await charge_to_the_end(world, charger, ev)

    attempt = await world.attempt("PNC-1")
    assert attempt["method"] == "smartcar_plug_state"
    assert attempt["account_id"] == driver.account_id
    assert attempt["vehicle_id"] == driver.vehicle_ids[0]
    assert attempt["stop_reason"] == "target_soc"
    assert attempt["guard"] == "passed"
    session = (await world.system.fetch("SELECT * FROM sessions WHERE id = $1", session_id))[0]
    assert session["account_id"] == driver.account_id
    assert session["energy_wh"] > 3000
    car = await ev.state()
    assert Decimal(str(car["soc"])) >= Decimal("0.79")  # stopped at the 80% target
    assert car["charge_state"] != "CHARGING"  # the car was told to STOP

    invoice = await world.invoice(session_id)
    assert invoice["verdict"] == "OK"
    assert invoice["status"] == "issued"
    payment = await world.payment(session_id, ("captured",))
    assert 0 < payment["captured_minor"] <= attempt["hold_minor"]
    assert payment["attempt_id"] == attempt["id"]
    await coupling.unplug()

    matching, spent = await assert_within_budget(world, attempt["id"])
    assert matching > 0  # matched by polling
    readings = await world.system.fetch(
        "SELECT purpose FROM vehicle_readings WHERE attempt_id = $1 AND soc_percent IS NOT NULL",
        attempt["id"],
    )
    purposes = {r["purpose"] for r in readings}
    assert {"start", "guard", "end"} <= purposes
    assert spent >= 6


async def test_neighbouring_plug_ins_never_match_the_wrong_car(world: World) -> None:
    ada = await world.driver("ada@example.com")
    bob = await world.driver("bob@example.com")
    left = await world.charger("PNC-L", "ocpp1.6")
    right = await world.charger("PNC-R", "ocpp2.0.1", at=(SITE[0] + 0.00008, SITE[1]))
    # Both cars report the site's position, both plug in at the same moment.
    a = await ada.cars[0].plug_into(left, 1, location=SITE)
    b = await bob.cars[0].plug_into(right, 1, location=SITE)
    first = await world.attempt_status("PNC-L", ("no_match", "starting", "charging"))
    second = await world.attempt_status("PNC-R", ("no_match", "starting", "charging"))
    for attempt, owner in ((first, ada), (second, bob)):
        # A match is only acceptable for the car that really is on that connector.
        assert attempt["status"] == "no_match" or attempt["account_id"] == owner.account_id
    assert "no_match" in (first["status"], second["status"])
    wrong = await world.system.fetch(
        """SELECT s.id FROM sessions s JOIN plug_attempts a ON a.session_id = s.id
           WHERE (s.charge_point_id = 'PNC-L' AND s.account_id <> $1)
              OR (s.charge_point_id = 'PNC-R' AND s.account_id <> $2)""",
        ada.account_id,
        bob.account_id,
    )
    assert wrong == []
    ambiguous = first if first["status"] == "no_match" else second
    assert ambiguous["outcome"] in ("ambiguous", "needs_more_evidence")
    assert await world.calls(ambiguous["id"]) <= (MATCH_BUDGET, 0)
    await a.unplug()
    await b.unplug()


async def test_unlinked_car_falls_back_to_ordinary_authorisation(world: World) -> None:
    await world.driver("ada@example.com")  # a linked car elsewhere
    stranger = await world.driver("eve@example.com", link=False)
    charger = await world.charger("PNC-1", "ocpp1.6")
    coupling = await stranger.cars[0].plug_into(charger, 1, location=SITE)
    attempt = await world.attempt_status("PNC-1", ("no_match",))
    assert attempt["outcome"] == "no_candidate"
    assert attempt["rounds"] == 2
    assert attempt["session_id"] is None
    # The driver authorises with the RFID card (here through the operator's remote start):
    # an ordinary session on the plugged connector, held and captured at the end.
    await world.system.token("RFID-EVE", account_id=stranger.account_id)
    await world.system.api(
        "POST",
        "/charge-points/PNC-1/commands/remote-start",
        {"connector_id": 1, "id_token": "RFID-EVE"},
        expect=200,
    )

    async def started() -> Any:
        rows = await world.system.fetch("SELECT * FROM sessions WHERE id_token = 'RFID-EVE'")
        return rows[0] if rows else None

    session = await world.until("the RFID session", started)
    assert session["account_id"] == stranger.account_id
    await coupling.unplug()
    invoice = await world.invoice(session["id"])
    assert invoice["verdict"] == "INCONCLUSIVE"  # no car data for an RFID session
    await world.payment(session["id"], ("captured",))
    still = await world.attempt("PNC-1")
    assert (still["id"], still["status"], still["session_id"]) == (attempt["id"], "no_match", None)
    await assert_within_budget(world, attempt["id"])


async def test_autocharge_tag_learned_then_used_without_polling(world: World) -> None:
    driver = await world.driver("ada@example.com", soc=0.3, target=60)
    charger = await world.charger("PNC-1", "ocpp1.6")
    ev = driver.cars[0]
    mac = "0A1B2C3D4E5F"
    coupling, first_session = await charge_to_the_end(world, charger, ev, autocharge_mac=mac)
    first = await world.attempt("PNC-1")
    assert first["method"] == "smartcar_plug_state"
    await world.invoice(first_session)
    tag = await world.until(
        "the tag to become active",
        lambda: world.system.fetchval(
            "SELECT status FROM autocharge_tags WHERE tag = $1 AND status = 'active'", "VID:" + mac
        ),
    )
    assert tag == "active"
    await coupling.unplug()

    await ev.patch(soc=0.3)
    _, second_session = await charge_to_the_end(world, charger, ev, autocharge_mac=mac)
    second = await world.attempt("PNC-1")
    assert second["id"] != first["id"]
    assert second["method"] == "autocharge_tag"
    assert second["account_id"] == driver.account_id
    matching, _ = await assert_within_budget(world, second["id"])
    assert matching == 0  # no Smartcar call to match
    invoice = await world.invoice(second_session)
    assert invoice["verdict"] in ("OK", "INCONCLUSIVE")


async def test_car_asleep_at_first_then_reachable(world: World) -> None:
    driver = await world.driver("ada@example.com")
    charger = await world.charger("PNC-1", "ocpp2.0.1")
    ev = driver.cars[0]
    coupling = await ev.plug_into(charger, 1, location=SITE, faults=Faults(asleep=True))

    async def first_round() -> Any:
        rows = await world.system.fetch(
            """SELECT * FROM plug_attempts WHERE charge_point_id = 'PNC-1' AND rounds >= 1"""
        )
        return rows[0] if rows else None

    waiting = await world.until("the first matching round", first_round)
    assert waiting["status"] == "matching"  # the asleep car blocks a decision, no guess
    await ev.patch(asleep=False)
    attempt = await world.attempt_status("PNC-1", ("charging",))
    assert attempt["rounds"] == 2
    errors = await world.system.fetch(
        "SELECT error FROM vehicle_readings WHERE attempt_id = $1 AND error IS NOT NULL",
        attempt["id"],
    )
    assert errors  # the failed read is kept as evidence
    await coupling.unplug()
    await assert_within_budget(world, attempt["id"])


async def test_meter_over_reporting_ends_meter_high_with_the_capture_held(world: World) -> None:
    driver = await world.driver("ada@example.com")
    charger = await world.charger("PNC-1", "ocpp1.6")
    coupling, session_id = await charge_to_the_end(
        world, charger, driver.cars[0], faults=Faults(over_report=2.0)
    )
    invoice = await world.invoice(session_id)
    assert invoice["verdict"] == "METER_HIGH"
    assert invoice["status"] == "held_for_review"
    payment = await world.payment(session_id, ("held",))
    assert payment["captured_minor"] == 0
    await coupling.unplug()
    await assert_within_budget(world, (await world.attempt("PNC-1"))["id"])


async def test_car_not_really_charging_trips_the_mid_session_guard(world: World) -> None:
    driver = await world.driver("ada@example.com")
    charger = await world.charger("PNC-1", "ocpp2.0.1")
    coupling, session_id = await charge_to_the_end(
        world, charger, driver.cars[0], faults=Faults(diverted=True)
    )
    attempt = await world.attempt("PNC-1")
    assert attempt["guard"] == "tripped"
    assert attempt["stop_reason"] == "vehicle_mismatch"
    invoice = await world.invoice(session_id)
    assert invoice["verdict"] == "VEHICLE_MISMATCH"
    assert invoice["status"] == "void"
    payment = await world.payment(session_id, ("canceled",))
    assert payment["captured_minor"] == 0
    await coupling.unplug()
    await assert_within_budget(world, attempt["id"])


async def test_declined_hold_means_no_start_and_a_clear_reason(world: World) -> None:
    driver = await world.driver("ada@example.com", payment_method="pm_card_chargeDeclined")
    charger = await world.charger("PNC-1", "ocpp1.6")
    coupling = await driver.cars[0].plug_into(charger, 1, location=SITE)
    attempt = await world.attempt_status("PNC-1", ("declined",))
    assert "declined" in attempt["reason"]
    assert attempt["session_id"] is None
    sessions = await world.system.fetch("SELECT id FROM sessions WHERE charge_point_id = 'PNC-1'")
    assert sessions == []
    remote_starts = await world.system.fetch(
        """SELECT id FROM message_log WHERE charge_point_id = 'PNC-1'
             AND action = 'RemoteStartTransaction'"""
    )
    assert remote_starts == []
    await coupling.unplug()
    await assert_within_budget(world, attempt["id"])


async def test_account_without_a_card_is_declined(world: World) -> None:
    driver = await world.driver("ada@example.com", payment_method=None)
    charger = await world.charger("PNC-1", "ocpp1.6")
    coupling = await driver.cars[0].plug_into(charger, 1, location=SITE)
    attempt = await world.attempt_status("PNC-1", ("declined",))
    assert attempt["reason"] == "the account has no payment method on file"
    await coupling.unplug()


async def test_departure_timer_car_is_started_through_smartcar(world: World) -> None:
    driver = await world.driver("ada@example.com")
    charger = await world.charger("PNC-1", "ocpp1.6")
    coupling, session_id = await charge_to_the_end(
        world, charger, driver.cars[0], faults=Faults(departure_timer=True)
    )
    attempt = await world.attempt("PNC-1")
    assert attempt["car_started"] is True
    invoice = await world.invoice(session_id)
    assert invoice["verdict"] == "OK"
    await coupling.unplug()
    await assert_within_budget(world, attempt["id"])


async def test_spending_cap_stops_the_session(world: World) -> None:
    cap = 400  # 4.00 EUR: about 7.5 kWh at 0.46 EUR/kWh gross, short of the 80% target
    driver = await world.driver("ada@example.com", soc=0.2, capacity_kwh=40.0, cap_minor=cap)
    charger = await world.charger("PNC-1", "ocpp2.0.1")
    coupling, session_id = await charge_to_the_end(world, charger, driver.cars[0])
    attempt = await world.attempt("PNC-1")
    assert attempt["stop_reason"] == "spending_cap"
    assert attempt["hold_minor"] <= cap * 11 // 10
    invoice = await world.invoice(session_id)
    assert cap <= invoice["total_minor"] <= cap * 11 // 10
    payment = await world.payment(session_id, ("captured",))
    assert payment["captured_minor"] == invoice["total_minor"]
    await coupling.unplug()
    await assert_within_budget(world, attempt["id"])


async def test_201_transaction_started_by_the_cable_is_authorised_remotely(world: World) -> None:
    """TxStartPoint EVConnected: the charger opens the transaction at plug-in (no token);
    RequestStartTransaction authorises that same transaction with the account's token."""
    driver = await world.driver("ada@example.com")
    charger = await world.charger("PNC-1", "ocpp2.0.1")
    answer = await world.system.api(
        "POST",
        "/charge-points/PNC-1/commands/set-variables",
        {
            "set_variable_data": [
                {
                    "attribute_value": "EVConnected",
                    "component": {"name": "TxCtrlr"},
                    "variable": {"name": "TxStartPoint"},
                }
            ]
        },
        expect=200,
    )
    assert answer["set_variable_result"][0]["attribute_status"] == "Accepted"
    coupling, session_id = await charge_to_the_end(world, charger, driver.cars[0])
    events = await world.system.fetch(
        """SELECT event_type, trigger_reason, id_token FROM transaction_events
           WHERE session_id = $1 ORDER BY seq_no""",
        session_id,
    )
    assert (events[0]["event_type"], events[0]["trigger_reason"]) == ("Started", "CablePluggedIn")
    assert events[0]["id_token"] is None
    authorised = [e for e in events if e["trigger_reason"] == "RemoteStart"]
    assert len(authorised) == 1
    session = (await world.system.fetch("SELECT * FROM sessions WHERE id = $1", session_id))[0]
    assert session["account_id"] == driver.account_id
    assert session["id_token"] == authorised[0]["id_token"]
    await world.payment(session_id, ("captured",))
    await coupling.unplug()
    await assert_within_budget(world, (await world.attempt("PNC-1"))["id"])


async def test_a_start_that_cannot_be_delivered_releases_the_hold(world: World) -> None:
    driver = await world.driver("ada@example.com")
    charger = await world.charger("PNC-1", "ocpp1.6")
    await driver.cars[0].plug_into(charger, 1, location=SITE)
    await charger.disconnect()  # the charger drops off right after reporting the plug
    attempt = await world.attempt_status("PNC-1", ("failed",))
    assert "not delivered" in attempt["reason"]
    assert attempt["hold_minor"] > 0

    async def released() -> Any:
        rows = await world.system.fetch(
            "SELECT * FROM payments WHERE attempt_id = $1 AND status = 'canceled'", attempt["id"]
        )
        return rows[0] if rows else None

    payment = await world.until("the hold to be released", released)
    assert payment["session_id"] is None
    assert payment["captured_minor"] == 0
