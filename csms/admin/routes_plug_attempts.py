"""Plug-and-charge attempts: one per plug event, with what the matcher saw (evidence and
Smartcar readings), the Smartcar calls it spent and the card hold placed for it; and the
plug-and-charge part of a session's detail view.

Smartcar calls come from the bridge's ledger (``smartcar_call_counts``), counted under the
attempt's references: ``pnc:{id}:match`` while matching and ``pnc:{id}`` for the session.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
from aiohttp import web

from csms.admin.deps import deps_of
from csms.admin.http import json_response, listing, page_params, path_int, query_choice
from csms.admin.routing import LIST_QUERY, Param, Route
from csms.errors import NotFound
from csms.plugcharge.reads import match_ref, session_ref
from csms.store import Row
from csms.store import invoices as invoice_store
from csms.store import payments as payment_store
from csms.store import plug_attempts as store
from smartcar_bridge.store import call_counts

__all__ = ["ROUTES", "STATUSES", "attempt_view", "session_plug_and_charge"]

STATUSES = (
    "matching",
    "starting",
    "charging",
    "ended",
    "no_match",
    "declined",
    "superseded",
    "abandoned",
    "failed",
    "done",
)
REGISTER = "Energy.Active.Import.Register"
# Readings of the session's SoC series (matching polls and webhooks are not part of it).
SOC_PURPOSES = frozenset({"start", "guard", "target", "end"})


def _number(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


def attempt_view(row: Row) -> dict[str, Any]:
    """An attempt as the list shows it (no further queries); money in minor units of
    ``currency``."""
    return {
        "id": row["id"],
        "charge_point_id": row["charge_point_id"],
        "evse_id": row["evse_id"],
        "connector_id": row["connector_id"],
        "plugged_at": row["plugged_at"],
        "trigger": row["trigger"],
        "status": row["status"],
        "outcome": row["outcome"],
        "method": row["method"],
        "reason": row["reason"],
        "id_token": row["id_token"],
        "id_token_type": row["id_token_type"],
        "rounds": row["rounds"],
        "evidence": row["evidence"],
        "vehicle_id": row["vehicle_id"],
        "vin": row["vin"],
        "account_id": row["account_id"],
        "start_id_token": row["start_id_token"],
        "session_id": row["session_id"],
        "target_soc_percent": row["target_soc_percent"],
        "spending_cap_minor": row["spending_cap_minor"],
        "hold_minor": row["hold_minor"],
        "currency": row["currency"],
        "guard": row["guard"],
        "car_started": row["car_started"],
        "stop_reason": row["stop_reason"],
        "stop_requested_at": row["stop_requested_at"],
        "mismatch_reason": row["mismatch_reason"],
        "history": row["history"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def reading_view(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "vehicle_id": row["vehicle_id"],
        "purpose": row["purpose"],
        "fetched_at": row["fetched_at"],
        "data_age": row["data_age"],
        "soc_percent": _number(row["soc_percent"]),
        "plugged_in": row["is_plugged_in"],
        "charge_state": row["charge_state"],
        "latitude": row["latitude"],
        "longitude": row["longitude"],
        "location_age": row["location_age"],
        "distance_m": _number(row["distance_m"]),
        "calls": row["calls"],
        "error": row["error"],
    }


def payment_view(row: Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "id": row["id"],
        "session_id": row["session_id"],
        "provider": row["provider"],
        "provider_ref": row["provider_ref"],
        "status": row["status"],
        "currency": row["currency"],
        "held_minor": row["held_minor"],
        "captured_minor": row["captured_minor"],
        "refunded_minor": row["refunded_minor"],
    }


def invoice_summary(row: Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "id": row["id"],
        "number": row["number"],
        "status": row["status"],
        "verdict": row["verdict"],
        "total_minor": row["total_minor"],
        "currency": row["currency"],
        "payment_status": row["payment_status"],
    }


def soc_series(readings: Iterable[Row]) -> list[dict[str, Any]]:
    """The session's SoC readings that have a value, oldest first; ``at`` is when the car
    measured it (Smartcar's data age) or else when it was fetched."""
    points = [
        {
            "at": r["data_age"] or r["fetched_at"],
            "soc_percent": _number(r["soc_percent"]),
            "plugged_in": r["is_plugged_in"],
            "charge_state": r["charge_state"],
            "purpose": r["purpose"],
        }
        for r in readings
        if r["purpose"] in SOC_PURPOSES and r["soc_percent"] is not None
    ]
    return sorted(points, key=_at)


def _at(point: dict[str, Any]) -> datetime:
    at: datetime = point["at"]
    return at


def meter_series(samples: Iterable[Row]) -> list[dict[str, Any]]:
    """The total energy import register (all phases) over the session, in time order."""
    points = [
        {"at": s["sampled_at"], "energy_wh": s["energy_wh"]}
        for s in samples
        if s["measurand"] == REGISTER and s["phase"] == "" and s["energy_wh"] is not None
    ]
    return sorted(points, key=_at)


async def smartcar_calls(conn: asyncpg.Connection, attempt_id: int) -> dict[str, int]:
    """Smartcar requests the attempt spent, from the ledger (bridge retries included)."""
    return {
        "matching": await call_counts(conn, session_ref=match_ref(attempt_id)),
        "session": await call_counts(conn, session_ref=session_ref(attempt_id)),
    }


async def session_plug_and_charge(
    conn: asyncpg.Connection, session_id: int, samples: Iterable[Row]
) -> dict[str, Any] | None:
    """The plug-and-charge part of a session's view: None when no attempt is bound to it.
    ``samples`` are the session's meter samples (already loaded by the caller)."""
    attempt = await store.of_session(conn, session_id)
    if attempt is None:
        return None
    readings = await store.readings(conn, attempt["id"])
    invoice = invoice_summary(await invoice_store.of_session(conn, session_id))
    return {
        "attempt_id": attempt["id"],
        "vin": attempt["vin"],
        "vehicle_id": attempt["vehicle_id"],
        "account_id": attempt["account_id"],
        "method": attempt["method"],
        "outcome": attempt["outcome"],
        "evidence": attempt["evidence"],
        "stop_reason": attempt["stop_reason"],
        "guard": attempt["guard"],
        "mismatch_reason": attempt["mismatch_reason"],
        "soc_series": soc_series(readings),
        "meter_series": meter_series(samples),
        "smartcar_calls": await smartcar_calls(conn, attempt["id"]),
        "verdict": None if invoice is None else invoice["verdict"],
        "invoice": invoice,
    }


async def list_attempts(request: web.Request) -> web.Response:
    page = page_params(request)
    before_id = page.int_cursor()
    charge_point_id = request.query.get("charge_point_id") or None
    status = query_choice(request, "status", STATUSES)
    async with deps_of(request).pool.acquire() as conn:
        rows, next_cursor = page.split(
            await store.page(
                conn,
                charge_point_id=charge_point_id,
                status=status,
                after=before_id,
                limit=page.fetch_limit,
            ),
            lambda row: row["id"],
        )
    return listing([attempt_view(row) for row in rows], next_cursor)


async def get_attempt(request: web.Request) -> web.Response:
    attempt_id = path_int(request, "id", "plug attempt")
    async with deps_of(request).pool.acquire() as conn:
        row = await store.get(conn, attempt_id)
        if row is None:
            raise NotFound(f"plug attempt {attempt_id} not found")
        readings = await store.readings(conn, attempt_id)
        calls = await smartcar_calls(conn, attempt_id)
        payment = await payment_store.of_attempt(conn, attempt_id)
    return json_response(
        attempt_view(row)
        | {
            "readings": [reading_view(r) for r in readings],
            "smartcar_calls": calls,
            "payment": payment_view(payment),
        }
    )


ROUTES = [
    Route(
        "GET",
        "/api/v1/plug-attempts",
        list_attempts,
        "List plug-and-charge attempts",
        "A page of plug attempts (one per plug event), newest first.",
        query=(
            *LIST_QUERY,
            Param("charge_point_id", "Only this charge point's attempts."),
            Param(
                "status",
                "Only attempts in this state.",
                {"type": "string", "enum": list(STATUSES)},
            ),
        ),
        tag="plug-and-charge",
    ),
    Route(
        "GET",
        "/api/v1/plug-attempts/{id}",
        get_attempt,
        "Show a plug-and-charge attempt",
        "The attempt (status, outcome, method, evidence, history, hold in minor units of "
        "its currency) with its Smartcar readings, the Smartcar calls it spent "
        "(`smartcar_calls`: matching and session, from the call ledger) and the card "
        "payment placed for it (`payment`, or null).",
        path_params=(Param("id", "Plug attempt id.", {"type": "integer", "minimum": 1}),),
        tag="plug-and-charge",
    ),
]
