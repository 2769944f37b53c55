"""Shared fixtures: a real PostgreSQL (embedded, or CSMS_TEST_DATABASE_URL), one fresh
database per test cloned from a migrated template, and a clock that tests can move."""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from csms.database import EmbeddedPostgres, apply_migrations, create_pool

TEMPLATE = "csms_test_template"
# Slow CI machines get proportionally longer waits (websockets' tests do the same).
TIME_FACTOR = float(os.environ.get("CSMS_TEST_TIME_FACTOR", "1"))


class FakeClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 15, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _with_database(dsn: str, database: str) -> str:
    # Both URL forms asyncpg accepts: ...host/db?host=/socket and ...host:port/db
    scheme, _, rest = dsn.partition("://")
    authority, _, tail = rest.partition("/")
    _, _, query = tail.partition("?")
    return f"{scheme}://{authority}/{database}" + (f"?{query}" if query else "")


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """DSN of the server (admin database). Embedded unless CSMS_TEST_DATABASE_URL is set."""
    external = os.environ.get("CSMS_TEST_DATABASE_URL")
    if external:
        yield external
        return
    with tempfile.TemporaryDirectory(prefix="csms-test-") as tmp:
        server = EmbeddedPostgres(Path(tmp), delete_on_stop=True)
        yield server.start()
        server.stop()


@pytest.fixture(scope="session")
async def template_database(postgres_dsn: str) -> str:
    """A migrated template database; each test clones it (fast, isolated)."""
    admin = await asyncpg.connect(postgres_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        await admin.execute(f'CREATE DATABASE "{TEMPLATE}"')
    finally:
        await admin.close()
    conn = await asyncpg.connect(_with_database(postgres_dsn, TEMPLATE))
    try:
        await apply_migrations(conn)
    finally:
        await conn.close()
    return TEMPLATE


@pytest.fixture
async def database_url(postgres_dsn: str, template_database: str) -> AsyncIterator[str]:
    """A fresh, migrated database for one test; dropped afterwards."""
    name = f"csms_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    finally:
        await admin.close()
    yield _with_database(postgres_dsn, name)
    admin = await asyncpg.connect(postgres_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, min_size=1, max_size=10)
    yield pool
    await asyncio.wait_for(pool.close(), 10)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
