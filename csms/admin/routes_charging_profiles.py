"""Named charging profiles: ``/api/v1/charging-profiles`` (smart charging), and what was
set on a charger: ``GET /api/v1/charge-points/{id}/charging-profiles``."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field

from csms.admin.deps import deps_of
from csms.admin.http import json_response, listing, no_content, page_params, parse_body
from csms.admin.routing import LIST_QUERY, Param, Route
from csms.command_models import ChargingProfileSpec
from csms.errors import Conflict, NotFound
from csms.store import Row
from csms.store import charge_points as charge_point_store
from csms.store import charging_profiles as store

__all__ = ["ROUTES", "ChargingProfileCreate", "charging_profile_view"]


class ChargingProfileCreate(ChargingProfileSpec):
    """A named profile; the name is unique. ``set-charging-profile`` sends it by name."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._~-]+$")


def charging_profile_view(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "purpose": row["purpose"],
        "stack_level": row["stack_level"],
        "kind": row["kind"],
        "recurrency": row["recurrency"],
        "valid_from": row["valid_from"],
        "valid_to": row["valid_to"],
        "charging_rate_unit": row["charging_rate_unit"],
        "duration": row["duration"],
        "start_schedule": row["start_schedule"],
        "min_charging_rate": row["min_charging_rate"],
        "periods": row["periods"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _fields(body: ChargingProfileSpec) -> dict[str, Any]:
    data = body.model_dump(include=set(store.FIELDS))
    data["periods"] = [
        {k: v for k, v in period.items() if v is not None} for period in data["periods"]
    ]
    return data


async def create_charging_profile(request: web.Request) -> web.Response:
    body = await parse_body(request, ChargingProfileCreate)
    async with deps_of(request).pool.acquire() as conn:
        row = await store.insert(conn, body.name, _fields(body))
    if row is None:
        raise Conflict(f"charging profile {body.name} exists already", field="name")
    location = request.app.router["get_charging_profile"].url_for(name=body.name)
    return json_response(
        charging_profile_view(row), status=201, headers={"Location": str(location)}
    )


async def list_charging_profiles(request: web.Request) -> web.Response:
    page = page_params(request)
    async with deps_of(request).pool.acquire() as conn:
        rows, next_cursor = page.split(
            await store.page(conn, after=page.cursor, limit=page.fetch_limit),
            lambda row: row["name"],
        )
    return listing([charging_profile_view(row) for row in rows], next_cursor)


async def get_charging_profile(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    async with deps_of(request).pool.acquire() as conn:
        row = await store.get(conn, name)
    if row is None:
        raise NotFound(f"charging profile {name} not found")
    return json_response(charging_profile_view(row))


async def replace_charging_profile(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    body = await parse_body(request, ChargingProfileSpec)
    async with deps_of(request).pool.acquire() as conn:
        row = await store.replace(conn, name, _fields(body))
    if row is None:
        raise NotFound(f"charging profile {name} not found")
    return json_response(charging_profile_view(row))


async def delete_charging_profile(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    async with deps_of(request).pool.acquire() as conn:
        deleted = await store.delete(conn, name)
    if not deleted:
        raise NotFound(f"charging profile {name} not found")
    return no_content()


async def list_charger_charging_profiles(request: web.Request) -> web.Response:
    charge_point_id = request.match_info["id"]
    async with deps_of(request).pool.acquire() as conn:
        if not await charge_point_store.exists(conn, charge_point_id):
            raise NotFound(f"charge point {charge_point_id} not found")
        rows = await store.set_on(conn, charge_point_id)
    return listing(rows, None)


_NAME = (Param("name", "The profile's name."),)
PATH = "/api/v1/charging-profiles/{name}"
TAG = "smart charging"

ROUTES = [
    Route(
        "POST",
        "/api/v1/charging-profiles",
        create_charging_profile,
        "Add a named charging profile",
        "The profile (201); 409 when the name is taken; 400 naming the invalid field.",
        status=201,
        body=(ChargingProfileCreate,),
        tag=TAG,
    ),
    Route(
        "GET",
        "/api/v1/charging-profiles",
        list_charging_profiles,
        "List charging profiles",
        "A page of named charging profiles ordered by name.",
        query=LIST_QUERY,
        tag=TAG,
    ),
    Route(
        "GET",
        PATH,
        get_charging_profile,
        "Show a charging profile",
        "The profile.",
        path_params=_NAME,
        tag=TAG,
    ),
    Route(
        "PUT",
        PATH,
        replace_charging_profile,
        "Replace a charging profile",
        "The profile with every field replaced (the name and id stay).",
        body=(ChargingProfileSpec,),
        path_params=_NAME,
        tag=TAG,
    ),
    Route(
        "DELETE",
        PATH,
        delete_charging_profile,
        "Delete a charging profile",
        "No content.",
        status=204,
        path_params=_NAME,
        tag=TAG,
    ),
    Route(
        "GET",
        "/api/v1/charge-points/{id}/charging-profiles",
        list_charger_charging_profiles,
        "Charging profiles set on a charger",
        "Every set-charging-profile sent to the charger with its answer (Accepted, "
        "Rejected; an accepted one a clear-charging-profile removed is `cleared`), newest "
        "first.",
        path_params=(Param("id", "Charge point identity."),),
        tag=TAG,
    ),
]
