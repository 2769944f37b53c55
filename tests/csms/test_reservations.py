"""Reservations end to end, OCPP 1.6 and 2.0.1: reserve-now and cancel-reservation from
the admin API, the simulator's answers and behaviour, and what the central system stores
(the answer, used by a start, expiry, 2.0.1 ReservationStatusUpdate)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from simulators.charger import BaseCharger, ChargerConfig, create_charger
from tests.conftest import TIME_FACTOR
from tests.csms.conftest import PASSWORD, System

pytestmark = pytest.mark.slow

CP = "CP-R"
PROTOCOLS = ["ocpp1.6", "ocpp2.0.1"]


async def eventually(check: Callable[[], Awaitable[Any]], within_s: float = 5.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within_s * TIME_FACTOR
    while True:
        value = await check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.05)


def in_(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def target(protocol: str, number: int) -> dict[str, int]:
    """The body field naming connector / EVSE ``number`` in each version's terms."""
    return {"connector_id": number} if protocol == "ocpp1.6" else {"evse_id": number}


async def _charger(system: System, protocol: str) -> AsyncIterator[BaseCharger]:
    await system.register(CP)
    await system.token("TAG-A")
    await system.token("TAG-B")
    config = ChargerConfig(
        url=system.ocpp_url,
        charge_point_id=CP,
        password=PASSWORD,
        protocol=protocol,
        connectors=2,
        meter_interval_s=0.05,
    )
    async with create_charger(config, time_scale=60) as cp:
        yield cp


@pytest.fixture(params=PROTOCOLS)
async def charger(request: pytest.FixtureRequest, system: System) -> AsyncIterator[BaseCharger]:
    async for cp in _charger(system, request.param):
        yield cp


@pytest.fixture
async def charger_201(system: System) -> AsyncIterator[BaseCharger]:
    async for cp in _charger(system, "ocpp2.0.1"):
        yield cp


def protocol_of(charger: BaseCharger) -> str:
    return charger.config.protocol


async def reserve(system: System, body: dict[str, Any], expect: int = 200) -> Any:
    return await system.api("POST", f"/charge-points/{CP}/commands/reserve-now", body, expect)


async def reservations(system: System, query: str = "") -> list[dict[str, Any]]:
    page = await system.api("GET", f"/reservations?charge_point_id={CP}{query}", expect=200)
    assert set(page) == {"items", "next"}
    items: list[dict[str, Any]] = page["items"]
    return items


async def last_status(system: System, number: int) -> str | None:
    # 1.6 connector n is evse n, connector n; 2.0.1 EVSE n has connector 1.
    value: str | None = await system.fetchval(
        """SELECT raw_status FROM connector_status_history
           WHERE charge_point_id = $1 AND evse_id = $2 AND connector_id > 0
           ORDER BY status_at DESC, id DESC LIMIT 1""",
        CP,
        number,
    )
    return value


async def test_reservation_is_used_by_the_reserving_tag(
    system: System, charger: BaseCharger
) -> None:
    protocol = protocol_of(charger)
    answer = await reserve(
        system, {**target(protocol, 1), "id_token": "TAG-A", "expiry_date": in_(300)}
    )
    assert answer["status"] == "Accepted"
    reservation_id = answer["reservation_id"]
    assert isinstance(reservation_id, int)
    held = charger.connectors[1].reservation
    assert held is not None and held.reservation_id == reservation_id and held.id_tag == "TAG-A"
    assert await eventually(lambda: _is(last_status(system, 1), "Reserved"))
    (stored,) = await reservations(system)
    assert stored["reservation_id"] == reservation_id
    assert stored["status"] == "accepted" and stored["id_token"] == "TAG-A"
    assert stored["evse_id"] == 1 and stored["protocol"] == protocol

    # A second reservation of the same connector: Occupied, stored as such.
    other = await reserve(
        system, {**target(protocol, 1), "id_token": "TAG-B", "expiry_date": in_(300)}
    )
    assert other["status"] == "Occupied"

    # Another id tag is refused on the reserved connector: nothing starts.
    refused = await charger.run_session(1, "TAG-B", meter_samples=1)
    assert refused.id_tag_status == "Reserved" and refused.transaction_id is None
    assert await system.fetchval("SELECT count(*) FROM sessions") == 0

    result = await charger.run_session(1, "TAG-A", meter_samples=1)
    assert result.id_tag_status == "Accepted" and result.transaction_id is not None
    assert charger.connectors[1].reservation is None
    (session,) = (await system.api("GET", f"/sessions?charge_point_id={CP}", expect=200))["items"]
    assert session["reservation_id"] == reservation_id
    used = await reservations(system, "&status=used")
    assert [(r["reservation_id"], r["session_id"]) for r in used] == [
        (reservation_id, session["id"])
    ]
    statuses = {r["reservation_id"]: r["status"] for r in await reservations(system)}
    assert statuses == {reservation_id: "used", other["reservation_id"]: "occupied"}


async def _is(value: Awaitable[Any], expected: Any) -> bool:
    return await value == expected


async def test_reservation_expires(system: System, charger: BaseCharger) -> None:
    protocol = protocol_of(charger)
    answer = await reserve(
        system,
        {**target(protocol, 2), "id_token": "TAG-A", "expiry_date": in_(0.6 * TIME_FACTOR)},
    )
    assert answer["status"] == "Accepted"
    rid = answer["reservation_id"]
    assert await eventually(lambda: _is(last_status(system, 2), "Reserved"))
    # Back to Available at the expiry, and reported as expired.
    assert await eventually(lambda: _is(last_status(system, 2), "Available"))
    assert charger.connectors[2].reservation is None
    expired = await reservations(system, "&status=expired")
    assert [r["reservation_id"] for r in expired] == [rid]
    assert await reservations(system, "&status=accepted") == []
    stored = await system.fetchval("SELECT status FROM reservations WHERE reservation_id = $1", rid)
    if protocol == "ocpp2.0.1":
        # The station said so (ReservationStatusUpdate Expired): stored, not only computed.
        assert await eventually(
            lambda: _is(
                system.fetchval("SELECT status FROM reservations WHERE reservation_id = $1", rid),
                "expired",
            )
        )
    else:
        assert stored == "accepted"  # 1.6 has no such message: expiry computed on read
    # After expiry anyone may charge there again.
    result = await charger.run_session(2, "TAG-B", meter_samples=1)
    assert result.id_tag_status == "Accepted"


async def test_cancel_and_unknown_cancel(system: System, charger: BaseCharger) -> None:
    protocol = protocol_of(charger)
    answer = await reserve(
        system,
        {
            **target(protocol, 1),
            "id_token": "TAG-A",
            "expiry_date": in_(300),
            "reservation_id": 4711,
        },
    )
    assert answer == {"status": "Accepted", "reservation_id": 4711}
    cancel = f"/charge-points/{CP}/commands/cancel-reservation"
    assert await system.api("POST", cancel, {"reservation_id": 4711}, expect=200) == {
        "status": "Accepted"
    }
    assert charger.connectors[1].reservation is None
    assert await eventually(lambda: _is(last_status(system, 1), "Available"))
    assert [r["status"] for r in await reservations(system)] == ["cancelled"]

    # An id nobody knows: still sent to the charger, its answer returned.
    assert await system.api("POST", cancel, {"reservation_id": 999}, expect=200) == {
        "status": "Rejected"
    }
    await system.settle()
    frames = [
        json.loads(r["frame"])
        for r in await system.fetch(
            "SELECT frame FROM message_log WHERE charge_point_id = $1 AND direction = 'out' "
            "AND action = 'CancelReservation' ORDER BY id",
            CP,
        )
    ]
    assert [f[3] for f in frames] == [{"reservationId": 4711}, {"reservationId": 999}]
    assert await system.fetchval("SELECT count(*) FROM reservations") == 1


async def test_occupied_unknown_and_generated_ids(system: System, charger: BaseCharger) -> None:
    protocol = protocol_of(charger)
    session = asyncio.create_task(charger.run_session(2, "TAG-B"))  # until stopped
    try:
        assert await eventually(
            lambda: system.fetchval("SELECT count(*) FROM sessions WHERE status = 'active'")
        )
        busy = await reserve(
            system, {**target(protocol, 2), "id_token": "TAG-A", "expiry_date": in_(300)}
        )
        assert busy["status"] == "Occupied"
    finally:
        (active,) = (
            await system.api("GET", f"/sessions?charge_point_id={CP}&status=active", expect=200)
        )["items"]
        await system.api(
            "POST",
            f"/charge-points/{CP}/commands/remote-stop",
            {"session_id": active["id"]},
            expect=200,
        )
        await session
    unknown = await reserve(
        system, {**target(protocol, 7), "id_token": "TAG-A", "expiry_date": in_(300)}
    )
    assert unknown["status"] == "Rejected"
    # Generated ids come from one sequence: distinct and increasing.
    assert busy["reservation_id"] < unknown["reservation_id"]
    stored = {r["reservation_id"]: r["status"] for r in await reservations(system)}
    assert stored == {busy["reservation_id"]: "occupied", unknown["reservation_id"]: "rejected"}


async def test_parent_id_tag_and_validation(system: System, charger: BaseCharger) -> None:
    protocol = protocol_of(charger)
    # 2.0.1 also takes connector_id as the EVSE.
    answer = await reserve(
        system,
        {
            "connector_id": 1,
            "id_token": "TAG-A",
            "parent_id_tag": "GROUP-1",
            "expiry_date": "2099-01-01T00:00:00",
        },
    )
    assert answer["status"] == "Accepted"
    held = charger.connectors[1].reservation
    assert held is not None and held.parent_id_tag == "GROUP-1"
    assert held.expiry == datetime(2099, 1, 1, tzinfo=UTC)
    (stored,) = await reservations(system)
    assert stored["parent_id_token"] == "GROUP-1" and stored["evse_id"] == 1
    assert stored["expiry_date"] == "2099-01-01T00:00:00Z"
    await system.settle()
    (frame,) = await system.fetch(
        "SELECT frame FROM message_log WHERE direction = 'out' AND action = 'ReserveNow'"
    )
    sent = json.loads(frame["frame"])[3]
    if protocol == "ocpp1.6":
        assert sent == {
            "connectorId": 1,
            "expiryDate": "2099-01-01T00:00:00Z",
            "idTag": "TAG-A",
            "reservationId": answer["reservation_id"],
            "parentIdTag": "GROUP-1",
        }
    else:
        assert sent == {
            "id": answer["reservation_id"],
            "expiryDateTime": "2099-01-01T00:00:00Z",
            "idToken": {"idToken": "TAG-A", "type": "ISO14443"},
            "evseId": 1,
            "groupIdToken": {"idToken": "GROUP-1", "type": "Central"},
        }
    # Bad bodies are refused before anything is sent or stored.
    await reserve(system, {"id_token": "TAG-A"}, expect=400)
    await reserve(system, {"connector_id": 1, "id_token": "T", "expiry_date": "soon"}, expect=400)
    if protocol == "ocpp1.6":
        error = await reserve(system, {"id_token": "TAG-A", "expiry_date": in_(60)}, expect=400)
        assert error["error"]["field"] == "connector_id"
    await system.api("GET", "/reservations?status=nonsense", expect=400)
    assert await system.fetchval("SELECT count(*) FROM reservations") == 1


async def test_v201_reservation_removed_by_the_station(
    system: System, charger_201: BaseCharger
) -> None:
    charger = charger_201  # ReservationStatusUpdate exists in OCPP 2.0.1 only
    answer = await reserve(system, {"evse_id": 1, "id_token": "TAG-A", "expiry_date": in_(300)})
    assert answer["status"] == "Accepted"
    send = charger._send  # type: ignore[attr-defined]
    payload = {"reservationId": answer["reservation_id"], "reservationUpdateStatus": "Removed"}
    await send("ReservationStatusUpdate", payload)
    assert [r["status"] for r in await reservations(system)] == ["cancelled"]
    # An update for a reservation we never made is acknowledged and changes nothing.
    await send(
        "ReservationStatusUpdate", {"reservationId": 31337, "reservationUpdateStatus": "Expired"}
    )
    assert await system.fetchval("SELECT count(*) FROM reservations") == 1
