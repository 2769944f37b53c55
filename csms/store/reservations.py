"""SQL for reservations (ReserveNow / CancelReservation) and what became of them.

Expiry is computed on read: a reservation still ``requested`` or ``accepted`` whose
``expiry_date`` has passed is reported (and filtered) as ``expired``; a charger's own
report (2.0.1 ReservationStatusUpdate) stores it.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from csms.store import Row, row_dict

_STATUS = """CASE WHEN status IN ('requested', 'accepted') AND expiry_date <= $1
    THEN 'expired' ELSE status END"""

COLUMNS = f"""id, charge_point_id, reservation_id, protocol, evse_id, connector_id, id_token,
    parent_id_token, expiry_date, {_STATUS} AS status, session_id, created_at, updated_at"""


async def next_id(conn: asyncpg.Connection) -> int:
    value: int = await conn.fetchval("SELECT nextval('reservation_id')::integer")
    return value


async def record_request(
    conn: asyncpg.Connection,
    *,
    charge_point_id: str,
    reservation_id: int,
    protocol: str,
    evse_id: int | None,
    connector_id: int | None,
    id_token: str,
    parent_id_token: str | None,
    expiry_date: datetime,
) -> None:
    """A ReserveNow about to be sent; one with the id of an earlier reservation of the
    same charger replaces it (as the charger does)."""
    await conn.execute(
        """INSERT INTO reservations (charge_point_id, reservation_id, protocol, evse_id,
               connector_id, id_token, parent_id_token, expiry_date, status)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'requested')
           ON CONFLICT (charge_point_id, reservation_id) DO UPDATE SET
               protocol = EXCLUDED.protocol, evse_id = EXCLUDED.evse_id,
               connector_id = EXCLUDED.connector_id, id_token = EXCLUDED.id_token,
               parent_id_token = EXCLUDED.parent_id_token,
               expiry_date = EXCLUDED.expiry_date, status = 'requested', session_id = NULL,
               updated_at = now()""",
        charge_point_id,
        reservation_id,
        protocol,
        evse_id,
        connector_id,
        id_token,
        parent_id_token,
        expiry_date,
    )


async def set_status(
    conn: asyncpg.Connection,
    charge_point_id: str,
    reservation_id: int,
    status: str,
    *,
    only_from: tuple[str, ...] | None = None,
    session_id: int | None = None,
) -> bool:
    """Set a reservation's stored status (when it is in one of ``only_from``, if given)."""
    result: str = await conn.execute(
        """UPDATE reservations SET status = $3, session_id = coalesce($5, session_id),
               updated_at = now()
           WHERE charge_point_id = $1 AND reservation_id = $2
             AND ($4::text[] IS NULL OR status = ANY($4::text[]))""",
        charge_point_id,
        reservation_id,
        status,
        None if only_from is None else list(only_from),
        session_id,
    )
    return result.endswith(" 1")


async def get(
    conn: asyncpg.Connection, charge_point_id: str, reservation_id: int, *, now: datetime
) -> Row | None:
    return row_dict(
        await conn.fetchrow(
            f"""SELECT {COLUMNS} FROM reservations
                WHERE charge_point_id = $2 AND reservation_id = $3""",
            now,
            charge_point_id,
            reservation_id,
        )
    )


async def page(
    conn: asyncpg.Connection,
    *,
    now: datetime,
    charge_point_id: str | None,
    status: str | None,
    before_id: int | None,
    limit: int,
) -> list[Row]:
    """Newest first; ``status`` filters on the reported status (expiry applied)."""
    records = await conn.fetch(
        f"""SELECT {COLUMNS} FROM reservations
            WHERE ($2::text IS NULL OR charge_point_id = $2)
              AND ($3::text IS NULL OR {_STATUS} = $3)
              AND ($4::bigint IS NULL OR id < $4)
            ORDER BY id DESC LIMIT $5""",
        now,
        charge_point_id,
        status,
        before_id,
        limit,
    )
    return [dict(r) for r in records]
