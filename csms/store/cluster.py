"""SQL for server processes sharing one database: node liveness, connection ownership,
and commands relayed to the process that holds a charger's connection."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg


async def register_node(conn: asyncpg.Connection, node_id: str, host: str, pid: int) -> None:
    await conn.execute(
        """INSERT INTO nodes (id, host, pid) VALUES ($1, $2, $3)
           ON CONFLICT (id) DO UPDATE SET seen_at = now()""",
        node_id,
        host,
        pid,
    )


async def heartbeat(conn: asyncpg.Connection, node_id: str) -> None:
    await conn.execute("UPDATE nodes SET seen_at = now() WHERE id = $1", node_id)


async def remove_node(conn: asyncpg.Connection, node_id: str) -> None:
    """A node leaving cleanly: its chargers are offline (until they reconnect elsewhere)."""
    await conn.execute(
        """UPDATE charge_points SET online = false, connected_at = NULL, connected_node = NULL
           WHERE connected_node = $1""",
        node_id,
    )
    await conn.execute("DELETE FROM nodes WHERE id = $1", node_id)


async def reap(conn: asyncpg.Connection, stale_after_s: float) -> int:
    """Forget nodes that stopped heartbeating (killed, host lost) and set their chargers
    offline, as well as chargers marked online by no live node; return how many."""
    await conn.execute(
        "DELETE FROM nodes WHERE seen_at < now() - make_interval(secs => $1)", stale_after_s
    )
    status: str = await conn.execute(
        """UPDATE charge_points SET online = false, connected_at = NULL, connected_node = NULL
           WHERE online AND (connected_node IS NULL
                             OR connected_node NOT IN (SELECT id FROM nodes))"""
    )
    return int(status.rsplit(" ", 1)[1])


async def owner(conn: asyncpg.Connection, charge_point_id: str) -> str | None:
    """The node holding the charger's live connection, if any."""
    value: str | None = await conn.fetchval(
        "SELECT connected_node FROM charge_points WHERE id = $1 AND online", charge_point_id
    )
    return value


async def insert_relay(
    conn: asyncpg.Connection, *, node: str, charge_point_id: str, command: str, body: dict[str, Any]
) -> uuid.UUID:
    relay_id = uuid.uuid4()
    await conn.execute(
        """INSERT INTO command_relay (id, node, charge_point_id, command, body)
           VALUES ($1, $2, $3, $4, $5)""",
        relay_id,
        node,
        charge_point_id,
        command,
        body,
    )
    return relay_id


async def relay_request(conn: asyncpg.Connection, relay_id: uuid.UUID) -> dict[str, Any] | None:
    record = await conn.fetchrow(
        "SELECT charge_point_id, command, body FROM command_relay WHERE id = $1", relay_id
    )
    return None if record is None else dict(record)


async def set_outcome(
    conn: asyncpg.Connection, relay_id: uuid.UUID, outcome: dict[str, Any]
) -> None:
    await conn.execute("UPDATE command_relay SET outcome = $2 WHERE id = $1", relay_id, outcome)


async def take_outcome(conn: asyncpg.Connection, relay_id: uuid.UUID) -> dict[str, Any] | None:
    """The answer, once there is one; the row is removed when it is read."""
    value: dict[str, Any] | None = await conn.fetchval(
        "DELETE FROM command_relay WHERE id = $1 AND outcome IS NOT NULL RETURNING outcome",
        relay_id,
    )
    return value


async def drop_relay(conn: asyncpg.Connection, relay_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM command_relay WHERE id = $1", relay_id)


async def notify(conn: asyncpg.Connection, channel: str, payload: str) -> None:
    await conn.execute("SELECT pg_notify($1, $2)", channel, payload)
