"""The Stripe adapter: PaymentIntents with manual capture, made off-session with the card
saved for the account (billing-domain.md section 5).

Calls (form-encoded, ``Authorization: Bearer <secret key>``, ``Idempotency-Key`` on
every POST):

- hold: ``POST /v1/payment_intents`` amount, currency, customer, payment_method,
  capture_method=manual, confirm=true, off_session=true, metadata
- capture: ``POST /v1/payment_intents/{id}/capture`` amount_to_capture
- cancel: ``POST /v1/payment_intents/{id}/cancel``
- refund: ``POST /v1/refunds`` payment_intent, amount, metadata
- read back: ``GET /v1/payment_intents/{id}``

Answers map onto the billing error tree: 402 / ``card_error`` is a decline; 409
(concurrent use of a key), 429, 5xx, timeouts and network errors are
``PaymentUnavailable`` (retry later); any other 4xx is ``PaymentRejected``. Every
request has a total timeout. Amounts are Stripe's "smallest currency unit", which equals
our minor units for the currencies we bill (Stripe's special cases, such as three-decimal
currencies that must end in 0, are not handled: Stripe rejects such an amount and the
attempt is recorded as rejected).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp

from billing.payments import (
    HoldRequest,
    IntentState,
    IntentStatus,
    PaymentDeclined,
    PaymentRejected,
    PaymentUnavailable,
    RefundResult,
)

__all__ = ["STRIPE_VERSION", "StripeProvider"]

STRIPE_VERSION = "2024-06-20"


def _intent(body: Mapping[str, Any]) -> IntentState:
    try:
        return IntentState(
            str(body["id"]),
            IntentStatus(body["status"]),
            int(body["amount"]),
            capturable_minor=int(body.get("amount_capturable") or 0),
            received_minor=int(body.get("amount_received") or 0),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise PaymentUnavailable(f"unexpected PaymentIntent from Stripe: {exc!r}") from None


class StripeProvider:
    """PaymentIntents over Stripe's REST API with aiohttp."""

    def __init__(
        self,
        *,
        api_url: str,
        secret_key: str,
        timeout_s: float = 20.0,
        key_prefix: str = "",
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._base = api_url.rstrip("/")
        self._secret = secret_key
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, connect=min(10.0, timeout_s))
        self._prefix = key_prefix
        self._session = session
        self._owns_session = session is None

    @property
    def name(self) -> str:
        return "stripe"

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def _call(
        self,
        method: str,
        path: str,
        *,
        data: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self._secret}", "Stripe-Version": STRIPE_VERSION}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = self._prefix + idempotency_key
        try:
            async with self._http().request(
                method,
                self._base + path,
                data=dict(data) if data is not None else None,
                headers=headers,
                timeout=self._timeout,
            ) as response:
                status = response.status
                try:
                    body = await response.json(content_type=None)
                except ValueError:
                    body = None
        except TimeoutError as exc:
            raise PaymentUnavailable(
                f"Stripe did not answer in time: {exc!r}", code="timeout"
            ) from None
        except aiohttp.ClientError as exc:
            raise PaymentUnavailable(f"Stripe unreachable: {exc!r}", code="network") from None
        if not isinstance(body, dict):
            raise PaymentUnavailable(f"Stripe answered {status} without a JSON object")
        if 200 <= status < 300:
            return body
        raise self._error(status, body)

    @staticmethod
    def _error(status: int, body: Mapping[str, Any]) -> Exception:
        error = body.get("error")
        error = error if isinstance(error, Mapping) else {}
        message = str(error.get("message") or f"Stripe answered {status}")
        code = error.get("decline_code") or error.get("code") or error.get("type")
        intent = error.get("payment_intent")
        ref = intent.get("id") if isinstance(intent, Mapping) else None
        code = None if code is None else str(code)
        if status == 402 or error.get("type") == "card_error":
            return PaymentDeclined(message, code=code, provider_ref=ref)
        if status in (409, 429) or status >= 500:
            return PaymentUnavailable(message, code=code, provider_ref=ref)
        return PaymentRejected(message, code=code, provider_ref=ref)

    async def place_hold(self, request: HoldRequest) -> IntentState:
        method = request.method
        if not method.customer_id or not method.payment_method_id:
            raise PaymentDeclined(
                "the account has no card saved for off-session payments",
                code="no_payment_method",
            )
        data = {
            "amount": str(request.amount_minor),
            "currency": request.currency.lower(),
            "customer": method.customer_id,
            "payment_method": method.payment_method_id,
            "capture_method": "manual",
            "confirm": "true",
            "off_session": "true",
        }
        if request.description:
            data["description"] = request.description
        for key, value in request.metadata.items():
            data[f"metadata[{key}]"] = value
        body = await self._call(
            "POST", "/v1/payment_intents", data=data, idempotency_key=request.idempotency_key
        )
        state = _intent(body)
        if state.status in (IntentStatus.REQUIRES_PAYMENT_METHOD, IntentStatus.REQUIRES_ACTION):
            raise PaymentDeclined(
                f"the PaymentIntent needs the customer ({state.status.value})",
                code=state.status.value,
                provider_ref=state.provider_ref,
            )
        return state

    async def capture(
        self, provider_ref: str, amount_minor: int, *, idempotency_key: str
    ) -> IntentState:
        body = await self._call(
            "POST",
            f"/v1/payment_intents/{quote(provider_ref, safe='')}/capture",
            data={"amount_to_capture": str(amount_minor)},
            idempotency_key=idempotency_key,
        )
        return _intent(body)

    async def cancel(self, provider_ref: str, *, idempotency_key: str) -> IntentState:
        body = await self._call(
            "POST",
            f"/v1/payment_intents/{quote(provider_ref, safe='')}/cancel",
            data={"cancellation_reason": "abandoned"},
            idempotency_key=idempotency_key,
        )
        return _intent(body)

    async def refund(
        self,
        provider_ref: str,
        amount_minor: int,
        *,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> RefundResult:
        data = {"payment_intent": provider_ref, "amount": str(amount_minor)}
        for key, value in (metadata or {}).items():
            data[f"metadata[{key}]"] = value
        body = await self._call("POST", "/v1/refunds", data=data, idempotency_key=idempotency_key)
        try:
            return RefundResult(str(body["id"]), str(body["status"]), int(body["amount"]))
        except (KeyError, ValueError, TypeError) as exc:
            raise PaymentUnavailable(f"unexpected Refund from Stripe: {exc!r}") from None

    async def retrieve(self, provider_ref: str) -> IntentState:
        return _intent(
            await self._call("GET", f"/v1/payment_intents/{quote(provider_ref, safe='')}")
        )

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None
