"""SQL for OCPP 2.0.1 transactions: sessions keyed by the charger's transaction id, and
every TransactionEvent with its seqNo."""

from __future__ import annotations

from typing import Any

import asyncpg

from csms.events import TransactionEventReceived
from csms.store import Row, row_dict
from csms.store.sessions import COLUMNS


async def lock_session(
    conn: asyncpg.Connection, charge_point_id: str, transaction_id: str
) -> Row | None:
    """The session of a charger-owned transaction id (an orphan too), locked."""
    return row_dict(
        await conn.fetchrow(
            f"""SELECT {COLUMNS} FROM sessions
                WHERE charge_point_id = $1 AND transaction_id = $2
                ORDER BY (status = 'orphaned'), id LIMIT 1 FOR UPDATE""",
            charge_point_id,
            transaction_id,
        )
    )


async def insert_session(
    conn: asyncpg.Connection,
    *,
    charge_point_id: str,
    protocol: str,
    event: TransactionEventReceived,
    status: str,
) -> Row:
    record = await conn.fetchrow(
        f"""INSERT INTO sessions (charge_point_id, protocol, evse_id, connector_id,
                transaction_id, status, started_at, remote_start_id, stop_key)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            RETURNING {COLUMNS}""",
        charge_point_id,
        protocol,
        event.evse_id,
        event.connector_id,
        event.transaction_id,
        status,
        event.occurred_at if event.event_type == "Started" else None,
        event.remote_start_id,
        # An orphan (first seen ended) is unique per transaction id.
        event.transaction_id if status == "orphaned" else None,
    )
    assert record is not None
    return dict(record)


async def insert_event(
    conn: asyncpg.Connection,
    *,
    charge_point_id: str,
    session_id: int,
    event: TransactionEventReceived,
) -> bool:
    """Record the event; False when this (transaction, seqNo) was seen already."""
    status: str = await conn.execute(
        """INSERT INTO transaction_events (charge_point_id, session_id, transaction_id, seq_no,
               event_type, trigger_reason, charging_state, stopped_reason, id_token,
               id_token_type, offline, occurred_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           ON CONFLICT (charge_point_id, transaction_id, seq_no) DO NOTHING""",
        charge_point_id,
        session_id,
        event.transaction_id,
        event.seq_no,
        event.event_type,
        event.trigger_reason,
        event.charging_state,
        event.stopped_reason,
        event.id_token,
        event.id_token_type,
        event.offline,
        event.occurred_at,
    )
    return status.endswith(" 1")


async def update_session(conn: asyncpg.Connection, session_id: int, fields: dict[str, Any]) -> None:
    allowed = {
        "status",
        "evse_id",
        "connector_id",
        "started_at",
        "ended_at",
        "id_token",
        "id_token_status",
        "account_id",
        "meter_start_wh",
        "meter_stop_wh",
        "energy_wh",
        "stop_reason",
        "charging_state",
        "last_seq_no",
        "offline_events",
        "remote_start_id",
        "reservation_id",
    }
    if not fields:
        return
    if set(fields) - allowed:
        raise ValueError(f"not updatable: {sorted(set(fields) - allowed)}")
    assignments = "".join(f"{name} = ${i}, " for i, name in enumerate(fields, start=2))
    await conn.execute(
        f"UPDATE sessions SET {assignments}updated_at = now() WHERE id = $1",
        session_id,
        *fields.values(),
    )


async def register_bounds(conn: asyncpg.Connection, session_id: int) -> Row:
    """The energy register at the session's edges: the Transaction.Begin/End readings when
    the charger sent them, else the first and last total import register reading."""
    record = await conn.fetchrow(
        """SELECT
             (SELECT energy_wh FROM meter_samples WHERE session_id = $1
                AND measurand = 'Energy.Active.Import.Register' AND phase = ''
                AND energy_wh IS NOT NULL
              ORDER BY (context = 'Transaction.Begin') DESC, sampled_at, id LIMIT 1) AS first_wh,
             (SELECT energy_wh FROM meter_samples WHERE session_id = $1
                AND measurand = 'Energy.Active.Import.Register' AND phase = ''
                AND energy_wh IS NOT NULL
              ORDER BY (context = 'Transaction.End') DESC, sampled_at DESC, id DESC
              LIMIT 1) AS last_wh""",
        session_id,
    )
    assert record is not None
    return dict(record)


async def start_register(conn: asyncpg.Connection, session: Row) -> int | None:
    """Where the session's energy register started: meterStart (1.6), else the first
    register reading (2.0.1 has no meterStart)."""
    if session["meter_start_wh"] is not None:
        start: int = session["meter_start_wh"]
        return start
    first: int | None = (await register_bounds(conn, session["id"]))["first_wh"]
    return first


async def events(conn: asyncpg.Connection, session_id: int) -> list[Row]:
    records = await conn.fetch(
        """SELECT seq_no, event_type, trigger_reason, charging_state, stopped_reason, id_token,
                  id_token_type, offline, occurred_at, received_at
           FROM transaction_events WHERE session_id = $1 ORDER BY seq_no""",
        session_id,
    )
    return [dict(r) for r in records]
