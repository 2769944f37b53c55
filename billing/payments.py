"""The payment provider interface, its value types, idempotency keys and the settlement
policy per cross-check verdict (billing-domain.md sections 3.5 and 5).

Pure: no I/O happens here. The adapters that talk to a provider (the simulated one, the
Stripe one) live in ``csms.payments`` and implement :class:`PaymentProvider`.

The model is Stripe's PaymentIntent with manual capture: ``place_hold`` authorises an
amount off-session with the card saved for the account, ``capture`` takes at most that
much, ``cancel`` releases the hold, ``refund`` returns captured money. Every call carries
an idempotency key derived from our own ids, so a retried call after a timeout can never
charge twice.

Errors say what the caller should do next:

::

    PaymentError              anything a provider refuses or fails at
    ├── PaymentDeclined       permanent for this attempt: the card or issuer said no
    │                         (a new attempt needs a new key; dunning, not a retry)
    ├── PaymentRejected       the request itself was refused (bad state, bad parameters);
    │                         read the intent's state before deciding
    └── PaymentUnavailable    timeout, network error, 5xx, rate limit: retry with the
                              same idempotency key later
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from billing.crosscheck import Verdict

__all__ = [
    "HoldRequest",
    "IntentState",
    "IntentStatus",
    "PaymentAction",
    "PaymentDeclined",
    "PaymentError",
    "PaymentMethod",
    "PaymentProvider",
    "PaymentRejected",
    "PaymentUnavailable",
    "RefundResult",
    "Settlement",
    "cancel_key",
    "capture_key",
    "hold_key",
    "refund_key",
    "settlement_for",
]


class PaymentError(Exception):
    """A provider refused or failed; ``code`` is the provider's machine code if any."""

    def __init__(
        self, message: str, *, code: str | None = None, provider_ref: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.provider_ref = provider_ref


class PaymentDeclined(PaymentError):
    """The card or the issuer declined (or the card needs the customer present)."""


class PaymentRejected(PaymentError):
    """The provider refused the request itself (unexpected state, invalid parameters)."""


class PaymentUnavailable(PaymentError):
    """No answer we can trust: timeout, network error, 5xx, 429. Retry with the same key."""


class IntentStatus(StrEnum):
    """The PaymentIntent states we act on (Stripe's spelling)."""

    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    REQUIRES_CAPTURE = "requires_capture"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"


@dataclass(frozen=True, slots=True)
class PaymentMethod:
    """The card saved for an account: the provider's customer and payment method ids."""

    customer_id: str | None
    payment_method_id: str | None


@dataclass(frozen=True, slots=True)
class HoldRequest:
    """Authorise ``amount_minor`` (integer minor units of ``currency``) off-session."""

    amount_minor: int
    currency: str
    method: PaymentMethod
    idempotency_key: str
    description: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IntentState:
    """A PaymentIntent as the provider reports it; amounts in minor units."""

    provider_ref: str
    status: IntentStatus
    amount_minor: int
    capturable_minor: int = 0
    received_minor: int = 0


@dataclass(frozen=True, slots=True)
class RefundResult:
    provider_ref: str
    status: str
    amount_minor: int


class PaymentProvider(Protocol):
    """Hold, capture, cancel, refund and read back a PaymentIntent."""

    @property
    def name(self) -> str: ...

    async def place_hold(self, request: HoldRequest) -> IntentState: ...

    async def capture(
        self, provider_ref: str, amount_minor: int, *, idempotency_key: str
    ) -> IntentState: ...

    async def cancel(self, provider_ref: str, *, idempotency_key: str) -> IntentState: ...

    async def refund(
        self,
        provider_ref: str,
        amount_minor: int,
        *,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> RefundResult: ...

    async def retrieve(self, provider_ref: str) -> IntentState: ...

    async def close(self) -> None: ...


# --- idempotency keys: derived from our ids, never random (section 5.7) -------------------


def _numbered(base: str, intent: int) -> str:
    """The first intent of a session has the plain key; later ones (after a decline or an
    expired hold) get ``:{n}`` so the provider treats them as new requests."""
    return base if intent == 0 else f"{base}:{intent}"


def hold_key(session_id: int, intent: int = 0) -> str:
    return _numbered(f"pi:create:{session_id}", intent)


def capture_key(session_id: int, intent: int = 0, retry: int = 0) -> str:
    """``retry`` counts earlier captures of this intent that got no usable answer: Stripe
    replays a key's first answer (a 5xx too), so a capture retried after reading the
    intent back (still ``requires_capture``) needs a fresh key. A PaymentIntent can only
    be captured once, so a fresh key cannot capture twice."""
    key = _numbered(f"pi:capture:{session_id}", intent)
    return key if retry == 0 else f"{key}:retry{retry}"


def cancel_key(session_id: int, intent: int = 0) -> str:
    return _numbered(f"pi:cancel:{session_id}", intent)


def refund_key(session_id: int, number: int) -> str:
    return f"refund:{session_id}:{number}"


# --- what a verdict does to the bill and the money (section 3.5) --------------------------


class PaymentAction(StrEnum):
    CAPTURE = "capture"
    """Charge the amount due (placing a hold first when there is none)."""
    CANCEL = "cancel"
    """Charge nothing; release a hold if one was placed."""
    REVIEW = "review"
    """Keep any hold, capture nothing until an operator reviews the invoice."""


@dataclass(frozen=True, slots=True)
class Settlement:
    """The invoice status and the payment step a priced session gets."""

    invoice_status: str
    payment_status: str
    action: PaymentAction
    charger_ticket: bool = False


def settlement_for(verdict: Verdict, total_minor: int, *, minimum_charge_minor: int) -> Settlement:
    """The outcome of a verdict.

    - OK, INCONCLUSIVE: issue and capture the metered price.
    - METER_LOW: the same (the meter wins upward), plus a charger-health ticket.
    - METER_HIGH: held for review; nothing is captured until an operator decides.
    - VEHICLE_MISMATCH: the invoice is void and the driver is charged nothing.
    - A zero total charges nothing; a total below the provider's minimum charge is waived.
    """
    if verdict is Verdict.VEHICLE_MISMATCH:
        return Settlement("void", "canceled", PaymentAction.CANCEL)
    if verdict is Verdict.METER_HIGH:
        return Settlement("held_for_review", "awaiting_review", PaymentAction.REVIEW)
    ticket = verdict is Verdict.METER_LOW
    if total_minor <= 0:
        return Settlement("issued", "not_required", PaymentAction.CANCEL, ticket)
    if total_minor < minimum_charge_minor:
        return Settlement("issued", "waived", PaymentAction.CANCEL, ticket)
    return Settlement("issued", "pending", PaymentAction.CAPTURE, ticket)
