"""Invoicing: the bill of every session that ends, and the live estimate of running ones.

A session that completes enqueues a ``bill_session`` job in the same transaction (see
:func:`enqueue_billing`). The job prices the session with the tariff valid at its start
(assigned to the charger, else the default) through ``billing.price_session``, the same
function the preview and ``csms price`` run, and stores the invoice in one transaction
with the follow-up payment job:

- the verdict decides the invoice status and the payment step
  (``billing.payments.settlement_for``): issued and captured, held for review, or void;
- a session no tariff applies to gets an ``unpriced`` invoice: zero total, no lines, flag
  ``no_tariff``, its metered energy, nothing charged. Billing it again (after a tariff
  was assigned) prices it; issued invoices never change.

Re-running the job, a replayed stop, or two workers at once give one invoice: the session
row is locked and the invoice is unique per session.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP
from typing import Any

import asyncpg

import billing
from billing.payments import PaymentAction, Settlement, settlement_for
from csms.billing_inputs import EvidenceSource, no_evidence, session_input
from csms.clock import Clock
from csms.errors import Conflict, NotFound
from csms.logs import get_logger
from csms.plugcharge import hooks as plug_hooks
from csms.store import Row, jobs, session_inputs, tariffs
from csms.store import invoices as invoice_store
from csms.store import payments as payment_store
from csms.store import sessions as session_store
from csms.worker import JobHandler

__all__ = [
    "BILL_SESSION",
    "REFUND_PAYMENT",
    "SETTLE_PAYMENT",
    "BillingPolicy",
    "Invoicing",
    "enqueue_billing",
    "enqueue_settlement",
]

log = get_logger(__name__)

BILL_SESSION = "bill_session"
SETTLE_PAYMENT = "settle_payment"
REFUND_PAYMENT = "refund_payment"
NO_TARIFF = "no_tariff"
PRICING_FAILED = "pricing_failed"


async def enqueue_billing(
    conn: asyncpg.Connection, session_id: int, *, at: datetime, after_pnc: bool = False
) -> bool:
    """Bill a session that just completed; call inside the transaction that completed it.
    The dedupe key makes a second call (a replayed stop) a no-op. A session plug-and-charge
    started reads the car's final SoC first; its end job calls this with ``after_pnc``."""
    if not after_pnc and await plug_hooks.session_ended(conn, session_id, at):
        return True
    return await jobs.enqueue(
        conn, BILL_SESSION, {"session_id": session_id}, dedupe_key=f"bill:{session_id}", run_at=at
    )


async def enqueue_settlement(
    conn: asyncpg.Connection,
    invoice_id: int,
    *,
    at: datetime,
    max_attempts: int,
    suffix: str = "",
) -> bool:
    """Collect (or release) an invoice's payment in the worker."""
    return await jobs.enqueue(
        conn,
        SETTLE_PAYMENT,
        {"invoice_id": invoice_id},
        dedupe_key=f"pay:{invoice_id}{suffix}",
        run_at=at,
        max_attempts=max_attempts,
    )


class BillingPolicy:
    """The knobs of billing that come from settings."""

    def __init__(
        self,
        *,
        provider: str = "simulated",
        currency: str = "EUR",
        minimum_charge_minor: int = 50,
        payment_max_attempts: int = 40,
        crosscheck: billing.CrosscheckConfig | None = None,
    ) -> None:
        self.provider = provider
        self.currency = currency
        self.minimum_charge_minor = minimum_charge_minor
        self.payment_max_attempts = payment_max_attempts
        self.crosscheck = crosscheck or billing.CrosscheckConfig()

    def settlement(self, verdict: billing.Verdict, due_minor: int) -> Settlement:
        return settlement_for(verdict, due_minor, minimum_charge_minor=self.minimum_charge_minor)


class Invoicing:
    """Bills sessions (the ``bill_session`` job) and estimates running ones."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        clock: Clock,
        policy: BillingPolicy,
        *,
        evidence: EvidenceSource = no_evidence,
    ) -> None:
        self._pool = pool
        self._clock = clock
        self.policy = policy
        self._evidence = evidence

    def handlers(self) -> dict[str, JobHandler]:
        return {BILL_SESSION: self._bill_job}

    async def _bill_job(self, payload: dict[str, Any]) -> None:
        await self.bill(int(payload["session_id"]))

    async def bill(self, session_id: int) -> Row | None:
        """Price a completed session and store its invoice (once); return the invoice."""
        async with self._pool.acquire() as conn, conn.transaction():
            session = await session_inputs.lock_session(conn, session_id)
            if session is None or session["status"] != "completed":
                log.info("billing_skipped", session_id=session_id, reason="not a completed session")
                return None
            existing = await invoice_store.of_session(conn, session_id, lock=True)
            if existing is not None and existing["status"] != "unpriced":
                return existing
            fields = await self._fields(conn, session)
            if existing is None:
                row = await invoice_store.insert(conn, fields)
                assert row is not None  # the session row lock keeps a second one out
            else:
                row = await invoice_store.replace_unpriced(conn, existing["id"], fields)
            await self._follow_up(conn, row)
        log.info(
            "session_billed",
            session_id=session_id,
            invoice=row["number"],
            status=row["status"],
            verdict=row["verdict"],
            total_minor=row["total_minor"],
            payment_status=row["payment_status"],
        )
        return row

    async def _fields(self, conn: asyncpg.Connection, session: Row) -> dict[str, Any]:
        inputs = await session_input(
            conn, session, end=session["ended_at"] or self._clock(), evidence=self._evidence
        )
        base: dict[str, Any] = {
            "kind": "invoice",
            "session_id": session["id"],
            "account_id": session["account_id"],
            "charge_point_id": session["charge_point_id"],
            "issued_at": self._clock(),
        }
        tariff = await tariffs.applicable(conn, session["charge_point_id"], inputs.start)
        if tariff is None:
            return base | _unpriced(inputs, self.policy.currency, NO_TARIFF, "no tariff applies")
        try:
            priced = billing.price_session(
                billing.parse_tariff(tariff["document"]),
                inputs,
                crosscheck_config=self.policy.crosscheck,
            )
        except billing.BillingError as exc:
            log.warning("pricing_failed", session_id=session["id"], error=str(exc))
            return base | _unpriced(inputs, tariff["currency"], PRICING_FAILED, str(exc))
        settlement = self.policy.settlement(priced.crosscheck.verdict, priced.total_minor)
        payment_status = settlement.payment_status
        if settlement.action is PaymentAction.CAPTURE and session["account_id"] is None:
            payment_status = "no_payment_account"
        if settlement.charger_ticket:
            log.warning(
                "charger_health_ticket",
                session_id=session["id"],
                charge_point_id=session["charge_point_id"],
                verdict=priced.crosscheck.verdict.value,
            )
        return base | {
            "tariff_id": tariff["id"],
            "tariff": tariff["document"],
            "currency": priced.currency,
            "total_minor": priced.total_minor,
            "energy_wh": priced.energy_wh,
            "billed_energy_wh": priced.billed_energy_wh,
            "verdict": priced.crosscheck.verdict.value,
            "flags": [flag.value for flag in priced.flags],
            "status": settlement.invoice_status,
            "payment_status": payment_status,
            "charger_ticket": settlement.charger_ticket,
            "detail": priced.to_json(),
            "reason": None,
        }

    async def _follow_up(self, conn: asyncpg.Connection, invoice: Row) -> None:
        """Enqueue the payment step: collect the amount, or release a hold."""
        held = await payment_store.of_session(conn, invoice["session_id"])
        collect = invoice["payment_status"] == "pending"
        release = held is not None and held["status"] == "held" and not collect
        if invoice["status"] == "held_for_review" or not (collect or release):
            return
        await payment_store.ensure(
            conn,
            session_id=invoice["session_id"],
            account_id=invoice["account_id"],
            provider=self.policy.provider,
            currency=invoice["currency"],
        )
        await enqueue_settlement(
            conn, invoice["id"], at=self._clock(), max_attempts=self.policy.payment_max_attempts
        )

    async def rebill(self, session_id: int) -> None:
        """Bill a session again: only an unpriced invoice changes (issued ones never do)."""
        async with self._pool.acquire() as conn:
            session = await session_store.get(conn, session_id)
            if session is None:
                raise NotFound(f"session {session_id} not found")
            invoice = await invoice_store.of_session(conn, session_id)
        if invoice is not None and invoice["status"] != "unpriced":
            raise Conflict(f"session {session_id} is billed already ({invoice['number']})")
        if session["status"] != "completed":
            raise Conflict(f"session {session_id} is {session['status']}, not completed")
        await self.bill(session_id)

    async def estimate(self, session_id: int) -> dict[str, Any]:
        """The cost so far of a running session, priced as the final bill will be."""
        now = self._clock()
        async with self._pool.acquire() as conn:
            session = await session_store.get(conn, session_id)
            if session is None:
                raise NotFound(f"session {session_id} not found")
            if session["status"] != "active":
                raise Conflict(f"session {session_id} is {session['status']}: see its bill instead")
            inputs = await session_input(conn, session, end=now, evidence=self._evidence)
            tariff = await tariffs.applicable(conn, session["charge_point_id"], inputs.start)
        answer: dict[str, Any] = {"session_id": session_id, "as_of": now, "final": False}
        if tariff is None:
            return answer | {
                "tariff_id": None,
                "priced": False,
                "energy_wh": _whole_wh(billing.session_energy(inputs)),
                "flags": [NO_TARIFF],
            }
        try:
            priced = billing.price_session(
                billing.parse_tariff(tariff["document"]),
                inputs,
                crosscheck_config=self.policy.crosscheck,
            )
        except billing.BillingError as exc:
            raise Conflict(f"the session cannot be priced: {exc}") from None
        return answer | {"tariff_id": tariff["id"], "priced": True} | priced.to_json()


def _whole_wh(energy: billing.SessionEnergy) -> int:
    return int(energy.energy_wh.to_integral_value(ROUND_HALF_UP))


def _unpriced(
    inputs: billing.SessionInput, currency: str, flag: str, reason: str
) -> dict[str, Any]:
    energy = billing.session_energy(inputs)
    energy_wh = _whole_wh(energy)
    flags = [f.value for f in energy.flags] + [flag]
    return {
        "tariff_id": None,
        "tariff": None,
        "charger_ticket": False,
        "currency": currency,
        "total_minor": 0,
        "energy_wh": energy_wh,
        "billed_energy_wh": None,
        "verdict": None,
        "flags": flags,
        "status": "unpriced",
        "payment_status": "not_required",
        "detail": {
            "currency": currency,
            "energy_wh": energy_wh,
            "flags": flags,
            "lines": [],
            "total": "0",
            "total_minor_units": 0,
            "reason": reason,
        },
        "reason": reason,
    }
