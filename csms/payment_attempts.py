"""One call to the payment provider, recorded in ``payment_attempts`` before it is made and
completed with its outcome after (each in its own transaction, so the record survives
whatever happens to the job that made the call)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from billing.payments import PaymentDeclined, PaymentError, PaymentRejected
from csms.clock import Clock
from csms.store import payments as store

__all__ = ["recorded_call"]

T = TypeVar("T")


async def recorded_call(
    pool: asyncpg.Pool,
    clock: Clock,
    payment: dict[str, Any],
    operation: str,
    call: Callable[[], Awaitable[T]],
    *,
    key: str | None,
    amount_minor: int | None = None,
) -> T:
    """Make ``call`` for ``payment``; its outcome is stored whether it answers or raises."""
    async with pool.acquire() as conn:
        attempt_id = await store.start_attempt(
            conn,
            payment_id=payment["id"],
            operation=operation,
            idempotency_key=key,
            amount_minor=amount_minor,
            provider_ref=payment["provider_ref"],
            at=clock(),
        )
    # Until the call returns, the outcome is unknown (a cancelled job leaves that).
    outcome, ref, code = "unavailable", None, None
    message: str | None = "no answer"
    try:
        result = await call()
    except PaymentError as exc:
        outcome = {
            PaymentDeclined: "declined",
            PaymentRejected: "rejected",
        }.get(type(exc), "unavailable")
        ref, code, message = exc.provider_ref, exc.code, exc.message
        raise
    except Exception as exc:
        message = repr(exc)
        raise
    else:
        outcome, message = "succeeded", None
        ref = getattr(result, "provider_ref", None)
        return result
    finally:
        async with pool.acquire() as conn:
            await store.finish_attempt(
                conn,
                attempt_id,
                outcome=outcome,
                at=clock(),
                provider_ref=ref,
                error_code=code,
                error_message=message,
            )
