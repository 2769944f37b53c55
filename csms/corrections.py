"""Corrections: credit notes against issued invoices (refunding captured money), the
review of invoices held for it (METER_HIGH), and asking for a payment to be retried.

An issued invoice never changes. A correction is a credit note that references it
(``credit_for``), numbered per invoice, with a negative total split over the invoice's VAT
rates. Credit notes of one invoice never add up to more than its total. When the money
was captured already, a refund job returns it (idempotency key ``refund:{session}:{n}``);
when it was not, the next capture takes the credited amount off.

Creating a credit note is idempotent under the caller's ``Idempotency-Key``: the same key
for the same invoice returns the credit note made the first time.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

import asyncpg

import billing
from billing.money import allocate_minor_units
from billing.payments import PaymentAction
from csms.clock import Clock
from csms.errors import Conflict, InvalidInput, NotFound
from csms.invoicing import REFUND_PAYMENT, BillingPolicy, enqueue_settlement
from csms.logs import get_logger
from csms.store import Row, jobs
from csms.store import invoices as invoice_store
from csms.store import payments as payment_store

__all__ = ["Corrections", "credit_detail"]

log = get_logger(__name__)


def _money(minor: int, currency: str) -> str:
    return format(billing.from_minor_units(minor, currency), "f")


def credit_detail(invoice: Row, amount_minor: int, reason: str) -> dict[str, Any]:
    """The body of a credit note of ``amount_minor`` against ``invoice`` (negative)."""
    currency = invoice["currency"]
    rates = (invoice["detail"] or {}).get("vat") or []
    vat = []
    if rates:
        gross = [Decimal(rate["gross"]) for rate in rates]
        for rate, part in zip(rates, allocate_minor_units(amount_minor, gross), strict=True):
            factor = 1 + Decimal(rate["rate"]) / 100
            net = int((Decimal(part) / factor).to_integral_value(ROUND_HALF_UP))
            vat.append(
                {
                    "rate": rate["rate"],
                    "net": _money(-net, currency),
                    "vat": _money(-(part - net), currency),
                    "gross": _money(-part, currency),
                }
            )
    return {
        "currency": currency,
        "credit_for": invoice["number"],
        "lines": [
            {"kind": "CREDIT", "description": reason, "incl_vat": _money(-amount_minor, currency)}
        ],
        "vat": vat,
        "total": _money(-amount_minor, currency),
        "total_minor_units": -amount_minor,
    }


class Corrections:
    def __init__(self, pool: asyncpg.Pool, clock: Clock, policy: BillingPolicy) -> None:
        self._pool = pool
        self._clock = clock
        self._policy = policy

    async def _invoice(self, conn: asyncpg.Connection, invoice_id: int) -> Row:
        invoice = await invoice_store.get(conn, invoice_id, lock=True)
        if invoice is None:
            raise NotFound(f"invoice {invoice_id} not found")
        if invoice["kind"] != "invoice":
            raise Conflict(f"{invoice['number']} is a credit note; correct its invoice instead")
        return invoice

    async def credit(
        self,
        invoice_id: int,
        *,
        amount_minor: int | None,
        reason: str,
        refund: bool = True,
        request_key: str | None = None,
        require_captured: bool = False,
    ) -> tuple[Row, bool]:
        """Issue a credit note; return it and whether it was made now (not replayed)."""
        async with self._pool.acquire() as conn, conn.transaction():
            invoice = await self._invoice(conn, invoice_id)
            if request_key is not None:
                earlier = await invoice_store.credit_by_request(conn, invoice_id, request_key)
                if earlier is not None:
                    return earlier, False
            payment = await payment_store.of_session(conn, invoice["session_id"], lock=True)
            captured = payment is not None and payment["status"] == "captured"
            if require_captured and not captured:
                raise Conflict(f"{invoice['number']} has no captured payment to refund")
            note = await self._credit(
                conn,
                invoice,
                amount_minor=amount_minor,
                reason=reason,
                request_key=request_key,
                refund=refund and captured,
            )
            if refund and captured:
                assert payment is not None
                await payment_store.insert_refund(
                    conn,
                    payment_id=payment["id"],
                    credit_note_id=note["id"],
                    amount_minor=-note["total_minor"],
                )
                await jobs.enqueue(
                    conn,
                    REFUND_PAYMENT,
                    {"credit_note_id": note["id"]},
                    dedupe_key=f"refund:{note['id']}",
                    run_at=self._clock(),
                    max_attempts=self._policy.payment_max_attempts,
                )
        log.info(
            "credit_note_issued",
            invoice=invoice["number"],
            credit_note=note["number"],
            amount_minor=-note["total_minor"],
            refund=refund and captured,
        )
        return note, True

    async def _credit(
        self,
        conn: asyncpg.Connection,
        invoice: Row,
        *,
        amount_minor: int | None,
        reason: str,
        request_key: str | None,
        refund: bool,
    ) -> Row:
        if invoice["status"] != "issued":
            raise Conflict(f"{invoice['number']} is {invoice['status']}, not issued")
        notes = await invoice_store.credit_notes(conn, invoice["id"])
        remaining = invoice["total_minor"] + sum(n["total_minor"] for n in notes)
        amount = remaining if amount_minor is None else amount_minor
        if remaining <= 0:
            raise Conflict(f"{invoice['number']} is credited in full already")
        if not 0 < amount <= remaining:
            raise InvalidInput(
                f"amount_minor must be between 1 and {remaining} (what is left to credit)",
                field="amount_minor",
            )
        note = await invoice_store.insert(
            conn,
            {
                "kind": "credit_note",
                "session_id": invoice["session_id"],
                "credit_for": invoice["id"],
                "credit_number": len(notes) + 1,
                "account_id": invoice["account_id"],
                "charge_point_id": invoice["charge_point_id"],
                "tariff_id": invoice["tariff_id"],
                "currency": invoice["currency"],
                "total_minor": -amount,
                "flags": [],
                "status": "issued",
                "payment_status": "pending" if refund else "not_required",
                "detail": credit_detail(invoice, amount, reason),
                "reason": reason,
                "request_key": request_key,
                "issued_at": self._clock(),
            },
        )
        if note is None:  # the same request key raced us; the unique index kept one
            raise Conflict("a credit note with this Idempotency-Key is being made")
        return note

    async def review(
        self,
        invoice_id: int,
        *,
        decision: Literal["approve", "void"],
        reason: str | None = None,
        credit_minor: int | None = None,
    ) -> Row:
        """Decide an invoice held for review: issue it (optionally with a goodwill credit
        note, taken off before the capture) or void it (the driver pays nothing)."""
        async with self._pool.acquire() as conn, conn.transaction():
            invoice = await self._invoice(conn, invoice_id)
            if invoice["status"] != "held_for_review":
                raise Conflict(f"{invoice['number']} is {invoice['status']}, not held for review")
            if decision == "void":
                row = await invoice_store.set_status(
                    conn, invoice_id, status="void", payment_status="canceled"
                )
            else:
                due = invoice["total_minor"] - (credit_minor or 0)
                outcome = self._policy.settlement(billing.Verdict.OK, due)
                status = outcome.payment_status
                if outcome.action is PaymentAction.CAPTURE and invoice["account_id"] is None:
                    status = "no_payment_account"
                row = await invoice_store.set_status(
                    conn, invoice_id, status="issued", payment_status=status
                )
                if credit_minor:
                    await self._credit(
                        conn,
                        row,
                        amount_minor=credit_minor,
                        reason=reason or "goodwill after review",
                        request_key=None,
                        refund=False,
                    )
            await payment_store.ensure(
                conn,
                session_id=row["session_id"],
                account_id=row["account_id"],
                provider=self._policy.provider,
                currency=row["currency"],
            )
            await enqueue_settlement(
                conn,
                invoice_id,
                at=self._clock(),
                max_attempts=self._policy.payment_max_attempts,
                suffix=":review",
            )
        log.info("invoice_reviewed", invoice=row["number"], decision=decision)
        return row

    async def retry_payment(self, invoice_id: int) -> Row:
        """Try to collect a failed (or stuck) payment again now."""
        async with self._pool.acquire() as conn, conn.transaction():
            invoice = await self._invoice(conn, invoice_id)
            if invoice["status"] != "issued" or invoice["payment_status"] not in (
                "pending",
                "failed",
            ):
                raise Conflict(
                    f"{invoice['number']} has nothing to collect "
                    f"(payment {invoice['payment_status']})"
                )
            await payment_store.ensure(
                conn,
                session_id=invoice["session_id"],
                account_id=invoice["account_id"],
                provider=self._policy.provider,
                currency=invoice["currency"],
            )
            now = self._clock()
            await enqueue_settlement(
                conn,
                invoice_id,
                at=now,
                max_attempts=self._policy.payment_max_attempts,
                suffix=f":retry:{now.isoformat()}",
            )
        return invoice
