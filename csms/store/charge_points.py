"""SQL for charge points, their connectors, status history and status events."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from csms.events import ChargerBooted, StatusChanged
from csms.store import Row, row_dict

_COLUMNS = """id, protocol, latitude, longitude, time_zone, registration_status, vendor, model,
    serial_number, firmware_version, boot_info, last_boot_at, last_seen_at, online,
    connected_protocol, connected_at, created_at, updated_at"""


async def credentials(
    conn: asyncpg.Connection, charge_point_id: str
) -> tuple[str, str | None] | None:
    """The password hash and the registered protocol (None: any) of a charge point."""
    record = await conn.fetchrow(
        "SELECT password_hash, protocol FROM charge_points WHERE id = $1", charge_point_id
    )
    return None if record is None else (record["password_hash"], record["protocol"])


async def insert(
    conn: asyncpg.Connection,
    *,
    charge_point_id: str,
    password_hash: str,
    protocol: str | None,
    latitude: float | None,
    longitude: float | None,
    time_zone: str,
) -> Row | None:
    """Insert a charge point; None when the id is taken."""
    record = await conn.fetchrow(
        f"""INSERT INTO charge_points (id, password_hash, protocol, latitude, longitude, time_zone)
            VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING
            RETURNING {_COLUMNS}""",
        charge_point_id,
        password_hash,
        protocol,
        latitude,
        longitude,
        time_zone,
    )
    return row_dict(record)


async def get(conn: asyncpg.Connection, charge_point_id: str) -> Row | None:
    record = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM charge_points WHERE id = $1", charge_point_id
    )
    return row_dict(record)


async def page(conn: asyncpg.Connection, *, after: str | None, limit: int) -> list[Row]:
    records = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM charge_points WHERE ($1::text IS NULL OR id > $1)
            ORDER BY id LIMIT $2""",
        after,
        limit,
    )
    return [dict(r) for r in records]


async def update(
    conn: asyncpg.Connection, charge_point_id: str, fields: dict[str, Any]
) -> Row | None:
    """Update the given columns (names come from our own code, never from input)."""
    allowed = {"password_hash", "protocol", "latitude", "longitude", "time_zone"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(fields, start=2))
    sets = f"{assignments}, updated_at = now()" if assignments else "updated_at = now()"
    record = await conn.fetchrow(
        f"UPDATE charge_points SET {sets} WHERE id = $1 RETURNING {_COLUMNS}",
        charge_point_id,
        *fields.values(),
    )
    return row_dict(record)


async def delete(conn: asyncpg.Connection, charge_point_id: str) -> bool:
    status: str = await conn.execute("DELETE FROM charge_points WHERE id = $1", charge_point_id)
    return status.endswith(" 1")


async def has_sessions(conn: asyncpg.Connection, charge_point_id: str) -> bool:
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM sessions WHERE charge_point_id = $1)", charge_point_id
    )
    return found


async def connectors(conn: asyncpg.Connection, charge_point_ids: Iterable[str]) -> list[Row]:
    records = await conn.fetch(
        """SELECT charge_point_id, evse_id, connector_id, status, raw_status, error_code, info,
                  vendor_id, vendor_error_code, status_at
           FROM connectors WHERE charge_point_id = ANY($1::text[])
           ORDER BY charge_point_id, evse_id, connector_id""",
        list(charge_point_ids),
    )
    return [dict(r) for r in records]


async def record_boot(
    conn: asyncpg.Connection, charge_point_id: str, boot: ChargerBooted, status: str, at: datetime
) -> None:
    await conn.execute(
        """UPDATE charge_points SET vendor = $2, model = $3, serial_number = $4,
               firmware_version = $5, boot_info = $6, registration_status = $7,
               last_boot_at = $8, last_seen_at = $8, updated_at = now()
           WHERE id = $1""",
        charge_point_id,
        boot.vendor,
        boot.model,
        boot.serial_number,
        boot.firmware_version,
        boot.details,
        status,
        at,
    )


async def record_connection(
    conn: asyncpg.Connection,
    charge_point_id: str,
    *,
    online: bool,
    protocol: str | None,
    at: datetime,
    node: str,
) -> None:
    """Online: this node holds the connection now. Offline: only if this node still holds
    it (the charger may already have reconnected to another process)."""
    if online:
        await conn.execute(
            """UPDATE charge_points SET online = true, connected_protocol = $2,
                   connected_at = $3, last_seen_at = $3, connected_node = $4
               WHERE id = $1""",
            charge_point_id,
            protocol,
            at,
            node,
        )
    else:
        await conn.execute(
            """UPDATE charge_points SET online = false, connected_at = NULL,
                   connected_node = NULL
               WHERE id = $1 AND connected_node = $2""",
            charge_point_id,
            node,
        )


async def touch(conn: asyncpg.Connection, seen: dict[str, datetime]) -> None:
    """Move last_seen_at forward for many chargers at once.

    Rows locked right now (a boot or a connection being recorded) are skipped rather than
    waited for: waiting, in whatever order the rows come, deadlocks against those writers;
    the next flush moves them.
    """
    await conn.execute(
        """UPDATE charge_points AS cp SET last_seen_at = s.at
           FROM unnest($1::text[], $2::timestamptz[]) AS s(id, at)
           WHERE cp.id = s.id AND (cp.last_seen_at IS NULL OR cp.last_seen_at < s.at)
             AND cp.id IN (SELECT id FROM charge_points WHERE id = ANY($1::text[])
                           ORDER BY id FOR UPDATE SKIP LOCKED)""",
        list(seen),
        list(seen.values()),
    )


async def record_status(
    conn: asyncpg.Connection, charge_point_id: str, status: StatusChanged
) -> None:
    """Append to the history (idempotently) and move the current status if this is newer."""
    values = (
        charge_point_id,
        status.evse_id,
        status.connector_id,
        status.status.value,
        status.raw_status,
        status.error_code,
        status.info,
        status.vendor_id,
        status.vendor_error_code,
        status.at,
    )
    await conn.execute(
        """INSERT INTO connector_status_history (charge_point_id, evse_id, connector_id, status,
               raw_status, error_code, info, vendor_id, vendor_error_code, status_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING""",
        *values,
    )
    await conn.execute(
        """INSERT INTO connectors (charge_point_id, evse_id, connector_id, status, raw_status,
               error_code, info, vendor_id, vendor_error_code, status_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (charge_point_id, evse_id, connector_id) DO UPDATE SET
               status = excluded.status, raw_status = excluded.raw_status,
               error_code = excluded.error_code, info = excluded.info,
               vendor_id = excluded.vendor_id, vendor_error_code = excluded.vendor_error_code,
               status_at = excluded.status_at, updated_at = now()
           WHERE connectors.status_at <= excluded.status_at""",
        *values,
    )


async def status_history(
    conn: asyncpg.Connection, charge_point_id: str, *, limit: int = 100
) -> list[Row]:
    records = await conn.fetch(
        """SELECT evse_id, connector_id, status, raw_status, error_code, info, status_at,
                  received_at
           FROM connector_status_history WHERE charge_point_id = $1
           ORDER BY status_at DESC, id DESC LIMIT $2""",
        charge_point_id,
        limit,
    )
    return [dict(r) for r in records]


async def record_event(
    conn: asyncpg.Connection,
    charge_point_id: str,
    kind: str,
    status: str | None,
    payload: dict[str, Any],
) -> None:
    await conn.execute(
        """INSERT INTO charge_point_events (charge_point_id, kind, status, payload)
           VALUES ($1, $2, $3, $4)""",
        charge_point_id,
        kind,
        status,
        payload,
    )


async def events(conn: asyncpg.Connection, charge_point_id: str, *, limit: int = 100) -> list[Row]:
    records = await conn.fetch(
        """SELECT id, kind, status, payload, received_at FROM charge_point_events
           WHERE charge_point_id = $1 ORDER BY id DESC LIMIT $2""",
        charge_point_id,
        limit,
    )
    return [dict(r) for r in records]


async def exists(conn: asyncpg.Connection, charge_point_id: str) -> bool:
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM charge_points WHERE id = $1)", charge_point_id
    )
    return found


async def status_history_page(
    conn: asyncpg.Connection, charge_point_id: str, *, before_id: int | None, limit: int
) -> list[Row]:
    """Status history newest first (by status time); ``before_id`` is the id of the last
    row of the previous page."""
    records = await conn.fetch(
        """SELECT id, evse_id, connector_id, status, raw_status, error_code, info, vendor_id,
                  vendor_error_code, status_at, received_at
           FROM connector_status_history h
           WHERE charge_point_id = $1
             AND ($2::bigint IS NULL OR (h.status_at, h.id) < (
                  SELECT c.status_at, c.id FROM connector_status_history c
                  WHERE c.id = $2 AND c.charge_point_id = $1))
           ORDER BY status_at DESC, id DESC LIMIT $3""",
        charge_point_id,
        before_id,
        limit,
    )
    return [dict(r) for r in records]


async def events_page(
    conn: asyncpg.Connection, charge_point_id: str, *, before_id: int | None, limit: int
) -> list[Row]:
    """Status events newest first; ``before_id`` is the paging cursor."""
    records = await conn.fetch(
        """SELECT id, kind, status, payload, received_at FROM charge_point_events
           WHERE charge_point_id = $1 AND ($2::bigint IS NULL OR id < $2)
           ORDER BY id DESC LIMIT $3""",
        charge_point_id,
        before_id,
        limit,
    )
    return [dict(r) for r in records]


async def events_of_kinds_page(
    conn: asyncpg.Connection,
    charge_point_id: str,
    kinds: Sequence[str],
    *,
    before_id: int | None,
    limit: int,
) -> list[Row]:
    """Status events of the given kinds newest first; ``before_id`` is the paging cursor."""
    records = await conn.fetch(
        """SELECT id, kind, status, payload, received_at FROM charge_point_events
           WHERE charge_point_id = $1 AND kind = ANY($2::text[])
             AND ($3::bigint IS NULL OR id < $3)
           ORDER BY id DESC LIMIT $4""",
        charge_point_id,
        list(kinds),
        before_id,
        limit,
    )
    return [dict(r) for r in records]
