"""What a charge point said and did: its frame log, status history and status events.

All three are newest first and paged with an integer cursor (a row id).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from aiohttp import web

from csms import firmware
from csms.admin.deps import deps_of
from csms.admin.http import Page, json_response, listing, page_params
from csms.admin.routing import LIST_QUERY, Param, Route
from csms.errors import NotFound
from csms.store import Row
from csms.store import charge_points as charge_point_store
from csms.store import device_model as device_model_store
from csms.store import message_log as message_store

__all__ = ["ROUTES"]

Fetch = Callable[[asyncpg.Connection, str, Page], Awaitable[list[Row]]]


def _message_view(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "direction": row["direction"],
        "message_type": row["message_type"],
        "unique_id": row["unique_id"],
        "action": row["action"],
        "frame": row["frame"],
        "truncated": row["truncated"],
        "logged_at": row["logged_at"],
    }


def _status_view(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "evse_id": row["evse_id"],
        "connector_id": row["connector_id"],
        "status": row["status"],
        "raw_status": row["raw_status"],
        "error_code": row["error_code"],
        "info": row["info"],
        "vendor_id": row["vendor_id"],
        "vendor_error_code": row["vendor_error_code"],
        "status_at": row["status_at"],
        "received_at": row["received_at"],
    }


def _event_view(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "kind": row["kind"],
        "status": row["status"],
        "payload": row["payload"],
        "received_at": row["received_at"],
    }


def _firmware_view(row: Row) -> dict[str, Any]:
    payload = row["payload"] if isinstance(row["payload"], dict) else {}
    request_id = payload.get("request_id", payload.get("requestId"))
    return {
        "id": row["id"],
        "kind": row["kind"],
        "status": row["status"],
        "request_id": request_id,
        "received_at": row["received_at"],
    }


async def _list(
    request: web.Request, fetch: Fetch, view: Callable[[Row], dict[str, Any]]
) -> web.Response:
    charge_point_id = request.match_info["id"]
    page = page_params(request)
    page.int_cursor()  # validate before touching the database
    async with deps_of(request).pool.acquire() as conn:
        if not await charge_point_store.exists(conn, charge_point_id):
            raise NotFound(f"charge point {charge_point_id} not found")
        rows, next_cursor = page.split(
            await fetch(conn, charge_point_id, page), lambda row: row["id"]
        )
    return listing([view(row) for row in rows], next_cursor)


async def _messages(conn: asyncpg.Connection, charge_point_id: str, page: Page) -> list[Row]:
    return await message_store.page(
        conn, charge_point_id, before_id=page.int_cursor(), limit=page.fetch_limit
    )


async def _status_history(conn: asyncpg.Connection, charge_point_id: str, page: Page) -> list[Row]:
    return await charge_point_store.status_history_page(
        conn, charge_point_id, before_id=page.int_cursor(), limit=page.fetch_limit
    )


async def _events(conn: asyncpg.Connection, charge_point_id: str, page: Page) -> list[Row]:
    return await charge_point_store.events_page(
        conn, charge_point_id, before_id=page.int_cursor(), limit=page.fetch_limit
    )


async def _firmware_history(
    conn: asyncpg.Connection, charge_point_id: str, page: Page
) -> list[Row]:
    return await charge_point_store.events_of_kinds_page(
        conn,
        charge_point_id,
        firmware.KINDS,
        before_id=page.int_cursor(),
        limit=page.fetch_limit,
    )


async def list_messages(request: web.Request) -> web.Response:
    return await _list(request, _messages, _message_view)


async def list_status_history(request: web.Request) -> web.Response:
    return await _list(request, _status_history, _status_view)


async def list_events(request: web.Request) -> web.Response:
    return await _list(request, _events, _event_view)


async def list_firmware_history(request: web.Request) -> web.Response:
    return await _list(request, _firmware_history, _firmware_view)


async def get_device_model(request: web.Request) -> web.Response:
    charge_point_id = request.match_info["id"]
    async with deps_of(request).pool.acquire() as conn:
        if not await charge_point_store.exists(conn, charge_point_id):
            raise NotFound(f"charge point {charge_point_id} not found")
        rows = await device_model_store.for_charge_point(conn, charge_point_id)
    return json_response({"items": rows, "next": None})


_ID = (Param("id", "Charge point identity."),)

ROUTES = [
    Route(
        "GET",
        "/api/v1/charge-points/{id}/device-model",
        get_device_model,
        "The charge point's device model",
        "OCPP 2.0.1 variables as the charger last reported them (NotifyReport), one item per "
        "attribute; empty for 1.6 chargers.",
        path_params=_ID,
        tag="charge points",
    ),
    Route(
        "GET",
        "/api/v1/charge-points/{id}/messages",
        list_messages,
        "The charge point's message log",
        "OCPP frames in and out, newest first (frame as sent, possibly truncated).",
        query=LIST_QUERY,
        path_params=_ID,
        tag="charge points",
    ),
    Route(
        "GET",
        "/api/v1/charge-points/{id}/status-history",
        list_status_history,
        "The charge point's connector status history",
        "Connector status reports, newest status time first.",
        query=LIST_QUERY,
        path_params=_ID,
        tag="charge points",
    ),
    Route(
        "GET",
        "/api/v1/charge-points/{id}/events",
        list_events,
        "The charge point's status events",
        "Firmware, diagnostics, log and security events, newest first.",
        query=LIST_QUERY,
        path_params=_ID,
        tag="charge points",
    ),
    Route(
        "GET",
        "/api/v1/charge-points/{id}/firmware-history",
        list_firmware_history,
        "The charge point's firmware and diagnostics history",
        "FirmwareStatus, DiagnosticsStatus (1.6) and LogStatus (2.0.1) notifications, newest "
        "first, each with its status, the request id it names (2.0.1) and when it arrived.",
        query=LIST_QUERY,
        path_params=_ID,
        tag="charge points",
    ),
]
