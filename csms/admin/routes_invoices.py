"""Invoices and credit notes: list, show, correct (credit note, refund), review a held
invoice, retry a payment. Money is integer minor units plus the currency, and the same
amount as a decimal string (``total``)."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

import billing
from csms.admin.deps import AdminDeps, deps_of
from csms.admin.http import (
    json_response,
    listing,
    page_params,
    parse_body,
    path_int,
    query_choice,
    query_int,
)
from csms.admin.routing import LIST_QUERY, Param, Route
from csms.corrections import Corrections
from csms.errors import InvalidInput, NotFound
from csms.invoicing import BillingPolicy, Invoicing
from csms.store import Row
from csms.store import invoices as store
from csms.store import payments as payment_store

__all__ = [
    "ROUTES",
    "CreditNoteCreate",
    "RefundCreate",
    "ReviewDecision",
    "bill_of",
    "corrections_of",
    "invoice_view",
    "invoicing_of",
]

KINDS = ("invoice", "credit_note")
STATUSES = ("issued", "held_for_review", "void", "unpriced")
_AMOUNT = Field(default=None, ge=1, le=2**62, description="Minor units; default: all that is left.")
_REASON = Field(min_length=1, max_length=500)


class CreditNoteCreate(BaseModel):
    """A correction of an issued invoice. Send an ``Idempotency-Key`` header to make a
    retried request return the credit note made the first time."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    amount_minor: int | None = _AMOUNT
    reason: str = _REASON
    refund: bool = Field(default=True, description="Return the money when it was captured already.")


class RefundCreate(BaseModel):
    """A refund of captured money: a credit note whose amount goes back to the card."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    amount_minor: int | None = _AMOUNT
    reason: str = _REASON


class ReviewDecision(BaseModel):
    """``approve``: issue the invoice and capture (less ``credit_minor``, a goodwill credit
    note); ``void``: the driver pays nothing."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    decision: Literal["approve", "void"]
    reason: str | None = Field(default=None, min_length=1, max_length=500)
    credit_minor: int | None = Field(default=None, ge=1, le=2**62)


def invoicing_of(deps: AdminDeps) -> Invoicing:
    return deps.invoicing or Invoicing(deps.pool, deps.clock, BillingPolicy())


def corrections_of(deps: AdminDeps) -> Corrections:
    return deps.corrections or Corrections(deps.pool, deps.clock, BillingPolicy())


def _money(minor: int, currency: str) -> str:
    return format(billing.from_minor_units(minor, currency), "f")


def invoice_view(row: Row, *, full: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": row["id"],
        "number": row["number"],
        "kind": row["kind"],
        "session_id": row["session_id"],
        "credit_for": row["credit_for"],
        "account_id": row["account_id"],
        "charge_point_id": row["charge_point_id"],
        "status": row["status"],
        "payment_status": row["payment_status"],
        "currency": row["currency"],
        "total_minor": row["total_minor"],
        "total": _money(row["total_minor"], row["currency"]),
        "energy_wh": row["energy_wh"],
        "billed_energy_wh": row["billed_energy_wh"],
        "verdict": row["verdict"],
        "flags": list(row["flags"]),
        "charger_ticket": row["charger_ticket"],
        "tariff_id": row["tariff_id"],
        "reason": row["reason"],
        "issued_at": row["issued_at"],
    }
    if full:
        view["detail"] = row["detail"]
        view["tariff"] = row["tariff"]
    return view


def _payment_view(payment: Row, attempts: list[Row], refunds: list[Row]) -> dict[str, Any]:
    return {
        "provider": payment["provider"],
        "provider_ref": payment["provider_ref"],
        "status": payment["status"],
        "currency": payment["currency"],
        "held_minor": payment["held_minor"],
        "captured_minor": payment["captured_minor"],
        "refunded_minor": payment["refunded_minor"],
        "declines": payment["declines"],
        "last_error": payment["last_error"],
        "attempts": [
            {
                "operation": a["operation"],
                "idempotency_key": a["idempotency_key"],
                "amount_minor": a["amount_minor"],
                "outcome": a["outcome"],
                "provider_ref": a["provider_ref"],
                "error_code": a["error_code"],
                "error_message": a["error_message"],
                "started_at": a["started_at"],
                "finished_at": a["finished_at"],
            }
            for a in attempts
        ],
        "refunds": [
            {
                "credit_note_id": r["credit_note_id"],
                "amount_minor": r["amount_minor"],
                "status": r["status"],
                "provider_ref": r["provider_ref"],
            }
            for r in refunds
        ],
    }


async def bill_of(deps: AdminDeps, invoice: Row) -> dict[str, Any]:
    """An invoice with its credit notes, what is still owed, and its payment."""
    async with deps.pool.acquire() as conn:
        notes = await store.credit_notes(conn, invoice["id"])
        payment = await payment_store.of_session(conn, invoice["session_id"])
        attempts = [] if payment is None else await payment_store.attempts(conn, payment["id"])
        refunds = [] if payment is None else await payment_store.refunds(conn, payment["id"])
    net = invoice["total_minor"] + sum(n["total_minor"] for n in notes)
    return invoice_view(invoice, full=True) | {
        "credit_notes": [invoice_view(n, full=True) for n in notes],
        "net_minor": net,
        "net": _money(net, invoice["currency"]),
        "payment": None if payment is None else _payment_view(payment, attempts, refunds),
    }


async def list_invoices(request: web.Request) -> web.Response:
    page = page_params(request)
    deps = deps_of(request)
    async with deps.pool.acquire() as conn:
        rows, next_cursor = page.split(
            await store.page(
                conn,
                account_id=query_int(request, "account_id"),
                session_id=query_int(request, "session_id"),
                kind=query_choice(request, "kind", KINDS),
                status=query_choice(request, "status", STATUSES),
                before_id=page.int_cursor(),
                limit=page.fetch_limit,
            ),
            lambda row: row["id"],
        )
    return listing([invoice_view(row) for row in rows], next_cursor)


async def _load(deps: AdminDeps, invoice_id: int) -> Row:
    async with deps.pool.acquire() as conn:
        row = await store.get(conn, invoice_id)
    if row is None:
        raise NotFound(f"invoice {invoice_id} not found")
    return row


async def get_invoice(request: web.Request) -> web.Response:
    deps = deps_of(request)
    row = await _load(deps, path_int(request, "id", "invoice"))
    if row["kind"] == "invoice":
        return json_response(await bill_of(deps, row))
    return json_response(invoice_view(row, full=True))


def _request_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= 255:
        raise InvalidInput("Idempotency-Key must be 1 to 255 characters", field="Idempotency-Key")
    return key


async def create_credit_note(request: web.Request) -> web.Response:
    invoice_id = path_int(request, "id", "invoice")
    body = await parse_body(request, CreditNoteCreate)
    note, created = await corrections_of(deps_of(request)).credit(
        invoice_id,
        amount_minor=body.amount_minor,
        reason=body.reason,
        refund=body.refund,
        request_key=_request_key(request),
    )
    return json_response(invoice_view(note, full=True), status=201 if created else 200)


async def refund_invoice(request: web.Request) -> web.Response:
    invoice_id = path_int(request, "id", "invoice")
    body = await parse_body(request, RefundCreate)
    note, created = await corrections_of(deps_of(request)).credit(
        invoice_id,
        amount_minor=body.amount_minor,
        reason=body.reason,
        refund=True,
        request_key=_request_key(request),
        require_captured=True,
    )
    return json_response(invoice_view(note, full=True), status=201 if created else 200)


async def review_invoice(request: web.Request) -> web.Response:
    invoice_id = path_int(request, "id", "invoice")
    body = await parse_body(request, ReviewDecision)
    deps = deps_of(request)
    row = await corrections_of(deps).review(
        invoice_id, decision=body.decision, reason=body.reason, credit_minor=body.credit_minor
    )
    return json_response(await bill_of(deps, row))


async def retry_payment(request: web.Request) -> web.Response:
    invoice_id = path_int(request, "id", "invoice")
    deps = deps_of(request)
    row = await corrections_of(deps).retry_payment(invoice_id)
    return json_response(await bill_of(deps, row), status=202)


_ID = (Param("id", "Invoice id.", {"type": "integer", "minimum": 1}),)
_IDEMPOTENT = " Idempotent under the `Idempotency-Key` header (a replay answers 200)."
PATH = "/api/v1/invoices/{id}"

ROUTES = [
    Route(
        "GET",
        "/api/v1/invoices",
        list_invoices,
        "List invoices and credit notes",
        "A page of invoices and credit notes, newest first.",
        query=(
            *LIST_QUERY,
            Param("account_id", "Only this account's.", {"type": "integer", "minimum": 1}),
            Param("session_id", "Only this session's.", {"type": "integer", "minimum": 1}),
            Param("kind", "invoice or credit_note.", {"type": "string", "enum": list(KINDS)}),
            Param("status", "Only in this state.", {"type": "string", "enum": list(STATUSES)}),
        ),
        tag="invoices",
    ),
    Route(
        "GET",
        PATH,
        get_invoice,
        "Show an invoice",
        "The invoice with its lines, VAT, verdict, flags and tariff snapshot; for an "
        "invoice also its credit notes, the net amount and the payment with every attempt.",
        path_params=_ID,
        tag="invoices",
    ),
    Route(
        "POST",
        f"{PATH}/credit-notes",
        create_credit_note,
        "Issue a credit note",
        "The credit note (201). Captured money is refunded by the worker." + _IDEMPOTENT,
        status=201,
        body=(CreditNoteCreate,),
        path_params=_ID,
        tag="invoices",
    ),
    Route(
        "POST",
        f"{PATH}/refund",
        refund_invoice,
        "Refund an invoice",
        "The credit note whose amount is refunded (201); 409 when nothing was captured."
        + _IDEMPOTENT,
        status=201,
        body=(RefundCreate,),
        path_params=_ID,
        tag="invoices",
    ),
    Route(
        "POST",
        f"{PATH}/review",
        review_invoice,
        "Decide an invoice held for review",
        "The invoice, now issued (its payment is collected) or void.",
        body=(ReviewDecision,),
        path_params=_ID,
        tag="invoices",
    ),
    Route(
        "POST",
        f"{PATH}/retry-payment",
        retry_payment,
        "Collect a failed payment again",
        "The invoice (202); the worker tries again now.",
        status=202,
        path_params=_ID,
        tag="invoices",
    ),
]
