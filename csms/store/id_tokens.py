"""SQL for id tokens (RFID cards, remote-start tokens) and the account behind each."""

from __future__ import annotations

from typing import Any

import asyncpg

from csms.store import Row, row_dict

_COLUMNS = "id_token, type, status, expiry, parent_id_token, account_id, created_at, updated_at"


async def lookup(conn: asyncpg.Connection, id_token: str) -> Row | None:
    """The token with its account's status (None when the token is unknown)."""
    record = await conn.fetchrow(
        """SELECT t.id_token, t.status, t.expiry, t.parent_id_token, t.account_id,
                  a.status AS account_status
           FROM id_tokens t LEFT JOIN accounts a ON a.id = t.account_id
           WHERE t.id_token = $1""",
        id_token,
    )
    return row_dict(record)


async def insert(conn: asyncpg.Connection, values: dict[str, Any]) -> Row | None:
    record = await conn.fetchrow(
        f"""INSERT INTO id_tokens (id_token, type, status, expiry, parent_id_token, account_id)
            VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id_token) DO NOTHING
            RETURNING {_COLUMNS}""",
        values["id_token"],
        values["type"],
        values["status"],
        values.get("expiry"),
        values.get("parent_id_token"),
        values.get("account_id"),
    )
    return row_dict(record)


async def get(conn: asyncpg.Connection, id_token: str) -> Row | None:
    return row_dict(
        await conn.fetchrow(f"SELECT {_COLUMNS} FROM id_tokens WHERE id_token = $1", id_token)
    )


async def page(
    conn: asyncpg.Connection, *, after: str | None, limit: int, account_id: int | None = None
) -> list[Row]:
    records = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM id_tokens
            WHERE ($1::text IS NULL OR id_token > $1)
              AND ($3::bigint IS NULL OR account_id = $3)
            ORDER BY id_token LIMIT $2""",
        after,
        limit,
        account_id,
    )
    return [dict(r) for r in records]


async def update(conn: asyncpg.Connection, id_token: str, fields: dict[str, Any]) -> Row | None:
    allowed = {"type", "status", "expiry", "parent_id_token", "account_id"}
    if set(fields) - allowed:
        raise ValueError(f"not updatable: {sorted(set(fields) - allowed)}")
    assignments = "".join(f"{name} = ${i}, " for i, name in enumerate(fields, start=2))
    record = await conn.fetchrow(
        f"""UPDATE id_tokens SET {assignments}updated_at = now() WHERE id_token = $1
            RETURNING {_COLUMNS}""",
        id_token,
        *fields.values(),
    )
    return row_dict(record)


async def delete(conn: asyncpg.Connection, id_token: str) -> bool:
    status: str = await conn.execute("DELETE FROM id_tokens WHERE id_token = $1", id_token)
    return status.endswith(" 1")
