"""SQL for the 2.0.1 device model reported by chargers (NotifyReport)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from csms.store import Row

_KEY = (
    "component",
    "component_instance",
    "evse_id",
    "connector_id",
    "variable",
    "variable_instance",
    "attribute_type",
)
_VALUES = ("value", "mutability", "characteristics", "reported_at")


async def upsert(
    conn: asyncpg.Connection, charge_point_id: str, rows: Sequence[dict[str, Any]]
) -> None:
    if not rows:
        return
    await conn.executemany(
        """INSERT INTO device_model (charge_point_id, component, component_instance, evse_id,
               connector_id, variable, variable_instance, attribute_type, value, mutability,
               characteristics, reported_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           ON CONFLICT (charge_point_id, component, component_instance, evse_id, connector_id,
                        variable, variable_instance, attribute_type)
           DO UPDATE SET value = excluded.value, mutability = excluded.mutability,
               characteristics = excluded.characteristics, reported_at = excluded.reported_at""",
        [(charge_point_id, *(row[k] for k in _KEY), *(row[k] for k in _VALUES)) for row in rows],
    )


async def for_charge_point(conn: asyncpg.Connection, charge_point_id: str) -> list[Row]:
    records = await conn.fetch(
        """SELECT component, component_instance, evse_id, connector_id, variable,
                  variable_instance, attribute_type, value, mutability, characteristics,
                  reported_at
           FROM device_model WHERE charge_point_id = $1
           ORDER BY component, component_instance, evse_id, connector_id, variable,
                    variable_instance, attribute_type""",
        charge_point_id,
    )
    return [dict(r) for r in records]
