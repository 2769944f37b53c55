"""What the cross-check verdict does to the money, corrections of issued invoices (credit
notes, refunds, reviews), the live estimate and the account history: on a real database
with the simulated payment provider."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

import billing
from csms.billing_inputs import VehicleEvidence
from csms.errors import Conflict, InvalidInput
from csms.store import invoices as invoice_store
from tests.conftest import FakeClock
from tests.csms.billing_harness import T1, V01_START, Bench, make_bench


def car(
    start_soc: str, end_soc: str, *, plugged_in: bool = True, start: datetime = V01_START
) -> VehicleEvidence:
    """Two SoC polls around a V01-shaped session (109 min) on a 58 kWh battery."""
    end = start + timedelta(minutes=109)
    return VehicleEvidence(
        soc_polls=(
            billing.SocPoll(
                start,
                Decimal(start_soc),
                data_age=start,
                is_plugged_in=plugged_in,
                state="CHARGING" if plugged_in else "NOT_CHARGING",
            ),
            billing.SocPoll(
                end, Decimal(end_soc), data_age=end, is_plugged_in=plugged_in, state="CHARGING"
            ),
        ),
        battery_capacity_kwh=Decimal(58),
        capacity_source="SMARTCAR",
    )


@pytest.fixture
async def bench(pool: asyncpg.Pool, clock: FakeClock) -> Bench:
    bench = make_bench(pool, clock)
    await bench.charger()
    await bench.account()
    await bench.tariff(T1)
    return bench


async def billed(
    bench: Bench,
    evidence: VehicleEvidence | None = None,
    *,
    start: datetime = V01_START,
    energy_wh: int = 20_000,
) -> int:
    session_id = await bench.session(start=start, energy_wh=energy_wh)
    if evidence is not None:
        bench.cars[session_id] = evidence
    await bench.drain()
    return session_id


async def test_ok_and_meter_low_are_captured(bench: Bench) -> None:
    ok = await billed(bench, car("0.30", "0.60"))  # V01: OK
    later = V01_START + timedelta(hours=3)
    low = await billed(bench, car("0.10", "0.90", start=later), start=later)
    ok_invoice, low_invoice = await bench.invoice(ok), await bench.invoice(low)
    assert (ok_invoice["verdict"], ok_invoice["payment_status"]) == ("OK", "captured")
    assert ok_invoice["detail"]["crosscheck"]["meter_band_kwh"] == ["16.645", "23.523"]
    assert not ok_invoice["charger_ticket"]
    # The car gained more than the meter says: bill the meter, open a charger ticket.
    assert (low_invoice["verdict"], low_invoice["status"], low_invoice["payment_status"]) == (
        "METER_LOW",
        "issued",
        "captured",
    )
    assert low_invoice["charger_ticket"]


async def test_meter_high_is_held_for_review(bench: Bench) -> None:
    session_id = await billed(bench, car("0.30", "0.40"))
    invoice = await bench.invoice(session_id)
    assert (invoice["verdict"], invoice["status"], invoice["payment_status"]) == (
        "METER_HIGH",
        "held_for_review",
        "awaiting_review",
    )
    assert invoice["total_minor"] == 550
    assert bench.simulated.calls == []  # nothing is charged before the review
    with pytest.raises(Conflict):
        await bench.corrections.credit(invoice["id"], amount_minor=100, reason="x")

    # Approved with a goodwill credit: the capture is the total less the credit.
    reviewed = await bench.corrections.review(
        invoice["id"], decision="approve", credit_minor=150, reason="car gained less"
    )
    assert (reviewed["status"], reviewed["payment_status"]) == ("issued", "pending")
    await bench.drain()
    assert (await bench.invoice(session_id))["payment_status"] == "captured"
    assert (await bench.payment(session_id))["captured_minor"] == 400
    (note,) = await bench.pool.fetch("SELECT * FROM invoices WHERE kind = 'credit_note'")
    assert (note["total_minor"], note["credit_for"], note["reason"]) == (
        -150,
        invoice["id"],
        "car gained less",
    )
    with pytest.raises(Conflict):
        await bench.corrections.review(invoice["id"], decision="void")


async def test_vehicle_mismatch_charges_nothing(bench: Bench) -> None:
    session_id = await billed(bench, car("0.30", "0.60", plugged_in=False))
    invoice = await bench.invoice(session_id)
    assert (invoice["verdict"], invoice["status"], invoice["payment_status"]) == (
        "VEHICLE_MISMATCH",
        "void",
        "canceled",
    )
    assert bench.simulated.calls == []
    with pytest.raises(Conflict):
        await bench.corrections.credit(invoice["id"], amount_minor=None, reason="x")


async def test_a_credit_note_refunds_captured_money(bench: Bench) -> None:
    session_id = await billed(bench)
    invoice = await bench.invoice(session_id)
    note, created = await bench.corrections.credit(
        invoice["id"], amount_minor=150, reason="connector fault", request_key="req-1"
    )
    again, created_again = await bench.corrections.credit(
        invoice["id"], amount_minor=150, reason="connector fault", request_key="req-1"
    )
    assert (created, created_again, again["id"]) == (True, False, note["id"])
    assert note["number"].startswith("CN-") and note["credit_number"] == 1
    assert (note["kind"], note["credit_for"], note["total_minor"]) == (
        "credit_note",
        invoice["id"],
        -150,
    )
    assert note["detail"]["vat"] == [
        {"rate": "10", "net": "-1.36", "vat": "-0.14", "gross": "-1.50"}
    ]
    await bench.drain()
    assert (await bench.payment(session_id))["refunded_minor"] == 150
    assert (await bench.invoice(session_id))["payment_status"] == "partially_refunded"
    assert (await bench.attempts(session_id))[-1] == (
        "refund",
        f"refund:{session_id}:1",
        "succeeded",
    )

    with pytest.raises(InvalidInput):  # more than is left (400)
        await bench.corrections.credit(invoice["id"], amount_minor=401, reason="too much")
    rest, _ = await bench.corrections.credit(invoice["id"], amount_minor=None, reason="all")
    assert (rest["total_minor"], rest["credit_number"]) == (-400, 2)
    await bench.drain()
    assert (await bench.invoice(session_id))["payment_status"] == "refunded"
    assert (await bench.payment(session_id))["refunded_minor"] == 550
    with pytest.raises(Conflict, match="in full"):
        await bench.corrections.credit(invoice["id"], amount_minor=None, reason="again")
    # The invoice itself never changed.
    assert (await bench.invoice(session_id))["total_minor"] == 550


async def test_a_credit_before_capture_lowers_the_capture(bench: Bench) -> None:
    bench.simulated.timeout_holds = 1  # the first try of the payment gets no answer
    session_id = await bench.session()
    await bench.drain()
    invoice = await bench.invoice(session_id)
    assert invoice["payment_status"] == "pending"
    note, _ = await bench.corrections.credit(invoice["id"], amount_minor=50, reason="late start")
    assert note["payment_status"] == "not_required"  # nothing to refund yet
    bench.clock.advance(11)
    await bench.drain()
    payment = await bench.payment(session_id)
    # The hold made during the timeout was for 550; the capture takes 500.
    assert (payment["status"], payment["held_minor"], payment["captured_minor"]) == (
        "captured",
        550,
        500,
    )


async def test_the_estimate_of_a_running_session(bench: Bench, clock: FakeClock) -> None:
    tx = await bench.start()
    await bench.sample(tx, V01_START + timedelta(minutes=30), 1_005_500)
    session_id = await bench.session_id(tx)
    clock.now = V01_START + timedelta(minutes=31)
    estimate = await bench.invoicing.estimate(session_id)
    assert (estimate["final"], estimate["priced"], estimate["as_of"]) == (
        False,
        True,
        clock.now,
    )
    assert (estimate["energy_wh"], estimate["total"], estimate["total_minor_units"]) == (
        5500,
        "1.51",
        151,
    )
    await bench.stop(tx, at=V01_START + timedelta(minutes=40), meter_stop=1_007_000)
    with pytest.raises(Conflict):
        await bench.invoicing.estimate(session_id)


async def test_account_history_has_running_totals(bench: Bench, pool: asyncpg.Pool) -> None:
    account_id = bench.tokens["TAG-1"]
    first = await billed(bench)
    second = await billed(bench, start=V01_START + timedelta(hours=3), energy_wh=10_000)
    invoice = await bench.invoice(first)
    await bench.corrections.credit(invoice["id"], amount_minor=150, reason="goodwill")
    running = await bench.start(at=V01_START + timedelta(hours=6))
    async with pool.acquire() as conn:
        history = await invoice_store.account_history(conn, account_id, before_id=None, limit=10)
        page = await invoice_store.account_history(conn, account_id, before_id=second, limit=10)
    rows = [
        (r["session_id"], r["charged_minor"], r["running_total_minor"], r["payment_status"])
        for r in history
    ]
    assert rows == [
        (await bench.session_id(running), 0, None, None),
        (second, 275, 675, "captured"),
        (first, 400, 400, "captured"),
    ]
    assert [(r["session_id"], r["running_total_minor"]) for r in page] == [(first, 400)]
