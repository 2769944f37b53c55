"""SQL for driver accounts."""

from __future__ import annotations

from typing import Any

import asyncpg

from csms.store import Row, row_dict

_COLUMNS = """id, name, email, status, payment_customer_id, payment_method_id,
    target_soc_percent, spending_cap_minor, pnc_id_token, created_at, updated_at"""


async def insert(
    conn: asyncpg.Connection,
    *,
    name: str,
    email: str | None,
    status: str,
    target_soc_percent: int | None = None,
    spending_cap_minor: int | None = None,
) -> Row:
    """A new account; ``target_soc_percent`` None keeps the table's default."""
    values: dict[str, Any] = {"name": name, "email": email, "status": status}
    if target_soc_percent is not None:
        values["target_soc_percent"] = target_soc_percent
    values["spending_cap_minor"] = spending_cap_minor
    placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    record = await conn.fetchrow(
        f"""INSERT INTO accounts ({", ".join(values)}) VALUES ({placeholders})
            RETURNING {_COLUMNS}""",
        *values.values(),
    )
    assert record is not None
    return dict(record)


async def get(conn: asyncpg.Connection, account_id: int) -> Row | None:
    return row_dict(
        await conn.fetchrow(f"SELECT {_COLUMNS} FROM accounts WHERE id = $1", account_id)
    )


async def exists(conn: asyncpg.Connection, account_id: int) -> bool:
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM accounts WHERE id = $1)", account_id
    )
    return found


async def page(conn: asyncpg.Connection, *, after: int | None, limit: int) -> list[Row]:
    records = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM accounts WHERE ($1::bigint IS NULL OR id > $1)
            ORDER BY id LIMIT $2""",
        after,
        limit,
    )
    return [dict(r) for r in records]


async def update(conn: asyncpg.Connection, account_id: int, fields: dict[str, Any]) -> Row | None:
    allowed = {
        "name",
        "email",
        "status",
        "payment_customer_id",
        "payment_method_id",
        "target_soc_percent",
        "spending_cap_minor",
    }
    if set(fields) - allowed:
        raise ValueError(f"not updatable: {sorted(set(fields) - allowed)}")
    assignments = "".join(f"{name} = ${i}, " for i, name in enumerate(fields, start=2))
    record = await conn.fetchrow(
        f"""UPDATE accounts SET {assignments}updated_at = now() WHERE id = $1
            RETURNING {_COLUMNS}""",
        account_id,
        *fields.values(),
    )
    return row_dict(record)


async def delete(conn: asyncpg.Connection, account_id: int) -> bool:
    status: str = await conn.execute("DELETE FROM accounts WHERE id = $1", account_id)
    return status.endswith(" 1")


async def ensure_start_token(conn: asyncpg.Connection, account_id: int, candidate: str) -> str:
    """The account's plug-and-charge id token (``candidate`` when it has none yet), present
    and Accepted in id_tokens as type Central."""
    token: str = await conn.fetchval(
        """UPDATE accounts SET pnc_id_token = coalesce(pnc_id_token, $2), updated_at = now()
           WHERE id = $1 RETURNING pnc_id_token""",
        account_id,
        candidate,
    )
    await conn.execute(
        """INSERT INTO id_tokens (id_token, type, status, account_id)
           VALUES ($1, 'Central', 'Accepted', $2) ON CONFLICT (id_token) DO NOTHING""",
        token,
        account_id,
    )
    return token
