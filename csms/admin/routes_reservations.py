"""Reservations made with reserve-now, with the charger's answer; read-only.

``status`` is as reported: a requested or accepted reservation past its expiry is
``expired`` (computed on read).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from csms.admin.deps import deps_of
from csms.admin.http import listing, page_params, query_choice
from csms.admin.routing import LIST_QUERY, Param, Route
from csms.store import Row
from csms.store import reservations as store

__all__ = ["ROUTES", "reservation_view"]

STATUSES = (
    "requested",
    "accepted",
    "rejected",
    "faulted",
    "occupied",
    "unavailable",
    "cancelled",
    "used",
    "expired",
)


def reservation_view(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "reservation_id": row["reservation_id"],
        "charge_point_id": row["charge_point_id"],
        "protocol": row["protocol"],
        "evse_id": row["evse_id"],
        "connector_id": row["connector_id"],
        "id_token": row["id_token"],
        "parent_id_token": row["parent_id_token"],
        "expiry_date": row["expiry_date"],
        "status": row["status"],
        "session_id": row["session_id"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


async def list_reservations(request: web.Request) -> web.Response:
    page = page_params(request)
    before_id = page.int_cursor()
    charge_point_id = request.query.get("charge_point_id") or None
    status = query_choice(request, "status", STATUSES)
    deps = deps_of(request)
    async with deps.pool.acquire() as conn:
        rows, next_cursor = page.split(
            await store.page(
                conn,
                now=deps.clock(),
                charge_point_id=charge_point_id,
                status=status,
                before_id=before_id,
                limit=page.fetch_limit,
            ),
            lambda row: row["id"],
        )
    return listing([reservation_view(row) for row in rows], next_cursor)


ROUTES = [
    Route(
        "GET",
        "/api/v1/reservations",
        list_reservations,
        "List reservations",
        "A page of reservations, newest first. `status` is as reported: a requested or "
        "accepted reservation past its expiry_date is `expired`.",
        query=(
            *LIST_QUERY,
            Param("charge_point_id", "Only this charge point's reservations."),
            Param(
                "status",
                "Only reservations in this state.",
                {"type": "string", "enum": list(STATUSES)},
            ),
        ),
        tag="reservations",
    ),
]
