"""SQL for the admin API credential (a SHA-256 digest, never the token)."""

from __future__ import annotations

import asyncpg


async def digest(conn: asyncpg.Connection) -> bytes | None:
    value: bytes | None = await conn.fetchval("SELECT token_sha256 FROM admin_credentials")
    return value


async def store_if_absent(conn: asyncpg.Connection, token_sha256: bytes) -> bool:
    status: str = await conn.execute(
        "INSERT INTO admin_credentials (token_sha256) VALUES ($1) ON CONFLICT (id) DO NOTHING",
        token_sha256,
    )
    return status.endswith(" 1")


async def replace(conn: asyncpg.Connection, token_sha256: bytes) -> None:
    await conn.execute(
        """INSERT INTO admin_credentials (token_sha256) VALUES ($1)
           ON CONFLICT (id) DO UPDATE SET token_sha256 = excluded.token_sha256,
               created_at = now()""",
        token_sha256,
    )
