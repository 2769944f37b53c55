"""The simulated payment provider: the default, so ``csms serve`` bills out of the box.

It keeps PaymentIntents in memory (per process) and behaves like Stripe where it matters
to us: holds are authorisations that are captured once, for at most the held amount;
an idempotency key returns its first answer again; a refund cannot exceed what was
captured.

It can be told to misbehave, either through the payment method saved for an account
(like Stripe's test cards) or by setting counters on the instance (tests):

- ``pm_card_chargeDeclined`` (or ``decline_holds``): the hold is declined.
- ``pm_sim_timeout`` (or ``timeout_holds``): the hold is made but the answer is lost;
  the retry with the same idempotency key gets the original intent back.
- ``pm_sim_capture_fails`` (once per intent) or ``fail_captures``: a capture fails with a
  server error (nothing captured); a later capture succeeds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace

from billing.payments import (
    HoldRequest,
    IntentState,
    IntentStatus,
    PaymentDeclined,
    PaymentRejected,
    PaymentUnavailable,
    RefundResult,
)

__all__ = ["DECLINED_CARD", "FAILING_CAPTURE_CARD", "TIMEOUT_CARD", "SimulatedProvider"]

DECLINED_CARD = "pm_card_chargeDeclined"
TIMEOUT_CARD = "pm_sim_timeout"
FAILING_CAPTURE_CARD = "pm_sim_capture_fails"


@dataclass
class _Intent:
    state: IntentState
    method: str | None
    refunded_minor: int = 0
    capture_failed: bool = False


def _ref(prefix: str, key: str) -> str:
    return f"{prefix}_sim_{hashlib.sha256(key.encode()).hexdigest()[:24]}"


class SimulatedProvider:
    """In-memory PaymentIntents with injectable declines, timeouts and capture failures."""

    def __init__(self) -> None:
        self.intents: dict[str, _Intent] = {}
        self.calls: list[tuple[str, str | None]] = []
        self._answers: dict[str, IntentState | RefundResult | PaymentDeclined] = {}
        self._timed_out: set[str] = set()
        self.decline_holds = 0
        self.timeout_holds = 0
        self.fail_captures = 0

    @property
    def name(self) -> str:
        return "simulated"

    def _replay(self, key: str) -> IntentState | RefundResult | None:
        answer = self._answers.get(key)
        if isinstance(answer, PaymentDeclined):
            raise answer
        return answer

    async def place_hold(self, request: HoldRequest) -> IntentState:
        key = request.idempotency_key
        self.calls.append(("hold", key))
        replayed = self._replay(key)
        if isinstance(replayed, IntentState):
            return self.intents[replayed.provider_ref].state
        method = request.method.payment_method_id
        ref = _ref("pi", key)
        if self.decline_holds > 0 or method == DECLINED_CARD:
            self.decline_holds = max(0, self.decline_holds - 1)
            declined = PaymentDeclined(
                "Your card was declined.", code="card_declined", provider_ref=ref
            )
            self._answers[key] = declined
            raise declined
        if request.amount_minor <= 0:
            raise PaymentRejected("amount must be positive", code="parameter_invalid_integer")
        state = IntentState(
            ref,
            IntentStatus.REQUIRES_CAPTURE,
            request.amount_minor,
            capturable_minor=request.amount_minor,
        )
        self.intents[ref] = _Intent(state, method)
        self._answers[key] = state
        if self.timeout_holds > 0 or (method == TIMEOUT_CARD and key not in self._timed_out):
            self.timeout_holds = max(0, self.timeout_holds - 1)
            self._timed_out.add(key)
            raise PaymentUnavailable("the provider did not answer in time", code="timeout")
        return state

    def _intent(self, provider_ref: str) -> _Intent:
        intent = self.intents.get(provider_ref)
        if intent is None:
            raise PaymentRejected(
                f"No such payment_intent: '{provider_ref}'", code="resource_missing"
            )
        return intent

    async def capture(
        self, provider_ref: str, amount_minor: int, *, idempotency_key: str
    ) -> IntentState:
        self.calls.append(("capture", idempotency_key))
        replayed = self._replay(idempotency_key)
        if isinstance(replayed, IntentState):
            return replayed
        intent = self._intent(provider_ref)
        failing_card = intent.method == FAILING_CAPTURE_CARD and not intent.capture_failed
        if self.fail_captures > 0 or failing_card:
            self.fail_captures = max(0, self.fail_captures - 1)
            intent.capture_failed = True
            raise PaymentUnavailable("simulated server error on capture", code="api_error")
        state = intent.state
        if state.status is not IntentStatus.REQUIRES_CAPTURE:
            raise PaymentRejected(
                f"This PaymentIntent could not be captured because it has a status of "
                f"{state.status.value}.",
                code="payment_intent_unexpected_state",
                provider_ref=provider_ref,
            )
        if not 0 < amount_minor <= state.capturable_minor:
            raise PaymentRejected("amount_to_capture is invalid", code="amount_too_large")
        intent.state = replace(
            state, status=IntentStatus.SUCCEEDED, capturable_minor=0, received_minor=amount_minor
        )
        self._answers[idempotency_key] = intent.state
        return intent.state

    async def cancel(self, provider_ref: str, *, idempotency_key: str) -> IntentState:
        self.calls.append(("cancel", idempotency_key))
        replayed = self._replay(idempotency_key)
        if isinstance(replayed, IntentState):
            return replayed
        intent = self._intent(provider_ref)
        if intent.state.status is IntentStatus.SUCCEEDED:
            raise PaymentRejected(
                "You cannot cancel this PaymentIntent because it has a status of succeeded.",
                code="payment_intent_unexpected_state",
                provider_ref=provider_ref,
            )
        intent.state = replace(intent.state, status=IntentStatus.CANCELED, capturable_minor=0)
        self._answers[idempotency_key] = intent.state
        return intent.state

    async def refund(
        self,
        provider_ref: str,
        amount_minor: int,
        *,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> RefundResult:
        self.calls.append(("refund", idempotency_key))
        replayed = self._replay(idempotency_key)
        if isinstance(replayed, RefundResult):
            return replayed
        intent = self._intent(provider_ref)
        if intent.refunded_minor + amount_minor > intent.state.received_minor:
            raise PaymentRejected(
                "Refund amount is greater than unrefunded amount on charge.",
                code="amount_too_large",
            )
        intent.refunded_minor += amount_minor
        result = RefundResult(_ref("re", idempotency_key), "succeeded", amount_minor)
        self._answers[idempotency_key] = result
        return result

    async def retrieve(self, provider_ref: str) -> IntentState:
        self.calls.append(("retrieve", provider_ref))
        return self._intent(provider_ref).state

    async def close(self) -> None:
        return None
