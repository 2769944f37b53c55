"""Billing on a real database: a session that ends is priced with the tariff valid at its
start, its invoice stored once, and its payment collected through the simulated provider
(declines, timeouts and failing captures included, every attempt recorded)."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from csms.commit import DirectCommit
from csms.events import TransactionEventReceived
from csms.store import accounts, tariffs
from csms.transaction_events import TransactionEventService
from tests.conftest import FakeClock
from tests.csms.billing_harness import T1, T2, V01_START, Bench, make_bench, register


@pytest.fixture
async def bench(pool: asyncpg.Pool, clock: FakeClock) -> Bench:
    bench = make_bench(pool, clock)
    await bench.charger()
    await bench.account()
    return bench


async def test_a_session_that_ends_is_billed_and_captured(bench: Bench) -> None:
    await bench.tariff(T1)
    session_id = await bench.session()
    assert [(j["kind"], j["dedupe_key"]) for j in await bench.jobs()] == [
        ("bill_session", f"bill:{session_id}")
    ]
    await bench.drain()

    invoice = await bench.invoice(session_id)
    # V01: 20 kWh at 0.25 + 10 % VAT = 5.50.
    assert (invoice["status"], invoice["payment_status"]) == ("issued", "captured")
    assert (invoice["currency"], invoice["total_minor"], invoice["energy_wh"]) == (
        "EUR",
        550,
        20000,
    )
    assert invoice["number"].startswith("INV-")
    assert invoice["verdict"] == "INCONCLUSIVE"  # no SoC from the car
    assert invoice["tariff"]["id"] == "T1"
    (line,) = invoice["detail"]["lines"]
    assert (line["kind"], line["volume"], line["incl_vat"]) == ("ENERGY", "20000", "5.50")
    assert invoice["detail"]["vat"] == [
        {"rate": "10", "net": "5.00", "vat": "0.50", "gross": "5.50"}
    ]
    payment = await bench.payment(session_id)
    assert (payment["status"], payment["captured_minor"], payment["provider"]) == (
        "captured",
        550,
        "simulated",
    )
    assert await bench.attempts(session_id) == [
        ("hold", f"pi:create:{session_id}", "succeeded"),
        ("capture", f"pi:capture:{session_id}", "succeeded"),
    ]
    assert {j["status"] for j in await bench.jobs()} == {"done"}


async def test_a_replayed_stop_bills_once(bench: Bench) -> None:
    await bench.tariff(T1)
    tx = await bench.start()
    end = V01_START + timedelta(minutes=109)
    for _ in range(3):
        await bench.stop(tx, at=end, meter_stop=1_020_000)
    session_id = await bench.session_id(tx)
    assert len(await bench.jobs()) == 1
    await bench.drain()
    assert await bench.invoicing.bill(session_id) is not None  # billing again changes nothing
    await bench.drain()
    count = await bench.pool.fetchval("SELECT count(*) FROM invoices")
    assert count == 1
    assert [op for op, _ in bench.simulated.calls] == ["hold", "capture"]


async def test_the_tariff_valid_at_session_start_applies(bench: Bench, pool: asyncpg.Pool) -> None:
    change = V01_START + timedelta(hours=1)
    old = await bench.tariff(T1 | {"end_date_time": change.isoformat()})
    new = await bench.tariff(T2 | {"start_date_time": change.isoformat()})
    first = await bench.session()  # starts before the change, ends after it
    second = await bench.session(start=change + timedelta(hours=1), meter_start=2_000_000)
    await bench.drain()
    assert (await bench.invoice(first))["tariff_id"] == old
    assert (await bench.invoice(second))["tariff_id"] == new
    assert (await bench.invoice(second))["total_minor"] == 610  # V02's 5.50 / 6.10

    own = await bench.tariff(T1, default=False, charge_point_id="CP-1")
    async with pool.acquire() as conn:
        chosen = await tariffs.applicable(conn, "CP-1", change + timedelta(hours=2))
        elsewhere = await tariffs.applicable(conn, "CP-2", change + timedelta(hours=2))
    assert chosen is not None and chosen["id"] == own
    assert elsewhere is not None and elsewhere["id"] == new


async def test_without_a_tariff_the_invoice_is_unpriced_until_billed_again(bench: Bench) -> None:
    session_id = await bench.session()
    await bench.drain()
    invoice = await bench.invoice(session_id)
    assert (invoice["status"], invoice["payment_status"], invoice["total_minor"]) == (
        "unpriced",
        "not_required",
        0,
    )
    assert "no_tariff" in invoice["flags"] and invoice["energy_wh"] == 20000
    assert invoice["detail"]["lines"] == []
    assert await bench.pool.fetchval("SELECT count(*) FROM payments") == 0

    await bench.tariff(T1)
    await bench.invoicing.rebill(session_id)
    await bench.drain()
    again = await bench.invoice(session_id)
    assert (again["id"], again["number"]) == (invoice["id"], invoice["number"])
    assert (again["status"], again["payment_status"], again["total_minor"]) == (
        "issued",
        "captured",
        550,
    )
    assert "no_tariff" not in again["flags"]


async def test_a_decline_is_recorded_and_tried_again_later(
    bench: Bench, pool: asyncpg.Pool
) -> None:
    await bench.tariff(T1)
    account_id = await bench.account("TAG-2", method="pm_card_chargeDeclined")
    session_id = await bench.session("TAG-2")
    await bench.drain()
    invoice = await bench.invoice(session_id)
    assert (invoice["status"], invoice["payment_status"]) == ("issued", "failed")
    payment = await bench.payment(session_id)
    assert (payment["status"], payment["declines"]) == ("failed", 1)
    assert payment["last_error"].startswith("card_declined")
    assert await bench.attempts(session_id) == [("hold", f"pi:create:{session_id}", "declined")]
    dunning = [j for j in await bench.jobs() if j["status"] == "pending"]
    assert [j["dedupe_key"] for j in dunning] == [f"pay:{invoice['id']}:dunning:1"]
    assert dunning[0]["run_at"] == bench.clock() + timedelta(days=1)

    async with pool.acquire() as conn:  # the driver fixes the card
        await accounts.update(conn, account_id, {"payment_method_id": "pm_card_visa"})
    assert await bench.drain() == 0  # not due yet
    bench.clock.advance(86_400)
    await bench.drain()
    assert (await bench.invoice(session_id))["payment_status"] == "captured"
    assert (await bench.attempts(session_id))[1:] == [
        ("hold", f"pi:create:{session_id}:1", "succeeded"),
        ("capture", f"pi:capture:{session_id}:1", "succeeded"),
    ]


async def test_a_timed_out_hold_is_retried_with_the_same_key(bench: Bench) -> None:
    await bench.tariff(T1)
    bench.simulated.timeout_holds = 1
    session_id = await bench.session()
    await bench.drain()
    assert (await bench.invoice(session_id))["payment_status"] == "pending"
    assert (await bench.payment(session_id))["status"] == "pending"
    job = next(j for j in await bench.jobs() if j["kind"] == "settle_payment")
    assert (job["status"], job["attempts"]) == ("pending", 1)

    bench.clock.advance(11)
    await bench.drain()
    assert (await bench.invoice(session_id))["payment_status"] == "captured"
    assert await bench.attempts(session_id) == [
        ("hold", f"pi:create:{session_id}", "unavailable"),
        ("hold", f"pi:create:{session_id}", "succeeded"),
        ("capture", f"pi:capture:{session_id}", "succeeded"),
    ]
    assert len(bench.simulated.intents) == 1  # the provider made one hold, not two


async def test_a_failed_capture_is_retried_and_every_attempt_recorded(bench: Bench) -> None:
    await bench.tariff(T1)
    bench.simulated.fail_captures = 2
    session_id = await bench.session()
    await bench.drain()
    bench.clock.advance(11)
    await bench.drain()
    assert (await bench.invoice(session_id))["payment_status"] == "pending"
    bench.clock.advance(21)
    await bench.drain()

    assert (await bench.invoice(session_id))["payment_status"] == "captured"
    key = f"pi:capture:{session_id}"
    assert await bench.attempts(session_id) == [
        ("hold", f"pi:create:{session_id}", "succeeded"),
        ("capture", key, "unavailable"),
        ("retrieve", None, "succeeded"),
        ("capture", f"{key}:retry1", "unavailable"),
        ("retrieve", None, "succeeded"),
        ("capture", f"{key}:retry2", "succeeded"),
    ]
    payment = await bench.payment(session_id)
    assert (payment["status"], payment["captured_minor"], payment["last_error"]) == (
        "captured",
        550,
        None,
    )
    (intent,) = bench.simulated.intents.values()
    assert intent.state.received_minor == 550
    job = next(j for j in await bench.jobs() if j["kind"] == "settle_payment")
    assert (job["status"], job["attempts"]) == ("done", 3)


async def test_a_zero_total_charges_nothing(bench: Bench) -> None:
    await bench.tariff(T2)  # FLAT 0.50 is not charged when no energy flowed
    nothing = await bench.session(energy_wh=0, minutes=5)
    tiny = await bench.session(energy_wh=100, start=V01_START + timedelta(hours=3))
    await bench.drain()
    zero = await bench.invoice(nothing)
    assert (zero["status"], zero["payment_status"], zero["total_minor"]) == (
        "issued",
        "not_required",
        0,
    )
    assert "no_energy_no_flat" in zero["flags"]
    small = await bench.invoice(tiny)  # 0.60 flat + 0.0275 energy = 0.6275 -> 0.63
    assert (small["total_minor"], small["payment_status"]) == (63, "captured")
    assert [op for op, _ in bench.simulated.calls] == ["hold", "capture"]  # for `tiny` only


async def test_totals_below_the_minimum_charge_are_waived(
    pool: asyncpg.Pool, clock: FakeClock
) -> None:
    bench = make_bench(pool, clock, minimum_charge_minor=100)
    await bench.charger()
    await bench.account()
    await bench.tariff(T1)
    session_id = await bench.session(energy_wh=1000)  # 0.275 -> 0.28
    await bench.drain()
    invoice = await bench.invoice(session_id)
    assert (invoice["status"], invoice["payment_status"], invoice["total_minor"]) == (
        "issued",
        "waived",
        28,
    )
    assert bench.simulated.calls == []


async def test_a_session_without_an_account_is_billed_but_not_charged(bench: Bench) -> None:
    await bench.tariff(T1)
    session_id = await bench.session("TAG-NOBODY")
    await bench.drain()
    invoice = await bench.invoice(session_id)
    assert (invoice["status"], invoice["payment_status"], invoice["total_minor"]) == (
        "issued",
        "no_payment_account",
        550,
    )
    assert bench.simulated.calls == []


async def test_issued_invoices_are_immutable(bench: Bench, pool: asyncpg.Pool) -> None:
    await bench.tariff(T1)
    session_id = await bench.session()
    await bench.drain()
    invoice = await bench.invoice(session_id)
    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="immutable"):
        await pool.execute("UPDATE invoices SET total_minor = 1 WHERE id = $1", invoice["id"])
    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="cannot be deleted"):
        await pool.execute("DELETE FROM invoices WHERE id = $1", invoice["id"])
    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="cannot go from"):
        await pool.execute("UPDATE invoices SET status = 'void' WHERE id = $1", invoice["id"])
    # The payment state is not part of what was billed.
    await pool.execute(
        "UPDATE invoices SET payment_status = 'refunded' WHERE id = $1", invoice["id"]
    )
    # Removing the tariff keeps the invoice's snapshot of it.
    await pool.execute("DELETE FROM tariffs")
    kept = await bench.invoice(session_id)
    assert (kept["tariff_id"], kept["tariff"]["id"], kept["total_minor"]) == (None, "T1", 550)


async def test_a_2_0_1_transaction_that_ends_is_billed(bench: Bench, clock: FakeClock) -> None:
    await bench.tariff(T1)
    service = TransactionEventService(clock, DirectCommit(bench.pool))

    def event(kind: str, seq: int, minutes: int, wh: int, context: str) -> TransactionEventReceived:
        at = V01_START + timedelta(minutes=minutes)
        return TransactionEventReceived(
            event_type=kind,
            transaction_id="TX-201",
            seq_no=seq,
            trigger_reason="Authorized" if kind == "Started" else "EVDeparted",
            occurred_at=at,
            evse_id=1,
            connector_id=1,
            id_token="TAG-1" if kind == "Started" else None,
            id_token_type="ISO14443" if kind == "Started" else None,
            charging_state="Charging" if kind == "Started" else "Idle",
            stopped_reason=None if kind == "Started" else "EVDisconnected",
            remote_start_id=None,
            offline=False,
            samples=(register(at, wh, context),),
        )

    await service.handle("CP-1", "ocpp2.0.1", event("Started", 0, 0, 500_000, "Transaction.Begin"))
    ended = event("Ended", 1, 60, 510_000, "Transaction.End")
    await service.handle("CP-1", "ocpp2.0.1", ended)
    await service.handle("CP-1", "ocpp2.0.1", ended)  # replayed
    assert [j["kind"] for j in await bench.jobs()] == ["bill_session"]
    await bench.drain()
    session_id = await bench.session_id("TX-201")
    invoice = await bench.invoice(session_id)
    assert (invoice["total_minor"], invoice["energy_wh"], invoice["payment_status"]) == (
        275,
        10000,
        "captured",
    )
