"""Tariffs (OCPI 2.2.1 documents): CRUD, the default, per-charger assignment, and the
pricing preview that runs the same code path as the real bill (and ``csms price``)."""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

import billing
from csms.admin.deps import deps_of
from csms.admin.http import (
    json_response,
    listing,
    no_content,
    page_params,
    parse_body,
    path_int,
    query_datetime,
)
from csms.admin.routing import LIST_QUERY, Param, Route
from csms.errors import InvalidInput, NotFound
from csms.pricing import preview
from csms.store import Row
from csms.store import charge_points as charge_point_store
from csms.store import tariffs as store

__all__ = ["ROUTES", "PreviewRequest", "TariffCreate", "TariffPatch", "tariff_view"]


class PreviewRequest(BaseModel):
    """A tariff and a session document as ``csms price`` reads them from files."""

    model_config = ConfigDict(extra="forbid")

    tariff: dict[str, Any] = Field(description="An OCPI 2.2.1 tariff.")
    session: dict[str, Any] = Field(
        description="time_zone, current_type, start, end, meter_values (OCPP 1.6 MeterValue "
        "objects), optional meter_start_wh, meter_stop_wh, connector_status, soc, "
        "battery_capacity_kwh."
    )


class TariffCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    tariff: dict[str, Any] = Field(
        description="An OCPI 2.2.1 tariff; start_date_time/end_date_time bound its validity."
    )
    name: str | None = Field(default=None, min_length=1, max_length=200)
    is_default: bool = Field(
        default=False, description="Applies to chargers without a tariff of their own."
    )


class TariffPatch(BaseModel):
    """Fields to change. Invoices keep the tariff as it was when they were issued."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    tariff: dict[str, Any] | None = None
    name: str | None = Field(default=None, min_length=1, max_length=200)
    is_default: bool | None = None

    @field_validator("tariff", "is_default")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may not be null")
        return value


def _document_fields(document: dict[str, Any]) -> dict[str, Any]:
    """The validated document and the columns derived from it."""
    try:
        tariff = billing.parse_tariff(document)
    except billing.TariffError as error:
        field = f"tariff.{error.path}" if error.path and error.path != "tariff" else "tariff"
        raise InvalidInput(f"{field}: {error.message}", field=field) from None
    return {
        "document": document,
        "currency": tariff.currency,
        "ocpi_id": tariff.id,
        "valid_from": tariff.start_date_time,
        "valid_to": tariff.end_date_time,
    }


def tariff_view(row: Row, charge_points: list[str] | None = None) -> dict[str, Any]:
    view = {
        "id": row["id"],
        "name": row["name"],
        "ocpi_id": row["ocpi_id"],
        "currency": row["currency"],
        "valid_from": row["valid_from"],
        "valid_to": row["valid_to"],
        "is_default": row["is_default"],
        "tariff": row["document"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }
    if charge_points is not None:
        view["charge_points"] = charge_points
    return view


async def preview_tariff(request: web.Request) -> web.Response:
    body = await parse_body(request, PreviewRequest)
    return json_response(preview(body.tariff, body.session))


async def create_tariff(request: web.Request) -> web.Response:
    body = await parse_body(request, TariffCreate)
    fields = _document_fields(body.tariff) | {"name": body.name, "is_default": body.is_default}
    async with deps_of(request).pool.acquire() as conn:
        row = await store.insert(conn, fields)
    location = request.app.router["get_tariff"].url_for(id=str(row["id"]))
    return json_response(tariff_view(row, []), status=201, headers={"Location": str(location)})


async def list_tariffs(request: web.Request) -> web.Response:
    page = page_params(request)
    default_only = request.query.get("default") in ("1", "true")
    async with deps_of(request).pool.acquire() as conn:
        rows, next_cursor = page.split(
            await store.page(
                conn, after=page.int_cursor(), limit=page.fetch_limit, default_only=default_only
            ),
            lambda row: row["id"],
        )
    return listing([tariff_view(row) for row in rows], next_cursor)


async def get_tariff(request: web.Request) -> web.Response:
    tariff_id = path_int(request, "id", "tariff")
    async with deps_of(request).pool.acquire() as conn:
        row = await store.get(conn, tariff_id)
        if row is None:
            raise NotFound(f"tariff {tariff_id} not found")
        assigned = await store.charge_points_of(conn, tariff_id)
    return json_response(tariff_view(row, assigned))


async def patch_tariff(request: web.Request) -> web.Response:
    tariff_id = path_int(request, "id", "tariff")
    body = await parse_body(request, TariffPatch)
    fields: dict[str, Any] = {}
    if body.tariff is not None:
        fields |= _document_fields(body.tariff)
    for name in ("name", "is_default"):
        if name in body.model_fields_set:
            fields[name] = getattr(body, name)
    async with deps_of(request).pool.acquire() as conn:
        if fields:
            row = await store.update(conn, tariff_id, fields)
        else:
            row = await store.get(conn, tariff_id)
        if row is None:
            raise NotFound(f"tariff {tariff_id} not found")
        assigned = await store.charge_points_of(conn, tariff_id)
    return json_response(tariff_view(row, assigned))


async def delete_tariff(request: web.Request) -> web.Response:
    tariff_id = path_int(request, "id", "tariff")
    async with deps_of(request).pool.acquire() as conn:
        deleted = await store.delete(conn, tariff_id)
    if not deleted:
        raise NotFound(f"tariff {tariff_id} not found")
    return no_content()


async def _charge_point(conn: asyncpg.Connection, charge_point_id: str) -> None:
    if not await charge_point_store.exists(conn, charge_point_id):
        raise NotFound(f"charge point {charge_point_id} not found")


async def charge_point_tariffs(request: web.Request) -> web.Response:
    charge_point_id = request.match_info["id"]
    at = query_datetime(request, "at") or deps_of(request).clock()
    async with deps_of(request).pool.acquire() as conn:
        await _charge_point(conn, charge_point_id)
        assigned = await store.assigned(conn, charge_point_id)
        applicable = await store.applicable(conn, charge_point_id, at)
    return json_response(
        {
            "charge_point_id": charge_point_id,
            "assigned": [tariff_view(row) for row in assigned],
            "applicable_at": at,
            "applicable": None if applicable is None else tariff_view(applicable),
        }
    )


async def assign_tariff(request: web.Request) -> web.Response:
    charge_point_id = request.match_info["id"]
    tariff_id = path_int(request, "tariff_id", "tariff")
    async with deps_of(request).pool.acquire() as conn:
        await _charge_point(conn, charge_point_id)
        if await store.get(conn, tariff_id) is None:
            raise NotFound(f"tariff {tariff_id} not found")
        created = await store.assign(conn, charge_point_id, tariff_id)
    return json_response(
        {"charge_point_id": charge_point_id, "tariff_id": tariff_id},
        status=201 if created else 200,
    )


async def unassign_tariff(request: web.Request) -> web.Response:
    charge_point_id = request.match_info["id"]
    tariff_id = path_int(request, "tariff_id", "tariff")
    async with deps_of(request).pool.acquire() as conn:
        removed = await store.unassign(conn, charge_point_id, tariff_id)
    if not removed:
        raise NotFound(f"tariff {tariff_id} is not assigned to {charge_point_id}")
    return no_content()


_ID = (Param("id", "Tariff id.", {"type": "integer", "minimum": 1}),)
_CP = (
    Param("id", "Charge point id."),
    Param("tariff_id", "Tariff id.", {"type": "integer", "minimum": 1}),
)
PATH = "/api/v1/tariffs/{id}"
CP_PATH = "/api/v1/charge-points/{id}/tariffs/{tariff_id}"

ROUTES = [
    Route(
        "POST",
        "/api/v1/tariffs/preview",
        preview_tariff,
        "Price a session document with a tariff",
        "The priced session: energy and its corrections, periods, lines, VAT, the total "
        "rounded once, and the cross-check verdict. The same answer as `csms price`; bad "
        "input is a 400 naming the field (`tariff.currency`, `session.end`, ...).",
        body=(PreviewRequest,),
        tag="tariffs",
    ),
    Route(
        "POST",
        "/api/v1/tariffs",
        create_tariff,
        "Add a tariff",
        "The tariff (201).",
        status=201,
        body=(TariffCreate,),
        tag="tariffs",
    ),
    Route(
        "GET",
        "/api/v1/tariffs",
        list_tariffs,
        "List tariffs",
        "A page of tariffs ordered by id.",
        query=(*LIST_QUERY, Param("default", "`true`: only default tariffs.")),
        tag="tariffs",
    ),
    Route(
        "GET",
        PATH,
        get_tariff,
        "Show a tariff",
        "The tariff and the chargers it is assigned to.",
        path_params=_ID,
        tag="tariffs",
    ),
    Route(
        "PATCH",
        PATH,
        patch_tariff,
        "Change a tariff",
        "The updated tariff. Issued invoices keep their snapshot of the old one.",
        body=(TariffPatch,),
        path_params=_ID,
        tag="tariffs",
    ),
    Route(
        "DELETE",
        PATH,
        delete_tariff,
        "Remove a tariff",
        "Removed (204); invoices keep their snapshot of it.",
        status=204,
        path_params=_ID,
        tag="tariffs",
    ),
    Route(
        "GET",
        "/api/v1/charge-points/{id}/tariffs",
        charge_point_tariffs,
        "Tariffs of a charge point",
        "The tariffs assigned to it and the one that applies at `at` (default now): an "
        "assigned one valid then, else a valid default.",
        query=(Param("at", "ISO 8601 instant.", {"type": "string", "format": "date-time"}),),
        path_params=(Param("id", "Charge point id."),),
        tag="tariffs",
    ),
    Route(
        "PUT",
        CP_PATH,
        assign_tariff,
        "Assign a tariff to a charge point",
        "Assigned (201), or already assigned (200).",
        status=201,
        path_params=_CP,
        tag="tariffs",
    ),
    Route(
        "DELETE",
        CP_PATH,
        unassign_tariff,
        "Unassign a tariff from a charge point",
        "Unassigned (204).",
        status=204,
        path_params=_CP,
        tag="tariffs",
    ),
]
