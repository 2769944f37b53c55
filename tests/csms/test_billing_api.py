"""Billing through the running system: the charger simulator over real websockets, the
admin API over real HTTP, the worker, a real database and the simulated payment provider.

The preview endpoint and ``csms price`` answer the same documents the same way; a 1.6
session ends in an issued invoice and a captured payment; a replayed StopTransaction
bills once; credit notes, refunds, the account history and the live estimate."""

from __future__ import annotations

import asyncio
import copy
import json
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from simulators.charger import ChargerConfig, SimulatedCharger
from tests.conftest import TIME_FACTOR
from tests.csms.billing_harness import T1
from tests.csms.conftest import ADMIN_TOKEN, PASSWORD, System
from tests.csms.test_pricing import T5, V08

pytestmark = pytest.mark.slow


async def price_cli(tmp_path: Path, tariff: Any, session: Any) -> tuple[int, str, str]:
    tariff_file, session_file = tmp_path / "tariff.json", tmp_path / "session.json"
    tariff_file.write_text(json.dumps(tariff))
    session_file.write_text(json.dumps(session))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "csms",
        "price",
        "--tariff",
        str(tariff_file),
        "--session",
        str(session_file),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_preview_endpoint_and_cli_agree(system: System, tmp_path: Path) -> None:
    answer = await system.api(
        "POST", "/tariffs/preview", {"tariff": T5, "session": V08}, expect=200
    )
    code, out, _ = await price_cli(tmp_path, T5, V08)
    assert code == 0
    assert json.loads(out) == answer
    assert (answer["total"], answer["billed_energy_wh"]) == ("6.24", 20500)  # V08

    bad_tariff = T5 | {"currency": "euro"}
    error = await system.api(
        "POST", "/tariffs/preview", {"tariff": bad_tariff, "session": V08}, expect=400
    )
    assert error["error"]["field"] == "tariff.currency"
    code, _, err = await price_cli(tmp_path, bad_tariff, V08)
    assert code == 2 and "(tariff.currency)" in err

    bad_session = copy.deepcopy(V08)
    bad_session["meter_values"][1]["sampledValue"][0]["unit"] = "furlong"
    error = await system.api(
        "POST", "/tariffs/preview", {"tariff": T5, "session": bad_session}, expect=400
    )
    field = "session.meter_values[1].sampledValue[0].unit"
    assert error["error"]["field"] == field
    code, _, err = await price_cli(tmp_path, T5, bad_session)
    assert code == 2 and f"({field})" in err
    missing = await system.api("POST", "/tariffs/preview", {"tariff": T5}, expect=400)
    assert missing["error"]["field"] == "session"


async def test_tariffs_crud_default_and_assignment(system: System) -> None:
    await system.register("CP-T")
    bad = await system.api(
        "POST", "/tariffs", {"tariff": T1 | {"elements": []}, "is_default": True}, expect=400
    )
    assert bad["error"]["field"] == "tariff.elements"
    default = await system.api(
        "POST", "/tariffs", {"tariff": T1, "name": "Standard", "is_default": True}, expect=201
    )
    assert (default["currency"], default["ocpi_id"], default["is_default"]) == ("EUR", "T1", True)
    own = await system.api(
        "POST",
        "/tariffs",
        {"tariff": T5 | {"start_date_time": "2026-01-01T00:00:00Z"}},
        expect=201,
    )
    assert own["valid_from"] == "2026-01-01T00:00:00Z"
    listed = await system.api("GET", "/tariffs?default=true", expect=200)
    assert [t["id"] for t in listed["items"]] == [default["id"]]

    await system.api("PUT", f"/charge-points/CP-T/tariffs/{own['id']}", expect=201)
    await system.api("PUT", f"/charge-points/CP-T/tariffs/{own['id']}", expect=200)
    await system.api("PUT", "/charge-points/CP-NONE/tariffs/1", expect=404)
    now = await system.api("GET", "/charge-points/CP-T/tariffs", expect=200)
    assert [t["id"] for t in now["assigned"]] == [own["id"]]
    assert now["applicable"]["id"] == own["id"]
    before = await system.api(
        "GET", "/charge-points/CP-T/tariffs?at=2025-06-01T00:00:00Z", expect=200
    )
    assert before["applicable"]["id"] == default["id"]  # own is not valid yet
    shown = await system.api("GET", f"/tariffs/{own['id']}", expect=200)
    assert shown["charge_points"] == ["CP-T"]

    patched = await system.api(
        "PATCH", f"/tariffs/{default['id']}", {"tariff": T5, "name": "T5 now"}, expect=200
    )
    assert (patched["ocpi_id"], patched["name"]) == ("T5", "T5 now")
    await system.api("PATCH", f"/tariffs/{default['id']}", {"is_default": None}, expect=400)
    await system.api("DELETE", f"/charge-points/CP-T/tariffs/{own['id']}", expect=204)
    await system.api("DELETE", f"/tariffs/{own['id']}", expect=204)
    await system.api("GET", f"/tariffs/{own['id']}", expect=404)


@pytest.fixture
async def driver(system: System) -> dict[str, Any]:
    account = await system.api(
        "POST", "/accounts", {"name": "Driver", "email": "d@example.com"}, expect=201
    )
    patched = await system.api(
        "PATCH",
        f"/accounts/{account['id']}",
        {"payment_customer_id": "cus_1", "payment_method_id": "pm_card_visa"},
        expect=200,
    )
    assert patched["payment_method_id"] == "pm_card_visa"
    await system.token("TAG-PAY", account_id=account["id"])
    await system.api("POST", "/tariffs", {"tariff": T1, "is_default": True}, expect=201)
    await system.register("CP-B")
    return patched


@pytest.fixture
async def charger(system: System, driver: dict[str, Any]) -> AsyncIterator[SimulatedCharger]:
    config = ChargerConfig(
        url=system.ocpp_url,
        charge_point_id="CP-B",
        password=PASSWORD,
        protocol="ocpp1.6",
        connectors=2,
        meter_interval_s=0.05,
    )
    async with SimulatedCharger(config, time_scale=3600) as cp:
        yield cp


async def settled_bill(system: System, session_id: int) -> Any:
    """The session's bill once its payment reached a final state."""
    deadline = asyncio.get_running_loop().time() + 10 * TIME_FACTOR
    while True:
        async with system.http.get(
            f"{system.api_url}/sessions/{session_id}/bill",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        ) as response:
            bill = await response.json()
        if response.status == 200 and bill["payment_status"] != "pending":
            return bill
        assert asyncio.get_running_loop().time() < deadline, bill
        await asyncio.sleep(0.05)


async def only_session(system: System) -> int:
    (session,) = (await system.api("GET", "/sessions?charge_point_id=CP-B", expect=200))["items"]
    session_id: int = session["id"]
    return session_id


async def test_a_1_6_session_ends_in_an_issued_invoice_and_a_captured_payment(
    system: System, charger: SimulatedCharger, driver: dict[str, Any]
) -> None:
    result = await charger.run_session(1, "TAG-PAY", energy_wh=5000)
    assert result.energy_wh > 0
    bill = await settled_bill(system, await only_session(system))
    assert (bill["kind"], bill["status"], bill["payment_status"]) == (
        "invoice",
        "issued",
        "captured",
    )
    assert bill["account_id"] == driver["id"] and bill["energy_wh"] == result.energy_wh
    # ENERGY 0.25/kWh + 10 % VAT, rounded once, half up.
    expected = int((result.energy_wh * 275 + 5000) // 10000)
    assert bill["total_minor"] == expected and bill["net_minor"] == expected
    assert [line["kind"] for line in bill["detail"]["lines"]] == ["ENERGY"]
    assert bill["detail"]["crosscheck"]["verdict"] == "INCONCLUSIVE"
    payment = bill["payment"]
    assert (payment["status"], payment["captured_minor"], payment["provider"]) == (
        "captured",
        expected,
        "simulated",
    )
    assert [(a["operation"], a["outcome"]) for a in payment["attempts"]] == [
        ("hold", "succeeded"),
        ("capture", "succeeded"),
    ]
    invoice = await system.api("GET", f"/invoices/{bill['id']}", expect=200)
    assert invoice == bill


async def test_a_replayed_stop_transaction_bills_once(
    system: System, charger: SimulatedCharger
) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    start = await charger.start_transaction(1, "TAG-PAY", meter_start=10_000, timestamp=t0)
    tx = start.transaction_id
    await charger.meter_values(1, tx, energy_wh=15_000, timestamp=t0 + timedelta(minutes=10))
    for _ in range(3):
        status = await charger.stop_transaction(
            tx, meter_stop=20_000, id_tag="TAG-PAY", timestamp=t0 + timedelta(minutes=20)
        )
        assert status == "Accepted"
    session_id = await only_session(system)
    bill = await settled_bill(system, session_id)
    assert (bill["total_minor"], bill["payment_status"]) == (275, "captured")
    await asyncio.sleep(0.2)  # give a second bill, if any, the chance to appear
    assert await system.fetchval("SELECT count(*) FROM invoices") == 1
    assert await system.fetchval("SELECT count(*) FROM jobs WHERE kind = 'bill_session'") == 1
    operations = await system.fetch("SELECT operation FROM payment_attempts ORDER BY id")
    assert [r["operation"] for r in operations] == ["hold", "capture"]
    # Issued is final: billing again and collecting again are refused.
    await post(system, f"/sessions/{session_id}/bill", {}, {}, 409)
    await post(system, f"/invoices/{bill['id']}/retry-payment", {}, {}, 409)


async def test_live_estimate_credit_note_refund_and_history(
    system: System, charger: SimulatedCharger, driver: dict[str, Any]
) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    start = await charger.start_transaction(1, "TAG-PAY", meter_start=100_000, timestamp=t0)
    tx = start.transaction_id
    await charger.meter_values(1, tx, energy_wh=104_000, timestamp=t0 + timedelta(minutes=20))
    session_id = await only_session(system)
    await system.api("GET", f"/sessions/{session_id}/bill", expect=404)
    estimate = await system.api("GET", f"/sessions/{session_id}/estimate", expect=200)
    assert (estimate["final"], estimate["energy_wh"], estimate["total"]) == (False, 4000, "1.10")

    await charger.stop_transaction(tx, meter_stop=110_000, timestamp=t0 + timedelta(minutes=25))
    await system.api("GET", f"/sessions/{session_id}/estimate", expect=409)
    bill = await settled_bill(system, session_id)
    assert bill["total_minor"] == 275
    invoice_id = bill["id"]

    body = {"amount_minor": 75, "reason": "slow charging"}
    headers_key = {"Idempotency-Key": "credit-1"}
    first = await post(system, f"/invoices/{invoice_id}/credit-notes", body, headers_key, 201)
    replay = await post(system, f"/invoices/{invoice_id}/credit-notes", body, headers_key, 200)
    assert replay["id"] == first["id"]
    assert (first["kind"], first["credit_for"], first["total_minor"], first["total"]) == (
        "credit_note",
        invoice_id,
        -75,
        "-0.75",
    )
    too_much = await post(
        system, f"/invoices/{invoice_id}/refund", {"amount_minor": 500, "reason": "x"}, {}, 400
    )
    assert too_much["error"]["field"] == "amount_minor"
    await post(system, f"/invoices/{invoice_id}/review", {"decision": "approve"}, {}, 409)

    deadline = asyncio.get_running_loop().time() + 10 * TIME_FACTOR
    while (bill := await system.api("GET", f"/invoices/{invoice_id}"))["payment"][
        "refunded_minor"
    ] != 75:
        assert asyncio.get_running_loop().time() < deadline, bill
        await asyncio.sleep(0.05)
    assert (bill["payment_status"], bill["net_minor"], bill["total_minor"]) == (
        "partially_refunded",
        200,
        275,
    )
    assert [n["payment_status"] for n in bill["credit_notes"]] == ["refunded"]
    listed = await system.api("GET", f"/invoices?session_id={session_id}", expect=200)
    assert [i["kind"] for i in listed["items"]] == ["credit_note", "invoice"]

    # A second session, still running, shows up in the history without a bill.
    await charger.start_transaction(2, "TAG-PAY", meter_start=0, timestamp=t0)
    history = await system.api("GET", f"/accounts/{driver['id']}/transactions", expect=200)
    rows = [
        (h["session_status"], h["charged_minor"], h["running_total_minor"], h["running_total"])
        for h in history["items"]
    ]
    assert rows == [("active", None, None, None), ("completed", 200, 200, "2.00")]
    await system.api("GET", "/accounts/999999/transactions", expect=404)


async def post(system: System, path: str, body: Any, headers: dict[str, str], expect: int) -> Any:
    async with system.http.post(
        system.api_url + path,
        json=body,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", **headers},
    ) as response:
        data = await response.json()
        assert response.status == expect, (response.status, data)
        return data
