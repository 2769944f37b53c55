"""Sessions (OCPP transactions) and their meter samples; the operator's close of a
session whose stop never arrived."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from csms.admin.deps import deps_of
from csms.admin.http import (
    json_response,
    listing,
    page_params,
    parse_body,
    path_int,
    query_choice,
    query_datetime,
)
from csms.admin.routes_plug_attempts import session_plug_and_charge
from csms.admin.routing import LIST_QUERY, Param, Route
from csms.errors import NotFound
from csms.sessions import close_by_operator
from csms.store import Row
from csms.store import sessions as store
from csms.store import transaction_events as transaction_event_store

__all__ = ["ROUTES", "session_view"]

STATUSES = ("active", "completed", "orphaned")


def session_view(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "charge_point_id": row["charge_point_id"],
        "protocol": row["protocol"],
        "evse_id": row["evse_id"],
        "connector_id": row["connector_id"],
        "transaction_id": row["transaction_id"],
        "id_token": row["id_token"],
        "id_token_status": row["id_token_status"],
        "account_id": row["account_id"],
        "status": row["status"],
        "started_at": row["started_at"],
        "ended_at": row["ended_at"],
        "meter_start_wh": row["meter_start_wh"],
        "meter_stop_wh": row["meter_stop_wh"],
        "energy_wh": row["energy_wh"],
        "stop_reason": row["stop_reason"],
        "reservation_id": row["reservation_id"],
        "remote_start_id": row["remote_start_id"],
        "charging_state": row["charging_state"],
        "replayed_offline": row["offline_events"],
        "closed_by_operator_at": row["closed_by_operator_at"],
        "close_reason": row["close_reason"],
        "charger_stop": (
            None
            if row["charger_ended_at"] is None
            else {
                "ended_at": row["charger_ended_at"],
                "meter_stop_wh": row["charger_meter_stop_wh"],
                "stop_reason": row["charger_stop_reason"],
                "differs": row["charger_stop_differs"],
            }
        ),
    }


class SessionClose(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str | None = Field(default=None, max_length=500)


def _sample_view(row: Row) -> dict[str, Any]:
    return {
        "sampled_at": row["sampled_at"],
        "measurand": row["measurand"],
        "phase": row["phase"],
        "location": row["location"],
        "context": row["context"],
        "unit": row["unit"],
        "value": row["value"],
        "energy_wh": row["energy_wh"],
    }


async def list_sessions(request: web.Request) -> web.Response:
    page = page_params(request)
    before_id = page.int_cursor()
    charge_point_id = request.query.get("charge_point_id") or None
    status = query_choice(request, "status", STATUSES)
    started_from = query_datetime(request, "from")
    started_to = query_datetime(request, "to")
    async with deps_of(request).pool.acquire() as conn:
        rows, next_cursor = page.split(
            await store.page(
                conn,
                charge_point_id=charge_point_id,
                status=status,
                started_from=started_from,
                started_to=started_to,
                before_id=before_id,
                limit=page.fetch_limit,
            ),
            lambda row: row["id"],
        )
    return listing([session_view(row) for row in rows], next_cursor)


async def get_session(request: web.Request) -> web.Response:
    session_id = path_int(request, "id", "session")
    async with deps_of(request).pool.acquire() as conn:
        row = await store.get(conn, session_id)
        if row is None:
            raise NotFound(f"session {session_id} not found")
        samples = await store.samples(conn, session_id)
        events = await transaction_event_store.events(conn, session_id)
        plug_and_charge = await session_plug_and_charge(conn, session_id, samples)
    return json_response(
        session_view(row)
        | {
            "meter_samples": [_sample_view(s) for s in samples],
            "transaction_events": events,
            "plug_and_charge": plug_and_charge,
        }
    )


async def close_session(request: web.Request) -> web.Response:
    session_id = path_int(request, "id", "session")
    body = await parse_body(request, SessionClose)
    deps = deps_of(request)
    row = await close_by_operator(deps.pool, deps.clock, session_id, body.reason)
    return json_response(session_view(row))


_DATETIME = {"type": "string", "format": "date-time"}

ROUTES = [
    Route(
        "GET",
        "/api/v1/sessions",
        list_sessions,
        "List sessions",
        "A page of sessions, newest first.",
        query=(
            *LIST_QUERY,
            Param("charge_point_id", "Only this charge point's sessions."),
            Param(
                "status", "Only sessions in this state.", {"type": "string", "enum": list(STATUSES)}
            ),
            Param("from", "Started at or after (ISO 8601; no zone means UTC).", _DATETIME),
            Param("to", "Started before (ISO 8601; no zone means UTC).", _DATETIME),
        ),
        tag="sessions",
    ),
    Route(
        "GET",
        "/api/v1/sessions/{id}",
        get_session,
        "Show a session",
        "The session with its meter samples and, for OCPP 2.0.1, its TransactionEvents "
        "(seqNo, triggerReason, chargingState, offline). `plug_and_charge` is null unless a "
        "plug-and-charge attempt started the session; then it holds the match (VIN, "
        "method, evidence), the car's SoC series, the energy register series, the "
        "Smartcar calls spent, the guard and stop reason, and the verdict and invoice.",
        path_params=(Param("id", "Session id.", {"type": "integer", "minimum": 1}),),
        tag="sessions",
    ),
    Route(
        "POST",
        "/api/v1/sessions/{id}/close",
        close_session,
        "Close a session whose stop never arrived",
        "Only an active session (else 409): completed with stop reason ClosedByOperator, "
        "ended at its last energy register sample (or now) with that register as "
        "meter_stop_wh, and billed as a normal end. A stop the charger sends later is "
        "recorded as charger_stop (differs: its final register is not the one billed) and "
        "never billed again.",
        body=(SessionClose,),
        path_params=(Param("id", "Session id.", {"type": "integer", "minimum": 1}),),
        tag="sessions",
    ),
]
