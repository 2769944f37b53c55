"""SQL for learned Autocharge tags (``VID:`` + MAC) and eMAIDs linked to a VIN."""

from __future__ import annotations

import asyncpg

from csms.store import Row, row_dict


async def tags(conn: asyncpg.Connection, tag: str) -> list[Row]:
    records = await conn.fetch(
        "SELECT * FROM autocharge_tags WHERE tag = $1 AND status <> 'refused'", tag
    )
    return [dict(r) for r in records]


async def learn_tag(
    conn: asyncpg.Connection, *, tag: str, vin: str, vehicle_id: int | None, attempt_id: int
) -> Row:
    """Record the tag for the VIN as pending; a tag known for another VIN is refused (a
    MAC seen on two cars identifies neither)."""
    record = await conn.fetchrow(
        """INSERT INTO autocharge_tags AS t (tag, vin, vehicle_id, learned_from)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (tag) DO UPDATE SET
               status = CASE WHEN t.vin <> EXCLUDED.vin THEN 'refused' ELSE t.status END,
               updated_at = now()
           RETURNING *""",
        tag,
        vin,
        vehicle_id,
        attempt_id,
    )
    assert record is not None
    return dict(record)


async def confirm_tag(conn: asyncpg.Connection, *, tag: str, vin: str, needed: int) -> Row | None:
    """One more session confirmed the link; active once ``needed`` confirmed it."""
    return row_dict(
        await conn.fetchrow(
            """UPDATE autocharge_tags SET confirmations = confirmations + 1,
                   status = CASE WHEN confirmations + 1 >= $3 THEN 'active' ELSE status END,
                   updated_at = now()
               WHERE tag = $1 AND vin = $2 AND status <> 'refused' RETURNING *""",
            tag,
            vin,
            needed,
        )
    )
