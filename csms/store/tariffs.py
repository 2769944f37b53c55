"""SQL for tariffs, the default tariff and per-charger assignment, and the choice of the
tariff valid at a session's start."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from csms.store import Row, row_dict

_COLUMNS = """id, name, ocpi_id, currency, document, valid_from, valid_to, is_default,
    created_at, updated_at"""
_T_COLUMNS = ", ".join(f"t.{c.strip()}" for c in _COLUMNS.split(","))


async def insert(conn: asyncpg.Connection, fields: dict[str, Any]) -> Row:
    names = ", ".join(fields)
    values = ", ".join(f"${i}" for i in range(1, len(fields) + 1))
    record = await conn.fetchrow(
        f"INSERT INTO tariffs ({names}) VALUES ({values}) RETURNING {_COLUMNS}",
        *fields.values(),
    )
    assert record is not None
    return dict(record)


async def get(conn: asyncpg.Connection, tariff_id: int) -> Row | None:
    return row_dict(await conn.fetchrow(f"SELECT {_COLUMNS} FROM tariffs WHERE id = $1", tariff_id))


async def page(
    conn: asyncpg.Connection, *, after: int | None, limit: int, default_only: bool = False
) -> list[Row]:
    records = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM tariffs
            WHERE ($1::bigint IS NULL OR id > $1) AND (NOT $3 OR is_default)
            ORDER BY id LIMIT $2""",
        after,
        limit,
        default_only,
    )
    return [dict(r) for r in records]


async def update(conn: asyncpg.Connection, tariff_id: int, fields: dict[str, Any]) -> Row | None:
    allowed = {"name", "ocpi_id", "currency", "document", "valid_from", "valid_to", "is_default"}
    if set(fields) - allowed:
        raise ValueError(f"not updatable: {sorted(set(fields) - allowed)}")
    assignments = "".join(f"{name} = ${i}, " for i, name in enumerate(fields, start=2))
    return row_dict(
        await conn.fetchrow(
            f"""UPDATE tariffs SET {assignments}updated_at = now() WHERE id = $1
                RETURNING {_COLUMNS}""",
            tariff_id,
            *fields.values(),
        )
    )


async def delete(conn: asyncpg.Connection, tariff_id: int) -> bool:
    status: str = await conn.execute("DELETE FROM tariffs WHERE id = $1", tariff_id)
    return status.endswith(" 1")


async def assign(conn: asyncpg.Connection, charge_point_id: str, tariff_id: int) -> bool:
    """Assign a tariff to a charger; False when it was assigned already."""
    status: str = await conn.execute(
        """INSERT INTO charge_point_tariffs (charge_point_id, tariff_id) VALUES ($1, $2)
           ON CONFLICT DO NOTHING""",
        charge_point_id,
        tariff_id,
    )
    return status.endswith(" 1")


async def unassign(conn: asyncpg.Connection, charge_point_id: str, tariff_id: int) -> bool:
    status: str = await conn.execute(
        "DELETE FROM charge_point_tariffs WHERE charge_point_id = $1 AND tariff_id = $2",
        charge_point_id,
        tariff_id,
    )
    return status.endswith(" 1")


async def assigned(conn: asyncpg.Connection, charge_point_id: str) -> list[Row]:
    records = await conn.fetch(
        f"""SELECT {_T_COLUMNS} FROM tariffs t
            JOIN charge_point_tariffs a ON a.tariff_id = t.id
            WHERE a.charge_point_id = $1 ORDER BY t.id""",
        charge_point_id,
    )
    return [dict(r) for r in records]


async def charge_points_of(conn: asyncpg.Connection, tariff_id: int) -> list[str]:
    records = await conn.fetch(
        """SELECT charge_point_id FROM charge_point_tariffs WHERE tariff_id = $1
           ORDER BY charge_point_id""",
        tariff_id,
    )
    return [r["charge_point_id"] for r in records]


async def applicable(conn: asyncpg.Connection, charge_point_id: str, at: datetime) -> Row | None:
    """The tariff valid at ``at`` for a charger: one assigned to it, else a default one.

    Among several valid candidates the one that became valid last wins (a scheduled
    price change), then the newest.
    """
    return row_dict(
        await conn.fetchrow(
            f"""SELECT {_T_COLUMNS} FROM tariffs t
                LEFT JOIN charge_point_tariffs a
                       ON a.tariff_id = t.id AND a.charge_point_id = $1
                WHERE (a.tariff_id IS NOT NULL OR t.is_default)
                  AND (t.valid_from IS NULL OR t.valid_from <= $2)
                  AND (t.valid_to IS NULL OR t.valid_to > $2)
                ORDER BY (a.tariff_id IS NOT NULL) DESC,
                         t.valid_from DESC NULLS LAST, t.id DESC
                LIMIT 1""",
            charge_point_id,
            at,
        )
    )
