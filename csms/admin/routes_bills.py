"""What a driver sees of the money: a session's bill, the live cost of a running session,
and an account's transaction history with running totals."""

from __future__ import annotations

from typing import Any

from aiohttp import web

import billing
from csms.admin.deps import deps_of
from csms.admin.http import json_response, listing, page_params, path_int
from csms.admin.routes_invoices import bill_of, invoicing_of
from csms.admin.routing import LIST_QUERY, Param, Route
from csms.errors import NotFound
from csms.store import Row
from csms.store import accounts as account_store
from csms.store import invoices as invoice_store
from csms.store import sessions as session_store

__all__ = ["ROUTES"]


def _money(minor: int | None, currency: str | None) -> str | None:
    if minor is None or currency is None:
        return None
    return format(billing.from_minor_units(minor, currency), "f")


def _history_view(row: Row) -> dict[str, Any]:
    currency = row["currency"]
    return {
        "session_id": row["session_id"],
        "charge_point_id": row["charge_point_id"],
        "evse_id": row["evse_id"],
        "connector_id": row["connector_id"],
        "session_status": row["session_status"],
        "started_at": row["started_at"],
        "ended_at": row["ended_at"],
        "energy_wh": row["energy_wh"],
        "invoice_id": row["invoice_id"],
        "invoice_number": row["invoice_number"],
        "invoice_status": row["invoice_status"],
        "payment_status": row["payment_status"],
        "verdict": row["verdict"],
        "currency": currency,
        "total_minor": row["total_minor"],
        "credited_minor": row["credited_minor"] if row["invoice_id"] else None,
        "charged_minor": row["charged_minor"] if row["invoice_id"] else None,
        "charged": _money(row["charged_minor"], currency) if row["invoice_id"] else None,
        "running_total_minor": row["running_total_minor"],
        "running_total": _money(row["running_total_minor"], currency),
    }


async def session_bill(request: web.Request) -> web.Response:
    session_id = path_int(request, "id", "session")
    deps = deps_of(request)
    async with deps.pool.acquire() as conn:
        session = await session_store.get(conn, session_id)
        if session is None:
            raise NotFound(f"session {session_id} not found")
        invoice = await invoice_store.of_session(conn, session_id)
    if invoice is None:
        raise NotFound(
            f"session {session_id} has no bill yet ({session['status']}); "
            "a running session has an estimate"
        )
    return json_response(await bill_of(deps, invoice))


async def bill_session(request: web.Request) -> web.Response:
    session_id = path_int(request, "id", "session")
    deps = deps_of(request)
    await invoicing_of(deps).rebill(session_id)
    async with deps.pool.acquire() as conn:
        invoice = await invoice_store.of_session(conn, session_id)
    assert invoice is not None
    return json_response(await bill_of(deps, invoice))


async def session_estimate(request: web.Request) -> web.Response:
    session_id = path_int(request, "id", "session")
    return json_response(await invoicing_of(deps_of(request)).estimate(session_id))


async def account_transactions(request: web.Request) -> web.Response:
    account_id = path_int(request, "id", "account")
    page = page_params(request)
    async with deps_of(request).pool.acquire() as conn:
        if not await account_store.exists(conn, account_id):
            raise NotFound(f"account {account_id} not found")
        rows, next_cursor = page.split(
            await invoice_store.account_history(
                conn, account_id, before_id=page.int_cursor(), limit=page.fetch_limit
            ),
            lambda row: row["session_id"],
        )
    return listing([_history_view(row) for row in rows], next_cursor)


_SESSION = (Param("id", "Session id.", {"type": "integer", "minimum": 1}),)

ROUTES = [
    Route(
        "GET",
        "/api/v1/sessions/{id}/bill",
        session_bill,
        "The bill of a session",
        "The session's invoice (lines, VAT, verdict, flags, tariff snapshot), its credit "
        "notes, the net amount and the payment with every attempt; 404 before it is billed.",
        path_params=_SESSION,
        tag="invoices",
    ),
    Route(
        "POST",
        "/api/v1/sessions/{id}/bill",
        bill_session,
        "Bill a session again",
        "The bill. Only a session without an invoice or with an unpriced one (no tariff "
        "applied) is priced again; 409 once it is issued.",
        path_params=_SESSION,
        tag="invoices",
    ),
    Route(
        "GET",
        "/api/v1/sessions/{id}/estimate",
        session_estimate,
        "Live cost of a running session",
        "The session priced up to now with the tariff valid at its start, as the bill "
        "will be (`final: false`); 409 once the session has ended.",
        path_params=_SESSION,
        tag="invoices",
    ),
    Route(
        "GET",
        "/api/v1/accounts/{id}/transactions",
        account_transactions,
        "Transaction history of an account",
        "The account's sessions, newest first, each with its bill, payment status, verdict, "
        "what it cost (`charged_minor`: issued invoice less credit notes) and the running "
        "total per currency up to and including it.",
        query=LIST_QUERY,
        path_params=(Param("id", "Account id.", {"type": "integer", "minimum": 1}),),
        tag="accounts",
    ),
]
