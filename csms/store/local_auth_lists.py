"""SQL for the local authorisation list of each charger: versions sent, held, reported."""

from __future__ import annotations

import asyncpg

from csms.store import Row, row_dict

_COLUMNS = """charge_point_id, list_version, sent_version, sent_update_type, sent_entries,
    sent_status, sent_at, reported_version, reported_at, updated_at"""


async def record_sent(
    conn: asyncpg.Connection,
    charge_point_id: str,
    *,
    version: int,
    update_type: str,
    entries: int,
    status: str,
) -> None:
    """A SendLocalList and the charger's answer; an Accepted one sets ``list_version``."""
    await conn.execute(
        """INSERT INTO local_auth_lists AS l (charge_point_id, list_version, sent_version,
               sent_update_type, sent_entries, sent_status, sent_at)
           VALUES ($1, CASE WHEN $5 = 'Accepted' THEN $2::integer END, $2, $3, $4, $5, now())
           ON CONFLICT (charge_point_id) DO UPDATE SET
               list_version = CASE WHEN $5 = 'Accepted' THEN $2::integer
                                   ELSE l.list_version END,
               sent_version = $2, sent_update_type = $3, sent_entries = $4, sent_status = $5,
               sent_at = now(), updated_at = now()""",
        charge_point_id,
        version,
        update_type,
        entries,
        status,
    )


async def record_reported(conn: asyncpg.Connection, charge_point_id: str, version: int) -> None:
    """The version a charger reported (GetLocalListVersion)."""
    await conn.execute(
        """INSERT INTO local_auth_lists (charge_point_id, reported_version, reported_at)
           VALUES ($1, $2, now())
           ON CONFLICT (charge_point_id) DO UPDATE SET
               reported_version = $2, reported_at = now(), updated_at = now()""",
        charge_point_id,
        version,
    )


async def get(conn: asyncpg.Connection, charge_point_id: str) -> Row | None:
    return row_dict(
        await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM local_auth_lists WHERE charge_point_id = $1",
            charge_point_id,
        )
    )


async def all_tokens(conn: asyncpg.Connection) -> list[Row]:
    """Every id token with what a local list entry carries, in id order."""
    records = await conn.fetch(
        "SELECT id_token, type, status, expiry, parent_id_token FROM id_tokens ORDER BY id_token"
    )
    return [dict(r) for r in records]


async def token_types(conn: asyncpg.Connection, id_tokens: list[str]) -> dict[str, str]:
    records = await conn.fetch(
        "SELECT id_token, type FROM id_tokens WHERE id_token = ANY($1::text[])", id_tokens
    )
    return {r["id_token"]: r["type"] for r in records}
