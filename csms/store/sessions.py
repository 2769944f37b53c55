"""SQL for sessions (OCPP transactions) and their meter samples. Every write is idempotent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import asyncpg

from csms.events import MeterSample, TransactionEnded, TransactionStarted
from csms.store import Row, row_dict

COLUMNS = """id, charge_point_id, protocol, evse_id, connector_id, transaction_id, status,
    id_token, id_token_status, account_id, reservation_id, started_at, ended_at,
    meter_start_wh, meter_stop_wh, energy_wh, stop_reason, stop_id_token, remote_start_id,
    charging_state, last_seq_no, offline_events, created_at, updated_at,
    closed_by_operator_at, close_reason, charger_ended_at, charger_meter_stop_wh,
    charger_stop_reason, charger_stop_differs"""


async def insert_started(
    conn: asyncpg.Connection,
    *,
    charge_point_id: str,
    protocol: str,
    started: TransactionStarted,
    start_key: str,
    id_token_status: str,
    account_id: int | None,
) -> tuple[Row, bool]:
    """Record a started transaction with a new 1.6 transaction id.

    Returns the session and whether it was created; a replay of the same start (same
    ``start_key``) returns the session recorded the first time.
    """
    record = await conn.fetchrow(
        f"""INSERT INTO sessions (charge_point_id, protocol, evse_id, connector_id,
                transaction_id, status, id_token, id_token_status, account_id, reservation_id,
                started_at, meter_start_wh, start_key)
            VALUES ($1, $2, $3, $4, nextval('ocpp16_transaction_id')::text, 'active', $5, $6,
                    $7, $8, $9, $10, $11)
            ON CONFLICT (charge_point_id, start_key) WHERE start_key IS NOT NULL DO NOTHING
            RETURNING {COLUMNS}""",
        charge_point_id,
        protocol,
        started.evse_id,
        started.connector_id,
        started.id_token,
        id_token_status,
        account_id,
        started.reservation_id,
        started.started_at,
        started.meter_start_wh,
        start_key,
    )
    if record is not None:
        return dict(record), True
    existing = await conn.fetchrow(
        f"SELECT {COLUMNS} FROM sessions WHERE charge_point_id = $1 AND start_key = $2",
        charge_point_id,
        start_key,
    )
    assert existing is not None
    return dict(existing), False


async def lock_by_transaction(
    conn: asyncpg.Connection, charge_point_id: str, transaction_id: str
) -> Row | None:
    """The known (non-orphan) session of a transaction id, locked for update."""
    return row_dict(
        await conn.fetchrow(
            f"""SELECT {COLUMNS} FROM sessions
                WHERE charge_point_id = $1 AND transaction_id = $2 AND status <> 'orphaned'
                FOR UPDATE""",
            charge_point_id,
            transaction_id,
        )
    )


async def complete(
    conn: asyncpg.Connection,
    session_id: int,
    ended: TransactionEnded,
    energy_wh: int | None,
    stop_key: str,
) -> None:
    await conn.execute(
        """UPDATE sessions SET status = 'completed', ended_at = $2, meter_stop_wh = $3,
               energy_wh = $4, stop_reason = $5, stop_id_token = $6, stop_key = $7,
               updated_at = now()
           WHERE id = $1""",
        session_id,
        ended.ended_at,
        ended.meter_stop_wh,
        energy_wh,
        ended.reason,
        ended.id_token,
        stop_key,
    )


async def insert_orphan_stop(
    conn: asyncpg.Connection,
    *,
    charge_point_id: str,
    protocol: str,
    ended: TransactionEnded,
    stop_key: str,
) -> int:
    """Record a stop for a transaction we never saw start; a replay returns the same row."""
    session_id: int | None = await conn.fetchval(
        """INSERT INTO sessions (charge_point_id, protocol, transaction_id, status, ended_at,
               meter_stop_wh, stop_reason, stop_id_token, id_token, stop_key)
           VALUES ($1, $2, $3, 'orphaned', $4, $5, $6, $7, $7, $8)
           ON CONFLICT (charge_point_id, stop_key) WHERE status = 'orphaned' DO NOTHING
           RETURNING id""",
        charge_point_id,
        protocol,
        ended.transaction_id,
        ended.ended_at,
        ended.meter_stop_wh,
        ended.reason,
        ended.id_token,
        stop_key,
    )
    if session_id is None:
        session_id = await conn.fetchval(
            """SELECT id FROM sessions
               WHERE charge_point_id = $1 AND stop_key = $2 AND status = 'orphaned'""",
            charge_point_id,
            stop_key,
        )
    assert session_id is not None
    return session_id


class SampleRow(NamedTuple):
    charge_point_id: str
    session_id: int | None
    evse_id: int
    connector_id: int
    transaction_id: str | None
    sample: MeterSample


async def insert_samples(
    conn: asyncpg.Connection,
    *,
    charge_point_id: str,
    session_id: int | None,
    evse_id: int,
    connector_id: int,
    transaction_id: str | None,
    samples: Sequence[MeterSample],
) -> int:
    """Insert one message's samples, ignoring ones already stored; return how many were new."""
    return await insert_sample_rows(
        conn,
        [
            SampleRow(charge_point_id, session_id, evse_id, connector_id, transaction_id, sample)
            for sample in samples
        ],
    )


def _sample_columns(rows: Sequence[SampleRow]) -> list[list[Any]]:
    """The per-sample columns of ``meter_samples`` as arrays, in table order, for unnest."""
    samples = [row.sample for row in rows]
    return [
        [s.sampled_at for s in samples],
        [s.measurand for s in samples],
        [s.phase for s in samples],
        [s.location for s in samples],
        [s.context for s in samples],
        [s.format for s in samples],
        [s.unit for s in samples],
        [s.value for s in samples],
        [s.value_numeric for s in samples],
        [s.energy_wh for s in samples],
    ]


async def insert_sample_rows(conn: asyncpg.Connection, rows: Sequence[SampleRow]) -> int:
    """Insert samples of any chargers in one statement; duplicates (a re-sent message, or
    the same sample twice) are ignored. Return how many were new."""
    if not rows:
        return 0
    status: str = await conn.execute(
        """INSERT INTO meter_samples (charge_point_id, session_id, evse_id, connector_id,
               transaction_id, sampled_at, measurand, phase, location, context, format, unit,
               value, value_numeric, energy_wh)
           SELECT * FROM unnest($1::text[], $2::bigint[], $3::int[], $4::int[], $5::text[],
                                $6::timestamptz[], $7::text[], $8::text[], $9::text[],
                                $10::text[], $11::text[], $12::text[], $13::text[],
                                $14::numeric[], $15::bigint[])
           ON CONFLICT DO NOTHING""",
        [r.charge_point_id for r in rows],
        [r.session_id for r in rows],
        [r.evse_id for r in rows],
        [r.connector_id for r in rows],
        [r.transaction_id for r in rows],
        *_sample_columns(rows),
    )
    return int(status.rsplit(" ", 1)[1])


async def insert_transaction_samples(
    conn: asyncpg.Connection, rows: Sequence[SampleRow]
) -> set[tuple[str, str]]:
    """Insert samples of any chargers, each linked to the session of its (charger,
    transaction id) found in the same statement; duplicates are ignored. One statement, so
    it is atomic on its own and costs one round trip. Return the (charger, transaction id)
    pairs that matched no known session (their samples are kept unlinked)."""
    if not rows:
        return set()
    records = await conn.fetch(
        """WITH incoming AS (
               SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::text[],
                                    $5::timestamptz[], $6::text[], $7::text[], $8::text[],
                                    $9::text[], $10::text[], $11::text[], $12::text[],
                                    $13::numeric[], $14::bigint[])
                   AS r(charge_point_id, evse_id, connector_id, transaction_id, sampled_at,
                        measurand, phase, location, context, format, unit, value,
                        value_numeric, energy_wh)),
           linked AS (
               SELECT r.*, s.id AS session_id FROM incoming r
               LEFT JOIN sessions s ON s.charge_point_id = r.charge_point_id
                                   AND s.transaction_id = r.transaction_id
                                   AND s.status <> 'orphaned'),
           inserted AS (
               INSERT INTO meter_samples (charge_point_id, session_id, evse_id, connector_id,
                   transaction_id, sampled_at, measurand, phase, location, context, format,
                   unit, value, value_numeric, energy_wh)
               SELECT charge_point_id, session_id, evse_id, connector_id, transaction_id,
                      sampled_at, measurand, phase, location, context, format, unit, value,
                      value_numeric, energy_wh FROM linked
               ON CONFLICT DO NOTHING)
           SELECT DISTINCT charge_point_id, transaction_id FROM linked
           WHERE session_id IS NULL AND transaction_id IS NOT NULL""",
        [r.charge_point_id for r in rows],
        [r.evse_id for r in rows],
        [r.connector_id for r in rows],
        [r.transaction_id for r in rows],
        *_sample_columns(rows),
    )
    return {(r["charge_point_id"], r["transaction_id"]) for r in records}


async def get(conn: asyncpg.Connection, session_id: int) -> Row | None:
    return row_dict(
        await conn.fetchrow(f"SELECT {COLUMNS} FROM sessions WHERE id = $1", session_id)
    )


async def page(
    conn: asyncpg.Connection,
    *,
    charge_point_id: str | None,
    status: str | None,
    started_from: datetime | None,
    started_to: datetime | None,
    before_id: int | None,
    limit: int,
) -> list[Row]:
    """Sessions newest first (by id), filtered; ``before_id`` is the paging cursor."""
    records = await conn.fetch(
        f"""SELECT {COLUMNS} FROM sessions
            WHERE ($1::text IS NULL OR charge_point_id = $1)
              AND ($2::text IS NULL OR status = $2)
              AND ($3::timestamptz IS NULL OR coalesce(started_at, ended_at) >= $3)
              AND ($4::timestamptz IS NULL OR coalesce(started_at, ended_at) < $4)
              AND ($5::bigint IS NULL OR id < $5)
            ORDER BY id DESC LIMIT $6""",
        charge_point_id,
        status,
        started_from,
        started_to,
        before_id,
        limit,
    )
    return [dict(r) for r in records]


async def samples(conn: asyncpg.Connection, session_id: int) -> list[Row]:
    records = await conn.fetch(
        """SELECT sampled_at, measurand, phase, location, context, format, unit, value,
                  value_numeric, energy_wh
           FROM meter_samples WHERE session_id = $1
           ORDER BY sampled_at, measurand, phase, location""",
        session_id,
    )
    return [dict(r) for r in records]


async def next_remote_start_id(conn: asyncpg.Connection) -> int:
    value: int = await conn.fetchval("SELECT nextval('remote_start_id')")
    return value


async def lock(conn: asyncpg.Connection, session_id: int) -> Row | None:
    return row_dict(
        await conn.fetchrow(f"SELECT {COLUMNS} FROM sessions WHERE id = $1 FOR UPDATE", session_id)
    )


async def last_register(conn: asyncpg.Connection, session_id: int) -> Row | None:
    """The session's last total energy import register sample (time and Wh)."""
    return row_dict(
        await conn.fetchrow(
            """SELECT sampled_at, energy_wh FROM meter_samples WHERE session_id = $1
                 AND measurand = 'Energy.Active.Import.Register' AND phase = ''
                 AND energy_wh IS NOT NULL
               ORDER BY sampled_at DESC, id DESC LIMIT 1""",
            session_id,
        )
    )


async def close_by_operator(
    conn: asyncpg.Connection,
    session_id: int,
    *,
    ended_at: datetime,
    meter_start_wh: int | None,
    meter_stop_wh: int | None,
    energy_wh: int | None,
    reason: str | None,
    now: datetime,
) -> None:
    await conn.execute(
        """UPDATE sessions SET status = 'completed', ended_at = $2, meter_start_wh = $3,
               meter_stop_wh = $4, energy_wh = $5, stop_reason = 'ClosedByOperator',
               closed_by_operator_at = $6, close_reason = $7, updated_at = now()
           WHERE id = $1""",
        session_id,
        ended_at,
        meter_start_wh,
        meter_stop_wh,
        energy_wh,
        now,
        reason,
    )


async def record_charger_stop(
    conn: asyncpg.Connection,
    session_id: int,
    *,
    ended_at: datetime | None,
    meter_stop_wh: int | None,
    reason: str | None,
    differs: bool,
) -> None:
    """The charger's own stop of a session the operator already closed (first one wins)."""
    await conn.execute(
        """UPDATE sessions SET charger_ended_at = $2, charger_meter_stop_wh = $3,
               charger_stop_reason = $4, charger_stop_differs = $5, updated_at = now()
           WHERE id = $1 AND charger_ended_at IS NULL""",
        session_id,
        ended_at,
        meter_stop_wh,
        reason,
        differs,
    )
