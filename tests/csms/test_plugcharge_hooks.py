"""What plug-and-charge writes inside an OCPP message's transaction: attempts opened and
closed by plug events, car tags attached only where they belong, sessions bound to the
attempt that started them, and the bill deferred until the car's final SoC is read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from csms.events import ConnectorStatus, StatusChanged
from csms.invoicing import enqueue_billing
from csms.plugcharge.hooks import PlugHooks
from csms.store import charge_points
from csms.store import plug_attempts as store

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
HOOKS = PlugHooks(start_timeout=timedelta(minutes=3), car_check_after=timedelta(seconds=20))


def status(raw: str, at: datetime, evse_id: int = 1) -> StatusChanged:
    normalised = ConnectorStatus(raw)
    return StatusChanged(evse_id, evse_id, normalised, raw, "NoError", None, None, None, at)


async def report(conn: asyncpg.Connection, raw: str, at: datetime, evse_id: int = 1) -> None:
    """A StatusNotification as the charger service stores it, with the hook."""
    change = status(raw, at, evse_id)
    async with conn.transaction():
        await charge_points.record_status(conn, "CP1", change)
        await HOOKS.status(conn, "CP1", change)


@pytest.fixture
async def conn(pool: asyncpg.Pool) -> asyncpg.Connection:
    async with pool.acquire() as connection:
        await charge_points.insert(
            connection,
            charge_point_id="CP1",
            password_hash="x",
            protocol="ocpp1.6",
            latitude=52.5,
            longitude=13.4,
            time_zone="UTC",
        )
        yield connection


async def jobs(conn: asyncpg.Connection) -> list[str]:
    return [r["kind"] for r in await conn.fetch("SELECT kind FROM jobs ORDER BY id")]


async def test_a_plug_event_opens_one_attempt_and_unplugging_abandons_it(
    conn: asyncpg.Connection,
) -> None:
    await report(conn, "Preparing", T0)
    await report(conn, "Preparing", T0 + timedelta(seconds=1))  # repeated: the same cable
    rows = await conn.fetch("SELECT * FROM plug_attempts")
    assert [(r["status"], r["evse_id"], r["plugged_at"]) for r in rows] == [("matching", 1, T0)]
    assert await jobs(conn) == ["pnc_match", "pnc_expire"]
    await report(conn, "Available", T0 + timedelta(seconds=30))
    row = await conn.fetchrow("SELECT * FROM plug_attempts")
    assert row is not None
    assert row["status"] == "abandoned"
    assert await jobs(conn) == ["pnc_match", "pnc_expire", "pnc_release"]
    await report(conn, "Preparing", T0 + timedelta(minutes=1))  # plugged in again
    assert await conn.fetchval("SELECT count(*) FROM plug_attempts") == 2


async def test_the_same_cable_after_a_decision_opens_nothing_new(conn: asyncpg.Connection) -> None:
    await report(conn, "Preparing", T0)
    await conn.execute("UPDATE plug_attempts SET status = 'no_match'")
    await report(conn, "Preparing", T0 + timedelta(minutes=2))  # e.g. after a local stop
    assert await conn.fetchval("SELECT count(*) FROM plug_attempts") == 1


async def test_connector_zero_and_other_statuses_are_not_plug_events(
    conn: asyncpg.Connection,
) -> None:
    await report(conn, "Preparing", T0, evse_id=0)
    await report(conn, "Charging", T0)
    assert await conn.fetchval("SELECT count(*) FROM plug_attempts") == 0


async def test_an_autocharge_tag_goes_to_the_only_open_attempt(conn: asyncpg.Connection) -> None:
    await report(conn, "Preparing", T0, evse_id=1)
    await report(conn, "Preparing", T0, evse_id=2)
    async with conn.transaction():
        # Authorize names no connector: with two cars plugged, neither gets the tag.
        assert not await HOOKS.tag_seen(conn, "CP1", "VID:0A1B2C3D4E5F", None)
    await report(conn, "Available", T0 + timedelta(seconds=5), evse_id=2)
    async with conn.transaction():
        assert await HOOKS.tag_seen(conn, "CP1", "VID:0A1B2C3D4E5F", None)
        assert not await HOOKS.tag_seen(conn, "CP1", "RFID-123", None)  # not a car tag
    tagged = await conn.fetch(
        "SELECT evse_id, id_token, id_token_type FROM plug_attempts WHERE id_token IS NOT NULL"
    )
    assert [tuple(r) for r in tagged] == [(1, "VID:0A1B2C3D4E5F", "MacAddress")]


async def _session(conn: asyncpg.Connection, id_token: str) -> int:
    session_id: int = await conn.fetchval(
        """INSERT INTO sessions (charge_point_id, protocol, evse_id, connector_id,
               transaction_id, status, id_token, started_at, meter_start_wh)
           VALUES ('CP1', 'ocpp1.6', 1, 1, '7', 'active', $1, $2, 0) RETURNING id""",
        id_token,
        T0,
    )
    return session_id


async def test_the_started_session_binds_to_the_attempt_that_asked_for_it(
    conn: asyncpg.Connection,
) -> None:
    await report(conn, "Preparing", T0)
    attempt_id = await conn.fetchval(
        "UPDATE plug_attempts SET status = 'starting', start_id_token = 'PNC1' RETURNING id"
    )
    await conn.execute(
        """INSERT INTO payments (attempt_id, provider, currency, status, held_minor)
           VALUES ($1, 'simulated', 'EUR', 'held', 3500)""",
        attempt_id,
    )
    session_id = await _session(conn, "PNC1")
    async with conn.transaction():
        await HOOKS.session_authorized(
            conn, "CP1", session_id=session_id, evse_id=1, id_token="PNC1", at=T0
        )
    attempt = await store.get(conn, attempt_id)
    assert attempt is not None
    assert (attempt["status"], attempt["session_id"]) == ("charging", session_id)
    assert await conn.fetchval("SELECT session_id FROM payments") == session_id
    assert (await jobs(conn))[-2:] == ["pnc_car_check", "pnc_watch"]
    # The end defers the bill to the final SoC reading.
    async with conn.transaction():
        assert await enqueue_billing(conn, session_id, at=T0 + timedelta(minutes=30))
    assert (await jobs(conn))[-1] == "pnc_end"
    assert "bill_session" not in await jobs(conn)
    async with conn.transaction():
        await enqueue_billing(conn, session_id, at=T0 + timedelta(minutes=31), after_pnc=True)
    assert (await jobs(conn))[-1] == "bill_session"


async def test_an_rfid_start_supersedes_the_open_attempt(conn: asyncpg.Connection) -> None:
    await report(conn, "Preparing", T0)
    session_id = await _session(conn, "RFID-1")
    async with conn.transaction():
        await HOOKS.session_authorized(
            conn, "CP1", session_id=session_id, evse_id=1, id_token="RFID-1", at=T0
        )
    row = await conn.fetchrow("SELECT status, session_id FROM plug_attempts")
    assert row is not None
    assert (row["status"], row["session_id"]) == ("superseded", None)
    async with conn.transaction():
        await enqueue_billing(conn, session_id, at=T0)
    assert (await jobs(conn))[-1] == "bill_session"  # an ordinary session is billed at once
