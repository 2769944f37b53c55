"""Charge points: register, list, show, change, remove."""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Literal

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from csms import passwords
from csms.admin.deps import deps_of
from csms.admin.http import json_response, listing, no_content, page_params, parse_body
from csms.admin.routing import LIST_QUERY, Param, Route
from csms.errors import Conflict, NotFound
from csms.store import Row
from csms.store import charge_points as store

__all__ = ["ROUTES", "ChargePointCreate", "ChargePointPatch", "Location", "charge_point_view"]

Protocol = Literal["ocpp1.6", "ocpp2.0.1"]


class Location(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


def _time_zone(value: str) -> str:
    if value == "UTC":
        return value
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name such as Europe/Berlin)"
        ) from None
    return value


class ChargePointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=48, description="Charge point identity; no '/'.")
    password: str = Field(
        min_length=16,
        max_length=64,
        description="HTTP Basic password the charger presents; at least 16 characters "
        "(OCPP 2.0.1 BasicAuthPassword is 16-40): a machine secret, not a memorable word.",
    )
    protocol: Protocol | None = Field(
        default=None, description="Unset: learnt from the first connection."
    )
    location: Location | None = None
    time_zone: str = Field(default="UTC", description="IANA time zone name.")

    @field_validator("id")
    @classmethod
    def _no_slash(cls, value: str) -> str:
        if "/" in value:
            raise ValueError("must not contain '/'")
        if value != value.strip() or not value.isprintable():
            raise ValueError("must not contain surrounding spaces or control characters")
        return value

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _time_zone(value)


class ChargePointPatch(BaseModel):
    """Fields to change; ``location: null`` clears the location, ``protocol: null`` lets
    the next connection decide."""

    model_config = ConfigDict(extra="forbid")

    password: str | None = Field(default=None, min_length=16, max_length=64)
    protocol: Protocol | None = None
    location: Location | None = None
    time_zone: str | None = None

    @field_validator("password", "time_zone")
    @classmethod
    def _not_null(cls, value: str | None) -> str | None:
        if value is None:
            raise ValueError("may not be null")
        return value

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else _time_zone(value)


def _connector_view(row: Row) -> dict[str, Any]:
    return {
        "evse_id": row["evse_id"],
        "connector_id": row["connector_id"],
        "status": row["status"],
        "raw_status": row["raw_status"],
        "error_code": row["error_code"],
        "info": row["info"],
        "status_at": row["status_at"],
    }


def charge_point_view(row: Row, connectors: Iterable[Row], *, online: bool) -> dict[str, Any]:
    location = None
    if row["latitude"] is not None and row["longitude"] is not None:
        location = {"latitude": row["latitude"], "longitude": row["longitude"]}
    return {
        "id": row["id"],
        "protocol": row["protocol"],
        "location": location,
        "time_zone": row["time_zone"],
        "online": online,
        "connected_protocol": row["connected_protocol"],
        "registration_status": row["registration_status"],
        "boot": {
            "vendor": row["vendor"],
            "model": row["model"],
            "serial_number": row["serial_number"],
            "firmware_version": row["firmware_version"],
            "last_boot_at": row["last_boot_at"],
            "details": row["boot_info"],
        },
        "last_seen_at": row["last_seen_at"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "connectors": [_connector_view(c) for c in connectors],
    }


async def _views(
    request: web.Request, conn: asyncpg.Connection, rows: list[Row]
) -> list[dict[str, Any]]:
    """Views of several charge points, their connectors fetched in one query."""
    connections = deps_of(request).connections
    by_charger: defaultdict[str, list[Row]] = defaultdict(list)
    for connector in await store.connectors(conn, [row["id"] for row in rows]):
        by_charger[connector["charge_point_id"]].append(connector)
    return [
        charge_point_view(row, by_charger[row["id"]], online=row["id"] in connections)
        for row in rows
    ]


async def create_charge_point(request: web.Request) -> web.Response:
    body = await parse_body(request, ChargePointCreate)
    digest = await passwords.hash_password(body.password)
    async with deps_of(request).pool.acquire() as conn:
        row = await store.insert(
            conn,
            charge_point_id=body.id,
            password_hash=digest,
            protocol=body.protocol,
            latitude=body.location.latitude if body.location else None,
            longitude=body.location.longitude if body.location else None,
            time_zone=body.time_zone,
        )
        if row is None:
            raise Conflict(f"charge point {body.id} exists already", field="id")
        [view] = await _views(request, conn, [row])
    location = request.app.router["get_charge_point"].url_for(id=body.id)
    return json_response(view, status=201, headers={"Location": str(location)})


async def list_charge_points(request: web.Request) -> web.Response:
    page = page_params(request)
    async with deps_of(request).pool.acquire() as conn:
        rows, next_cursor = page.split(
            await store.page(conn, after=page.cursor, limit=page.fetch_limit),
            lambda row: row["id"],
        )
        views = await _views(request, conn, list(rows))
    return listing(views, next_cursor)


async def get_charge_point(request: web.Request) -> web.Response:
    charge_point_id = request.match_info["id"]
    async with deps_of(request).pool.acquire() as conn:
        row = await store.get(conn, charge_point_id)
        if row is None:
            raise NotFound(f"charge point {charge_point_id} not found")
        [view] = await _views(request, conn, [row])
    return json_response(view)


async def patch_charge_point(request: web.Request) -> web.Response:
    charge_point_id = request.match_info["id"]
    body = await parse_body(request, ChargePointPatch)
    fields: dict[str, Any] = {}
    for name in sorted(body.model_fields_set):
        if name == "password":
            assert body.password is not None
            fields["password_hash"] = await passwords.hash_password(body.password)
        elif name == "location":
            fields["latitude"] = body.location.latitude if body.location else None
            fields["longitude"] = body.location.longitude if body.location else None
        else:
            fields[name] = getattr(body, name)
    async with deps_of(request).pool.acquire() as conn:
        row = await store.update(conn, charge_point_id, fields)
        if row is None:
            raise NotFound(f"charge point {charge_point_id} not found")
        [view] = await _views(request, conn, [row])
    return json_response(view)


async def delete_charge_point(request: web.Request) -> web.Response:
    charge_point_id = request.match_info["id"]
    in_use = Conflict(f"charge point {charge_point_id} has sessions; it cannot be deleted")
    async with deps_of(request).pool.acquire() as conn, conn.transaction():
        if await store.has_sessions(conn, charge_point_id):
            raise in_use
        try:
            deleted = await store.delete(conn, charge_point_id)
        except asyncpg.ForeignKeyViolationError:  # a session started meanwhile
            raise in_use from None
    if not deleted:
        raise NotFound(f"charge point {charge_point_id} not found")
    return no_content()


_ID = (Param("id", "Charge point identity."),)
PATH = "/api/v1/charge-points/{id}"

ROUTES = [
    Route(
        "POST",
        "/api/v1/charge-points",
        create_charge_point,
        "Register a charge point",
        "The charge point (201); 409 when the id is taken.",
        status=201,
        body=(ChargePointCreate,),
        tag="charge points",
    ),
    Route(
        "GET",
        "/api/v1/charge-points",
        list_charge_points,
        "List charge points",
        "A page of charge points ordered by id.",
        query=LIST_QUERY,
        tag="charge points",
    ),
    Route(
        "GET",
        PATH,
        get_charge_point,
        "Show a charge point",
        "The charge point with its connectors, online state and boot information.",
        path_params=_ID,
        tag="charge points",
    ),
    Route(
        "PATCH",
        PATH,
        patch_charge_point,
        "Change a charge point",
        "The updated charge point.",
        body=(ChargePointPatch,),
        path_params=_ID,
        tag="charge points",
    ),
    Route(
        "DELETE",
        PATH,
        delete_charge_point,
        "Remove a charge point",
        "Removed (204); 409 when it has sessions.",
        status=204,
        path_params=_ID,
        tag="charge points",
    ),
]
