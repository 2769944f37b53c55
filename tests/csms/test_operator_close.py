"""The operator's close of a session whose stop never arrives: billed once at close, a
late 1.6 StopTransaction or 2.0.1 TransactionEvent Ended reconciled without a second
invoice or payment, the charger's values recorded and a different register flagged."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from csms.clock import system_clock
from csms.commit import DirectCommit
from csms.errors import Conflict
from csms.events import TransactionEnded, TransactionEventReceived, TransactionStarted
from csms.sessions import SessionService, close_by_operator
from csms.store import sessions as session_store
from csms.transaction_events import TransactionEventService
from tests.conftest import FakeClock
from tests.csms.billing_harness import T1, V01_START, Bench, make_bench, register
from tests.csms.conftest import System


@pytest.fixture
async def bench(pool: asyncpg.Pool, clock: FakeClock) -> Bench:
    bench = make_bench(pool, clock)
    await bench.charger()
    await bench.account()
    await bench.tariff(T1)
    return bench


async def session_row(bench: Bench, session_id: int) -> dict[str, Any]:
    async with bench.pool.acquire() as conn:
        row = await session_store.get(conn, session_id)
    assert row is not None
    return row


async def test_close_then_late_stop_bills_once_v16(bench: Bench) -> None:
    tx = await bench.start(meter_start=1_000_000)
    last = V01_START + timedelta(minutes=60)
    await bench.sample(tx, V01_START + timedelta(minutes=30), 1_005_000)
    await bench.sample(tx, last, 1_010_000)
    session_id = await bench.session_id(tx)
    bench.clock.now = V01_START + timedelta(hours=5)

    closed = await close_by_operator(bench.pool, bench.clock, session_id, "stop never came")
    assert closed["status"] == "completed" and closed["stop_reason"] == "ClosedByOperator"
    assert (closed["ended_at"], closed["meter_stop_wh"], closed["energy_wh"]) == (
        last,
        1_010_000,
        10_000,
    )
    assert closed["close_reason"] == "stop never came"
    assert [j["kind"] for j in await bench.jobs()] == ["bill_session"]
    await bench.drain()
    invoice = await bench.invoice(session_id)
    assert (invoice["energy_wh"], invoice["total_minor"]) == (10_000, 275)

    # The charger's stop arrives late, with a higher final register: recorded, flagged.
    await bench.stop(tx, at=V01_START + timedelta(minutes=70), meter_stop=1_012_000)
    await bench.stop(tx, at=V01_START + timedelta(minutes=70), meter_stop=1_012_000)
    await bench.drain()
    row = await session_row(bench, session_id)
    assert (row["status"], row["stop_reason"], row["meter_stop_wh"], row["energy_wh"]) == (
        "completed",
        "ClosedByOperator",
        1_010_000,
        10_000,
    )
    assert (row["charger_meter_stop_wh"], row["charger_stop_reason"]) == (1_012_000, "Local")
    assert row["charger_ended_at"] == V01_START + timedelta(minutes=70)
    assert row["charger_stop_differs"] is True
    assert [j["kind"] for j in await bench.jobs()] == ["bill_session", "settle_payment"]
    assert await bench.pool.fetchval("SELECT count(*) FROM invoices") == 1
    assert await bench.pool.fetchval("SELECT count(*) FROM payments") == 1
    assert [op for op, _ in bench.simulated.calls] == ["hold", "capture"]

    with pytest.raises(Conflict):
        await close_by_operator(bench.pool, bench.clock, session_id, None)


async def test_close_without_samples_ends_now(bench: Bench) -> None:
    tx = await bench.start()
    session_id = await bench.session_id(tx)
    closed = await close_by_operator(bench.pool, bench.clock, session_id, None)
    assert closed["ended_at"] == bench.clock.now
    assert (closed["meter_stop_wh"], closed["energy_wh"]) == (None, None)
    assert [j["kind"] for j in await bench.jobs()] == ["bill_session"]


async def test_close_then_late_ended_bills_once_v201(bench: Bench) -> None:
    service = TransactionEventService(bench.clock, DirectCommit(bench.pool))

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
            charging_state="Charging" if kind != "Ended" else "Idle",
            stopped_reason="EVDisconnected" if kind == "Ended" else None,
            remote_start_id=None,
            offline=False,
            samples=(register(at, wh, context),),
        )

    await service.handle("CP-1", "ocpp2.0.1", event("Started", 0, 0, 500_000, "Transaction.Begin"))
    await service.handle("CP-1", "ocpp2.0.1", event("Updated", 1, 30, 504_000, "Sample.Periodic"))
    session_id = await bench.session_id("TX-201")
    closed = await close_by_operator(bench.pool, bench.clock, session_id, None)
    assert (closed["meter_start_wh"], closed["meter_stop_wh"], closed["energy_wh"]) == (
        500_000,
        504_000,
        4_000,
    )
    await bench.drain()

    ended = event("Ended", 2, 60, 504_000, "Transaction.End")
    await service.handle("CP-1", "ocpp2.0.1", ended)
    await bench.drain()
    row = await session_row(bench, session_id)
    assert (row["stop_reason"], row["ended_at"], row["meter_stop_wh"]) == (
        "ClosedByOperator",
        V01_START + timedelta(minutes=30),
        504_000,
    )
    assert (row["charger_meter_stop_wh"], row["charger_stop_reason"]) == (504_000, "EVDisconnected")
    assert row["charger_stop_differs"] is False
    assert [j["kind"] for j in await bench.jobs()] == ["bill_session", "settle_payment"]
    assert await bench.pool.fetchval("SELECT count(*) FROM invoices") == 1
    assert await bench.pool.fetchval("SELECT count(*) FROM payments") == 1


async def test_close_from_the_admin_api(system: System) -> None:
    await system.register("CP-C")
    await system.token("TAG-C")
    sessions = SessionService(system.pool, system_clock, DirectCommit(system.pool))
    start = TransactionStarted(
        evse_id=1, connector_id=1, id_token="TAG-C", meter_start_wh=100, started_at=V01_START
    )
    running = await sessions.start("CP-C", "ocpp1.6", start)

    body = await system.api("POST", f"/sessions/{running.session_id}/close", {"reason": "x"}, 200)
    assert body["status"] == "completed" and body["stop_reason"] == "ClosedByOperator"
    assert body["close_reason"] == "x" and body["closed_by_operator_at"]
    assert body["charger_stop"] is None
    await system.api("POST", f"/sessions/{running.session_id}/close", None, 409)
    await system.api("POST", "/sessions/999999/close", None, 404)
    await system.api("POST", f"/sessions/{running.session_id}/close", {"nope": 1}, 400)

    ended = TransactionEnded(
        transaction_id=running.transaction_id,
        meter_stop_wh=150,
        ended_at=V01_START + timedelta(minutes=5),
        reason="Local",
        id_token=None,
    )
    await sessions.stop("CP-C", "ocpp1.6", ended)
    shown = await system.api("GET", f"/sessions/{running.session_id}", expect=200)
    assert shown["stop_reason"] == "ClosedByOperator" and shown["meter_stop_wh"] is None
    assert shown["charger_stop"]["meter_stop_wh"] == 150
    assert shown["charger_stop"]["differs"] is True
