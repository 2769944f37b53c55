"""SQL for linked vehicles and received Smartcar webhook events.

A vehicle's ``status`` is derived from the bridge's grant tables: ``linked`` while its
grant is usable, ``reauth_required`` once Smartcar refused the grant's refresh token,
``unlinked`` when it has no grant (or was unlinked).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from csms.store import Row, row_dict

_COLUMNS = """v.id, v.account_id, v.smartcar_vehicle_id, v.vin, v.make, v.model, v.year,
    v.battery_capacity_kwh, v.capacity_source, v.plugged_in, v.charging_state,
    v.soc_percent, v.state_at, v.state_source, v.linked_at, v.unlinked_at, v.created_at,
    v.updated_at,
    CASE WHEN v.unlinked_at IS NOT NULL OR gv.vehicle_id IS NULL THEN 'unlinked'
         WHEN g.status = 'reauth_required' THEN 'reauth_required'
         ELSE 'linked' END AS status,
    g.status_reason"""
_FROM = """vehicles v
    LEFT JOIN smartcar_grant_vehicles gv ON gv.vehicle_id = v.smartcar_vehicle_id
    LEFT JOIN smartcar_grants g ON g.id = gv.grant_id"""


async def upsert_linked(
    conn: asyncpg.Connection,
    *,
    account_id: int,
    smartcar_vehicle_id: str,
    vin: str | None,
    make: str | None,
    model: str | None,
    year: int | None,
    capacity_kwh: float | None,
    capacity_source: str | None,
    now: datetime,
) -> tuple[int, int | None]:
    """Link (or re-link) a vehicle to an account; returns (vehicle id, previous account
    id if the vehicle was linked to another account before)."""
    previous: int | None = await conn.fetchval(
        """SELECT account_id FROM vehicles
           WHERE smartcar_vehicle_id = $1 AND unlinked_at IS NULL FOR UPDATE""",
        smartcar_vehicle_id,
    )
    vehicle_id: int = await conn.fetchval(
        """INSERT INTO vehicles AS v (account_id, smartcar_vehicle_id, vin, make, model, year,
               battery_capacity_kwh, capacity_source, linked_at, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $9)
           ON CONFLICT (smartcar_vehicle_id) DO UPDATE SET
               account_id = EXCLUDED.account_id,
               vin = coalesce(EXCLUDED.vin, v.vin),
               make = coalesce(EXCLUDED.make, v.make),
               model = coalesce(EXCLUDED.model, v.model),
               year = coalesce(EXCLUDED.year, v.year),
               battery_capacity_kwh = coalesce(EXCLUDED.battery_capacity_kwh,
                                               v.battery_capacity_kwh),
               capacity_source = coalesce(EXCLUDED.capacity_source, v.capacity_source),
               linked_at = EXCLUDED.linked_at,
               unlinked_at = NULL,
               updated_at = EXCLUDED.updated_at
           RETURNING v.id""",
        account_id,
        smartcar_vehicle_id,
        vin,
        make,
        model,
        year,
        capacity_kwh,
        capacity_source,
        now,
    )
    return vehicle_id, (previous if previous != account_id else None)


async def get(conn: asyncpg.Connection, vehicle_id: int) -> Row | None:
    return row_dict(
        await conn.fetchrow(f"SELECT {_COLUMNS} FROM {_FROM} WHERE v.id = $1", vehicle_id)
    )


async def get_for_account(conn: asyncpg.Connection, account_id: int, vehicle_id: int) -> Row | None:
    """A vehicle of the account that is not unlinked."""
    return row_dict(
        await conn.fetchrow(
            f"""SELECT {_COLUMNS} FROM {_FROM}
                WHERE v.id = $1 AND v.account_id = $2 AND v.unlinked_at IS NULL""",
            vehicle_id,
            account_id,
        )
    )


async def page_for_account(
    conn: asyncpg.Connection, account_id: int, *, after: int | None, limit: int
) -> list[Row]:
    records = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM {_FROM}
            WHERE v.account_id = $1 AND v.unlinked_at IS NULL
              AND ($2::bigint IS NULL OR v.id > $2)
            ORDER BY v.id LIMIT $3""",
        account_id,
        after,
        limit,
    )
    return [dict(r) for r in records]


async def lock_by_smartcar_id(conn: asyncpg.Connection, smartcar_vehicle_id: str) -> Row | None:
    """The vehicle row, locked for a state update (webhooks may arrive concurrently)."""
    return row_dict(
        await conn.fetchrow(
            """SELECT id, state_at FROM vehicles
               WHERE smartcar_vehicle_id = $1 AND unlinked_at IS NULL FOR UPDATE""",
            smartcar_vehicle_id,
        )
    )


async def lock_smartcar_vehicle(conn: asyncpg.Connection, smartcar_vehicle_id: str) -> None:
    """Serialise, until the transaction ends, the work on one Smartcar vehicle id: a
    webhook for a car that is being linked right now waits for the link to commit."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", smartcar_vehicle_id)


async def mark_unlinked(conn: asyncpg.Connection, vehicle_id: int, now: datetime) -> None:
    await conn.execute(
        "UPDATE vehicles SET unlinked_at = $2, updated_at = $2 WHERE id = $1", vehicle_id, now
    )


async def update_state(
    conn: asyncpg.Connection,
    vehicle_id: int,
    *,
    plugged_in: bool | None,
    charging_state: str | None,
    soc_percent: float | None,
    observed_at: datetime,
    source: str,
) -> None:
    """Set what the update says; fields it does not mention keep their values."""
    await conn.execute(
        """UPDATE vehicles SET plugged_in = coalesce($2, plugged_in),
               charging_state = coalesce($3, charging_state),
               soc_percent = coalesce($4, soc_percent),
               state_at = $5, state_source = $6, updated_at = now()
           WHERE id = $1""",
        vehicle_id,
        plugged_in,
        charging_state,
        soc_percent,
        observed_at,
        source,
    )


async def insert_webhook_event(
    conn: asyncpg.Connection,
    *,
    event_id: str,
    event_type: str,
    smartcar_vehicle_id: str | None,
    vehicle_id: int | None,
    delivery_id: str | None,
    payload: dict[str, Any],
    applied: bool,
) -> bool:
    """Store an event; False when its event id was stored before (a redelivery)."""
    inserted: int | None = await conn.fetchval(
        """INSERT INTO smartcar_webhook_events (event_id, event_type, smartcar_vehicle_id,
               vehicle_id, delivery_id, payload, applied)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (event_id) DO NOTHING RETURNING id""",
        event_id,
        event_type,
        smartcar_vehicle_id,
        vehicle_id,
        delivery_id,
        payload,
        applied,
    )
    return inserted is not None


async def pending_webhook_events(conn: asyncpg.Connection, smartcar_vehicle_id: str) -> list[Row]:
    """Events that arrived for this Smartcar vehicle before it was linked to a row."""
    records = await conn.fetch(
        """SELECT id, event_id, payload FROM smartcar_webhook_events
           WHERE smartcar_vehicle_id = $1 AND vehicle_id IS NULL ORDER BY id""",
        smartcar_vehicle_id,
    )
    return [dict(r) for r in records]


async def attach_webhook_event(
    conn: asyncpg.Connection, event_row_id: int, vehicle_id: int, applied: bool
) -> None:
    await conn.execute(
        "UPDATE smartcar_webhook_events SET vehicle_id = $2, applied = $3 WHERE id = $1",
        event_row_id,
        vehicle_id,
        applied,
    )


async def webhook_events(conn: asyncpg.Connection, *, limit: int = 100) -> list[Row]:
    records = await conn.fetch(
        """SELECT id, event_id, event_type, smartcar_vehicle_id, vehicle_id, delivery_id,
               applied, payload, received_at
           FROM smartcar_webhook_events ORDER BY id DESC LIMIT $1""",
        limit,
    )
    return [dict(r) for r in records]


async def record_position(
    conn: asyncpg.Connection,
    vehicle_id: int,
    *,
    latitude: float,
    longitude: float,
    at: datetime,
) -> None:
    """Remember where the car was (never overwrite a newer position)."""
    await conn.execute(
        """UPDATE vehicles SET latitude = $2, longitude = $3, location_at = $4,
               updated_at = now()
           WHERE id = $1 AND (location_at IS NULL OR location_at <= $4)""",
        vehicle_id,
        latitude,
        longitude,
        at,
    )
