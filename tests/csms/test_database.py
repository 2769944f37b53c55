from __future__ import annotations

import asyncpg

from csms.database import apply_migrations, migrations


async def test_migrations_are_recorded_and_idempotent(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        versions = [
            r["version"]
            for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
        ]
        assert versions == [m.version for m in migrations()]
        assert await apply_migrations(conn) == []
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
    assert {
        "charge_points",
        "connectors",
        "connector_status_history",
        "id_tokens",
        "accounts",
        "sessions",
        "meter_samples",
        "message_log",
        "jobs",
    } <= tables
