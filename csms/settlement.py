"""Settlement: moving the money an invoice asks for through the payment provider.

Runs in the worker (``settle_payment`` and ``refund_payment`` jobs), never in an OCPP
handler, so a provider outage delays money but never blocks the server.

For an issued invoice whose payment is pending: place a hold for the amount due (the
invoice total less its credit notes) unless one is held already (plug-and-charge places
it at session start), then capture it. Ordinary RFID sessions have no hold, so both
happen here, one after the other (a PaymentIntent with manual capture, created at the end
of the session). For a void or zero invoice: cancel a hold if there is one.

Every call is written to ``payment_attempts`` before it is made and completed with its
outcome. Keys come from ``billing.payments`` (``pi:create:{session}`` ...):

- no answer (timeout, 5xx): the attempt is recorded and the job raises, so the worker
  retries with backoff. A hold is retried with the same key. Before a capture is retried
  the intent is read back: captured already means done; canceled (the hold expired) means
  a new intent; still capturable means capture again with a fresh retry key.
- a decline: the payment is ``failed`` and retried later (day 1, 3 and 7) with a new
  intent; after that it is left for collections. Nothing raises: the job is done.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import asyncpg

from billing.payments import (
    HoldRequest,
    IntentStatus,
    PaymentDeclined,
    PaymentError,
    PaymentMethod,
    PaymentProvider,
    PaymentRejected,
    PaymentUnavailable,
    cancel_key,
    capture_key,
    hold_key,
    refund_key,
)
from csms.clock import Clock
from csms.invoicing import REFUND_PAYMENT, SETTLE_PAYMENT, BillingPolicy, enqueue_settlement
from csms.logs import get_logger
from csms.payment_attempts import recorded_call
from csms.store import Row, accounts
from csms.store import invoices as invoice_store
from csms.store import payments as store
from csms.worker import JobHandler

__all__ = ["DUNNING_DAYS", "SettlementService"]

log = get_logger(__name__)

T = TypeVar("T")
# After a decline, try again this many days after the previous try (day 1, 3 and 7).
DUNNING_DAYS = (1, 2, 4)
_COLLECT = ("pending", "failed")


class _Retry(Exception):
    """Raised after the payment row was saved, so the worker retries the job."""


class SettlementService:
    def __init__(
        self, pool: asyncpg.Pool, clock: Clock, provider: PaymentProvider, policy: BillingPolicy
    ) -> None:
        self._pool = pool
        self._clock = clock
        self.provider = provider
        self._policy = policy

    def handlers(self) -> dict[str, JobHandler]:
        return {SETTLE_PAYMENT: self._settle_job, REFUND_PAYMENT: self._refund_job}

    async def _settle_job(self, payload: dict[str, Any]) -> None:
        await self.settle(int(payload["invoice_id"]))

    async def _refund_job(self, payload: dict[str, Any]) -> None:
        await self.refund(int(payload["credit_note_id"]))

    # --- attempts ---------------------------------------------------------------------

    async def _attempt(
        self,
        payment: Row,
        operation: str,
        call: Callable[[], Awaitable[T]],
        *,
        key: str | None,
        amount_minor: int | None = None,
    ) -> T:
        return await recorded_call(
            self._pool, self._clock, payment, operation, call, key=key, amount_minor=amount_minor
        )

    # --- settle -----------------------------------------------------------------------

    async def settle(self, invoice_id: int) -> None:
        """Bring the payment of an invoice to what the invoice says (capture or release)."""
        retry: Exception | None = None
        async with self._pool.acquire() as conn, conn.transaction():
            invoice = await invoice_store.get(conn, invoice_id, lock=True)
            if invoice is None:
                return
            payment = await store.of_session(conn, invoice["session_id"], lock=True)
            if payment is None:
                return
            due = invoice["total_minor"] + sum(
                n["total_minor"] for n in await invoice_store.credit_notes(conn, invoice_id)
            )
            try:
                if invoice["status"] == "issued" and invoice["payment_status"] in _COLLECT:
                    await self._collect(conn, invoice, payment, due)
                elif invoice["status"] != "held_for_review":
                    await self._release(conn, payment)
            except _Retry as exc:
                retry = exc
        if retry is not None:
            raise retry

    async def _collect(
        self, conn: asyncpg.Connection, invoice: Row, payment: Row, due: int
    ) -> None:
        if payment["status"] == "captured":
            await invoice_store.set_payment_status(conn, invoice["id"], "captured")
            return
        if due < max(1, self._policy.minimum_charge_minor):
            await self._release(conn, payment)
            status = "not_required" if due <= 0 else "waived"
            await invoice_store.set_payment_status(conn, invoice["id"], status)
            return
        if payment["status"] != "held":
            account = None
            if invoice["account_id"] is not None:
                account = await accounts.get(conn, invoice["account_id"])
            method = PaymentMethod(
                None if account is None else account.get("payment_customer_id"),
                None if account is None else account.get("payment_method_id"),
            )
            payment = await self._hold(conn, invoice, payment, due, method)
            if payment["status"] != "held":
                return
        await self._capture(conn, invoice, payment, min(due, payment["held_minor"]))

    async def _hold(
        self,
        conn: asyncpg.Connection,
        invoice: Row,
        payment: Row,
        amount: int,
        method: PaymentMethod,
    ) -> Row:
        session_id = invoice["session_id"]
        request = HoldRequest(
            amount_minor=amount,
            currency=invoice["currency"],
            method=method,
            idempotency_key=hold_key(session_id, payment["intent"]),
            description=f"Charging session {session_id} ({invoice['number']})",
            metadata={
                "session_id": str(session_id),
                "invoice": invoice["number"],
                "charge_point_id": invoice["charge_point_id"],
            },
        )
        try:
            state = await self._attempt(
                payment,
                "hold",
                lambda: self.provider.place_hold(request),
                key=request.idempotency_key,
                amount_minor=amount,
            )
        except (PaymentDeclined, PaymentRejected) as exc:
            return await self._declined(conn, invoice, payment, exc)
        except PaymentError as exc:
            await store.update(conn, payment["id"], {"last_error": exc.message})
            raise _Retry(f"hold not confirmed: {exc.message}") from exc
        return await store.update(
            conn,
            payment["id"],
            {
                "provider_ref": state.provider_ref,
                "status": "held",
                "held_minor": state.capturable_minor or amount,
                "last_error": None,
            },
        )

    async def _declined(
        self, conn: asyncpg.Connection, invoice: Row, payment: Row, exc: PaymentError
    ) -> Row:
        declines = payment["declines"] + 1
        row = await store.update(
            conn,
            payment["id"],
            {
                "status": "failed",
                "intent": payment["intent"] + 1,
                "declines": declines,
                "held_minor": 0,
                "provider_ref": exc.provider_ref or payment["provider_ref"],
                "last_error": f"{exc.code or 'declined'}: {exc.message}",
            },
        )
        await invoice_store.set_payment_status(conn, invoice["id"], "failed")
        if declines <= len(DUNNING_DAYS):
            await enqueue_settlement(
                conn,
                invoice["id"],
                at=self._clock() + timedelta(days=DUNNING_DAYS[declines - 1]),
                max_attempts=self._policy.payment_max_attempts,
                suffix=f":dunning:{declines}",
            )
        log.warning(
            "payment_declined",
            invoice=invoice["number"],
            code=exc.code,
            declines=declines,
            next_try_in_days=DUNNING_DAYS[declines - 1] if declines <= len(DUNNING_DAYS) else None,
        )
        return row

    async def _capture(
        self, conn: asyncpg.Connection, invoice: Row, payment: Row, amount: int
    ) -> None:
        session_id, intent = invoice["session_id"], payment["intent"]
        earlier = [
            a
            for a in await store.attempts(conn, payment["id"])
            if a["operation"] == "capture" and a["provider_ref"] == payment["provider_ref"]
        ]
        if earlier:
            state = await self._attempt(
                payment,
                "retrieve",
                lambda: self.provider.retrieve(payment["provider_ref"]),
                key=None,
            )
            if state.status is IntentStatus.SUCCEEDED:
                await self._captured(conn, invoice, payment, state.received_minor or amount)
                return
            if state.status is IntentStatus.CANCELED:
                # The authorisation expired: the next run places a new hold.
                await store.update(
                    conn,
                    payment["id"],
                    {"status": "canceled", "intent": intent + 1, "held_minor": 0},
                )
                raise _Retry("the hold was canceled before capture; placing a new one")
        key = capture_key(session_id, intent, len(earlier))
        try:
            state = await self._attempt(
                payment,
                "capture",
                lambda: self.provider.capture(payment["provider_ref"], amount, idempotency_key=key),
                key=key,
                amount_minor=amount,
            )
        except PaymentDeclined as exc:
            await self._declined(conn, invoice, payment, exc)
            return
        except PaymentError as exc:
            await store.update(conn, payment["id"], {"last_error": exc.message})
            raise _Retry(f"capture failed: {exc.message}") from exc
        await self._captured(conn, invoice, payment, state.received_minor or amount)

    async def _captured(
        self, conn: asyncpg.Connection, invoice: Row, payment: Row, amount: int
    ) -> None:
        await store.update(
            conn,
            payment["id"],
            {"status": "captured", "captured_minor": amount, "last_error": None},
        )
        await invoice_store.set_payment_status(conn, invoice["id"], "captured")
        log.info("payment_captured", invoice=invoice["number"], amount_minor=amount)

    async def _release(self, conn: asyncpg.Connection, payment: Row) -> None:
        if payment["status"] != "held":
            return
        key = cancel_key(payment["session_id"], payment["intent"])
        try:
            await self._attempt(
                payment,
                "cancel",
                lambda: self.provider.cancel(payment["provider_ref"], idempotency_key=key),
                key=key,
            )
        except PaymentUnavailable as exc:
            raise _Retry(f"cancel failed: {exc.message}") from exc
        except PaymentError as exc:
            # Already canceled or expired: nothing is held any more either way.
            log.warning("payment_cancel_refused", payment_id=payment["id"], error=exc.message)
        await store.update(
            conn,
            payment["id"],
            {"status": "canceled", "held_minor": 0, "intent": payment["intent"] + 1},
        )

    # --- refunds ----------------------------------------------------------------------

    async def refund(self, credit_note_id: int) -> None:
        """Return the money of a credit note against a captured payment."""
        retry: Exception | None = None
        async with self._pool.acquire() as conn, conn.transaction():
            refund = await store.refund_of(conn, credit_note_id, lock=True)
            note = await invoice_store.get(conn, credit_note_id)
            if refund is None or note is None or refund["status"] != "pending":
                return
            # Lock order everywhere: invoice, then payment (credit notes take them so too);
            # the other order deadlocks against a credit note issued meanwhile.
            await invoice_store.get(conn, note["credit_for"], lock=True)
            payment = await store.get(conn, refund["payment_id"], lock=True)
            assert payment is not None
            key = refund_key(payment["session_id"], note["credit_number"])
            amount = refund["amount_minor"]
            try:
                result = await self._attempt(
                    payment,
                    "refund",
                    lambda: self.provider.refund(
                        payment["provider_ref"],
                        amount,
                        idempotency_key=key,
                        metadata={"credit_note": note["number"]},
                    ),
                    key=key,
                    amount_minor=amount,
                )
            except PaymentUnavailable as exc:
                retry = exc
            except PaymentError as exc:
                await store.finish_refund(conn, refund["id"], status="failed", provider_ref=None)
                await invoice_store.set_payment_status(conn, credit_note_id, "failed")
                log.warning("refund_refused", credit_note=note["number"], error=exc.message)
            else:
                await store.finish_refund(
                    conn, refund["id"], status="succeeded", provider_ref=result.provider_ref
                )
                refunded = payment["refunded_minor"] + amount
                await store.update(conn, payment["id"], {"refunded_minor": refunded})
                await invoice_store.set_payment_status(conn, credit_note_id, "refunded")
                whole = refunded >= payment["captured_minor"]
                await invoice_store.set_payment_status(
                    conn, note["credit_for"], "refunded" if whole else "partially_refunded"
                )
                log.info("payment_refunded", credit_note=note["number"], amount_minor=amount)
        if retry is not None:
            raise retry
