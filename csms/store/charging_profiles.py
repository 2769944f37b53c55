"""SQL for named charging profiles and the profiles set on chargers."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from csms.store import Row

COLUMNS = """id, name, purpose, stack_level, kind, recurrency, valid_from, valid_to,
    charging_rate_unit, duration, start_schedule, min_charging_rate::float8 AS
    min_charging_rate, periods, created_at, updated_at"""
FIELDS = (
    "purpose",
    "stack_level",
    "kind",
    "recurrency",
    "valid_from",
    "valid_to",
    "charging_rate_unit",
    "duration",
    "start_schedule",
    "min_charging_rate",
    "periods",
)


def _row(record: asyncpg.Record | None) -> Row | None:
    if record is None:
        return None
    row = dict(record)
    row["periods"] = json.loads(row["periods"])
    return row


def _values(profile: dict[str, Any]) -> list[Any]:
    return [
        json.dumps(profile[name]) if name == "periods" else profile.get(name) for name in FIELDS
    ]


async def next_id(conn: asyncpg.Connection) -> int:
    value: int = await conn.fetchval("SELECT nextval('charging_profile_id')::integer")
    return value


async def insert(conn: asyncpg.Connection, name: str, profile: dict[str, Any]) -> Row | None:
    """The new profile; None when the name is taken."""
    return _row(
        await conn.fetchrow(
            f"""INSERT INTO charging_profiles (name, {", ".join(FIELDS)})
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb)
                ON CONFLICT (name) DO NOTHING RETURNING {COLUMNS}""",
            name,
            *_values(profile),
        )
    )


async def replace(conn: asyncpg.Connection, name: str, profile: dict[str, Any]) -> Row | None:
    sets = ", ".join(f"{field} = ${i}" for i, field in enumerate(FIELDS, start=2))
    return _row(
        await conn.fetchrow(
            f"""UPDATE charging_profiles SET {sets}, updated_at = now()
                WHERE name = $1 RETURNING {COLUMNS}""",
            name,
            *_values(profile),
        )
    )


async def get(conn: asyncpg.Connection, name: str) -> Row | None:
    return _row(
        await conn.fetchrow(f"SELECT {COLUMNS} FROM charging_profiles WHERE name = $1", name)
    )


async def delete(conn: asyncpg.Connection, name: str) -> bool:
    result: str = await conn.execute("DELETE FROM charging_profiles WHERE name = $1", name)
    return result.endswith(" 1")


async def page(conn: asyncpg.Connection, *, after: str | None, limit: int) -> list[Row]:
    records = await conn.fetch(
        f"""SELECT {COLUMNS} FROM charging_profiles
            WHERE ($1::text IS NULL OR name > $1) ORDER BY name LIMIT $2""",
        after,
        limit,
    )
    return [row for row in map(_row, records) if row is not None]


async def record_set(
    conn: asyncpg.Connection,
    *,
    charge_point_id: str,
    connector_id: int,
    charging_profile_id: int,
    profile_name: str | None,
    purpose: str,
    stack_level: int,
    transaction_id: str | None,
    profile: dict[str, Any],
    status: str,
) -> None:
    await conn.execute(
        """INSERT INTO charger_charging_profiles (charge_point_id, connector_id,
               charging_profile_id, profile_name, purpose, stack_level, transaction_id,
               profile, status)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)""",
        charge_point_id,
        connector_id,
        charging_profile_id,
        profile_name,
        purpose,
        stack_level,
        transaction_id,
        json.dumps(profile),
        status,
    )


async def mark_cleared(
    conn: asyncpg.Connection,
    charge_point_id: str,
    *,
    charging_profile_id: int | None,
    connector_id: int | None,
    purpose: str | None,
    stack_level: int | None,
) -> int:
    """Accepted profiles matching a ClearChargingProfile become ``cleared``."""
    result: str = await conn.execute(
        """UPDATE charger_charging_profiles SET status = 'cleared', updated_at = now()
           WHERE charge_point_id = $1 AND status = 'Accepted'
             AND ($2::integer IS NULL OR charging_profile_id = $2)
             AND ($3::integer IS NULL OR connector_id = $3)
             AND ($4::text IS NULL OR purpose = $4)
             AND ($5::integer IS NULL OR stack_level = $5)""",
        charge_point_id,
        charging_profile_id,
        connector_id,
        purpose,
        stack_level,
    )
    return int(result.rsplit(" ", 1)[-1])


async def set_on(conn: asyncpg.Connection, charge_point_id: str) -> list[Row]:
    """What was set on a charger, newest first."""
    records = await conn.fetch(
        """SELECT id, charge_point_id, connector_id, charging_profile_id, profile_name,
               purpose, stack_level, transaction_id, profile, status, created_at, updated_at
           FROM charger_charging_profiles WHERE charge_point_id = $1 ORDER BY id DESC""",
        charge_point_id,
    )
    rows = []
    for record in records:
        row = dict(record)
        row["profile"] = json.loads(row["profile"])
        rows.append(row)
    return rows
