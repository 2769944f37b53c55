"""SQL for plug-and-charge: match attempts, the Smartcar readings taken for them, learned
Autocharge tags, the cars that can be matched, and the hold placed before a session."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from csms.store import Row, row_dict

OPEN = ("matching", "starting")

_VEHICLE = """v.id, v.account_id, v.smartcar_vehicle_id, v.vin, v.make, v.model,
    v.battery_capacity_kwh, v.capacity_source, v.plugged_in, v.charging_state, v.soc_percent,
    v.state_at, v.state_source, v.latitude, v.longitude, v.location_at"""


async def open_attempt(
    conn: asyncpg.Connection,
    *,
    charge_point_id: str,
    evse_id: int,
    connector_id: int,
    plugged_at: datetime,
    trigger: str,
    id_token: str | None = None,
    id_token_type: str | None = None,
) -> tuple[Row, bool]:
    """The connector's open attempt, created for this plug event when it has none."""
    record = await conn.fetchrow(
        """INSERT INTO plug_attempts (charge_point_id, evse_id, connector_id, plugged_at,
               trigger, id_token, id_token_type)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (charge_point_id, evse_id) WHERE status IN ('matching', 'starting')
           DO NOTHING RETURNING *""",
        charge_point_id,
        evse_id,
        connector_id,
        plugged_at,
        trigger,
        id_token,
        id_token_type,
    )
    if record is not None:
        return dict(record), True
    existing = await open_for_connector(conn, charge_point_id, evse_id)
    assert existing is not None  # the conflict was with it; it cannot vanish before commit
    return existing, False


async def open_for_connector(
    conn: asyncpg.Connection, charge_point_id: str, evse_id: int, *, lock: bool = False
) -> Row | None:
    suffix = " FOR UPDATE" if lock else ""
    return row_dict(
        await conn.fetchrow(
            f"""SELECT * FROM plug_attempts WHERE charge_point_id = $1 AND evse_id = $2
                  AND status IN ('matching', 'starting'){suffix}""",
            charge_point_id,
            evse_id,
        )
    )


async def open_untagged(conn: asyncpg.Connection, charge_point_id: str) -> list[Row]:
    """The charger's open attempts that have no car tag yet, locked."""
    records = await conn.fetch(
        """SELECT * FROM plug_attempts WHERE charge_point_id = $1
             AND status IN ('matching', 'starting') AND id_token IS NULL
           ORDER BY id FOR UPDATE""",
        charge_point_id,
    )
    return [dict(r) for r in records]


async def unplugged_since_last_attempt(
    conn: asyncpg.Connection, charge_point_id: str, evse_id: int
) -> bool:
    """True when the connector has no earlier attempt, or reported Available after the
    latest one's plug event (a new cable, not a repeated status of the same one)."""
    found: bool = await conn.fetchval(
        """WITH last AS (
               SELECT plugged_at FROM plug_attempts WHERE charge_point_id = $1 AND evse_id = $2
               ORDER BY plugged_at DESC, id DESC LIMIT 1)
           SELECT NOT EXISTS (SELECT 1 FROM last) OR EXISTS (
               SELECT 1 FROM connector_status_history h, last
               WHERE h.charge_point_id = $1 AND h.evse_id = $2
                 AND h.raw_status = 'Available' AND h.status_at > last.plugged_at)""",
        charge_point_id,
        evse_id,
    )
    return found


async def has_active_session(conn: asyncpg.Connection, charge_point_id: str, evse_id: int) -> bool:
    """A transaction with a token runs on the connector (a 2.0.1 transaction opened by the
    cable alone, without a token yet, does not count)."""
    found: bool = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM sessions WHERE charge_point_id = $1 AND evse_id = $2
               AND status = 'active' AND id_token IS NOT NULL)""",
        charge_point_id,
        evse_id,
    )
    return found


async def get(conn: asyncpg.Connection, attempt_id: int, *, lock: bool = False) -> Row | None:
    suffix = " FOR UPDATE" if lock else ""
    return row_dict(
        await conn.fetchrow(f"SELECT * FROM plug_attempts WHERE id = $1{suffix}", attempt_id)
    )


async def of_session(
    conn: asyncpg.Connection, session_id: int, *, lock: bool = False
) -> Row | None:
    suffix = " FOR UPDATE" if lock else ""
    return row_dict(
        await conn.fetchrow(
            f"SELECT * FROM plug_attempts WHERE session_id = $1{suffix}", session_id
        )
    )


async def update(
    conn: asyncpg.Connection,
    attempt_id: int,
    fields: dict[str, Any],
    *,
    note: dict[str, Any] | None = None,
) -> Row:
    """Change fields; ``note`` is appended to the attempt's history (what happened when)."""
    names = list(fields)
    assignments = "".join(f"{name} = ${i}, " for i, name in enumerate(names, start=3))
    record = await conn.fetchrow(
        f"""UPDATE plug_attempts SET {assignments}
               history = CASE WHEN $2::jsonb IS NULL THEN history ELSE history || $2::jsonb END,
               updated_at = now()
            WHERE id = $1 RETURNING *""",
        attempt_id,
        None if note is None else json.loads(json.dumps([note], default=str)),
        *fields.values(),
    )
    assert record is not None
    return dict(record)


async def waiting_for_token(
    conn: asyncpg.Connection, charge_point_id: str, id_token: str
) -> list[Row]:
    """Attempts of this charger that asked it to start with ``id_token``, locked."""
    records = await conn.fetch(
        """SELECT * FROM plug_attempts WHERE charge_point_id = $1 AND status = 'starting'
             AND start_id_token = $2 ORDER BY id FOR UPDATE""",
        charge_point_id,
        id_token,
    )
    return [dict(r) for r in records]


async def recent_plugs(
    conn: asyncpg.Connection, *, since: datetime, until: datetime, exclude: int
) -> list[Row]:
    """Other plug events in a time span, with their charger's location (rivals for a car)."""
    records = await conn.fetch(
        """SELECT a.id, a.charge_point_id, a.evse_id, a.plugged_at, a.method, a.status,
                  a.id_token, a.id_token_type, c.latitude, c.longitude
           FROM plug_attempts a JOIN charge_points c ON c.id = a.charge_point_id
           WHERE a.plugged_at BETWEEN $1 AND $2 AND a.id <> $3
             AND a.status NOT IN ('superseded', 'abandoned')""",
        since,
        until,
        exclude,
    )
    return [dict(r) for r in records]


async def matching_between(
    conn: asyncpg.Connection, *, since: datetime, until: datetime
) -> list[Row]:
    """Attempts still deciding whose plug event lies in a time span."""
    records = await conn.fetch(
        """SELECT id FROM plug_attempts WHERE status = 'matching'
             AND plugged_at BETWEEN $1 AND $2 ORDER BY id""",
        since,
        until,
    )
    return [dict(r) for r in records]


async def busy_vehicles(conn: asyncpg.Connection, *, exclude: int) -> set[int]:
    """Cars bound to another attempt that is starting or charging."""
    records = await conn.fetch(
        """SELECT vehicle_id FROM plug_attempts
           WHERE status IN ('starting', 'charging') AND vehicle_id IS NOT NULL AND id <> $1""",
        exclude,
    )
    return {r["vehicle_id"] for r in records}


async def page(
    conn: asyncpg.Connection,
    *,
    charge_point_id: str | None,
    status: str | None,
    after: int | None,
    limit: int,
) -> list[Row]:
    records = await conn.fetch(
        """SELECT * FROM plug_attempts
           WHERE ($1::text IS NULL OR charge_point_id = $1)
             AND ($2::text IS NULL OR status = $2)
             AND ($3::bigint IS NULL OR id < $3)
           ORDER BY id DESC LIMIT $4""",
        charge_point_id,
        status,
        after,
        limit,
    )
    return [dict(r) for r in records]


async def delivering(conn: asyncpg.Connection, session: Row) -> bool:
    """The charger says energy flows on the session's connector: 2.0.1 chargingState
    Charging, 1.6 connector status Charging."""
    if session["protocol"] != "ocpp1.6":
        return bool(session["charging_state"] == "Charging")
    status = await conn.fetchval(
        """SELECT raw_status FROM connectors WHERE charge_point_id = $1 AND evse_id = $2
           ORDER BY status_at DESC LIMIT 1""",
        session["charge_point_id"],
        session["evse_id"],
    )
    return bool(status == "Charging")


# --- cars ------------------------------------------------------------------------------


async def linked_vehicles(conn: asyncpg.Connection) -> list[Row]:
    """Cars that can be matched: linked, with a usable Smartcar grant."""
    records = await conn.fetch(
        f"""SELECT {_VEHICLE} FROM vehicles v
            JOIN smartcar_grant_vehicles gv ON gv.vehicle_id = v.smartcar_vehicle_id
            JOIN smartcar_grants g ON g.id = gv.grant_id
            WHERE v.unlinked_at IS NULL AND g.status = 'active'
            ORDER BY v.id"""
    )
    return [dict(r) for r in records]


async def vehicle_by_vin(conn: asyncpg.Connection, vin: str) -> Row | None:
    return row_dict(
        await conn.fetchrow(
            f"""SELECT {_VEHICLE} FROM vehicles v WHERE v.vin = $1 AND v.unlinked_at IS NULL
                ORDER BY v.id DESC LIMIT 1""",
            vin,
        )
    )


# --- readings --------------------------------------------------------------------------


async def insert_reading(conn: asyncpg.Connection, fields: dict[str, Any]) -> Row:
    names = list(fields)
    placeholders = ", ".join(f"${i}" for i in range(1, len(names) + 1))
    record = await conn.fetchrow(
        f"""INSERT INTO vehicle_readings ({", ".join(names)}) VALUES ({placeholders})
            RETURNING *""",
        *fields.values(),
    )
    assert record is not None
    return dict(record)


async def readings(conn: asyncpg.Connection, attempt_id: int) -> list[Row]:
    records = await conn.fetch(
        "SELECT * FROM vehicle_readings WHERE attempt_id = $1 ORDER BY id", attempt_id
    )
    return [dict(r) for r in records]
