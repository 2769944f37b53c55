"""The local authorisation list of a charger as tracked here (send-local-list,
get-local-list-version); read-only."""

from __future__ import annotations

from aiohttp import web

from csms.admin.deps import deps_of
from csms.admin.http import json_response
from csms.admin.routing import Param, Route
from csms.errors import NotFound
from csms.store import charge_points as charge_point_store
from csms.store import local_auth_lists as store

__all__ = ["ROUTES"]


async def get_local_list(request: web.Request) -> web.Response:
    charge_point_id = request.match_info["id"]
    async with deps_of(request).pool.acquire() as conn:
        if not await charge_point_store.exists(conn, charge_point_id):
            raise NotFound(f"charge point {charge_point_id} not found")
        row = await store.get(conn, charge_point_id)
    row = row or {}
    return json_response(
        {
            "charge_point_id": charge_point_id,
            "list_version": row.get("list_version"),
            "sent_version": row.get("sent_version"),
            "sent_update_type": row.get("sent_update_type"),
            "sent_entries": row.get("sent_entries"),
            "sent_status": row.get("sent_status"),
            "sent_at": row.get("sent_at"),
            "reported_version": row.get("reported_version"),
            "reported_at": row.get("reported_at"),
        }
    )


ROUTES = [
    Route(
        "GET",
        "/api/v1/charge-points/{id}/local-list",
        get_local_list,
        "Show a charger's local authorisation list version",
        "list_version: the version of the last update the charger accepted; sent_*: the "
        "last send-local-list and its answer; reported_version: what the charger last "
        "answered to get-local-list-version (nulls when never).",
        path_params=(Param("id", "Charge point identity."),),
        tag="commands",
    ),
]
