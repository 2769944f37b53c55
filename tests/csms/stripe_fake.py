"""A small local fake of the Stripe endpoints the adapter calls, served over real HTTP.

It checks the secret key, reads form-encoded bodies, keeps PaymentIntents and refunds,
and replays the first answer for an idempotency key (including a 5xx, as Stripe does;
reusing a key with other parameters is a 400 ``idempotency_error``). Faults are queued
per operation: ``fail("capture", 500)`` makes the next capture answer 500 without doing
anything; ``delay_s`` makes every answer late. A payment method named
``pm_card_chargeDeclined`` is declined (402, like Stripe's test card).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

SECRET = "sk_test_fake_123"


@dataclass
class StripeFake:
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str], str | None]] = field(default_factory=list)
    faults: dict[str, list[int]] = field(default_factory=dict)
    delay_s: float = 0.0
    _answers: dict[str, tuple[str, int, dict[str, Any]]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def fail(self, operation: str, status: int, times: int = 1) -> None:
        self.faults.setdefault(operation, []).extend([status] * times)

    def keys(self, operation: str) -> list[str | None]:
        return [key for op, _, _, key in self.requests if op == operation]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/payment_intents", self._create)
        app.router.add_get("/v1/payment_intents/{id}", self._retrieve)
        app.router.add_post("/v1/payment_intents/{id}/capture", self._capture)
        app.router.add_post("/v1/payment_intents/{id}/cancel", self._cancel)
        app.router.add_post("/v1/refunds", self._refund)
        return app

    # --- plumbing -------------------------------------------------------------------------

    async def _handle(self, request: web.Request, operation: str, action: Any) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {SECRET}":
            return _error(401, "invalid_request_error", "Invalid API Key provided")
        form = {k: str(v) for k, v in (await request.post()).items()}
        key = request.headers.get("Idempotency-Key")
        self.requests.append((operation, request.path, form, key))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        fingerprint = f"{request.path}?{sorted(form.items())}"
        if key is not None and key in self._answers:
            seen, status, body = self._answers[key]
            if seen != fingerprint:
                return _error(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with.",
                )
            return web.json_response(body, status=status)
        queued = self.faults.get(operation)
        if queued:
            status = queued.pop(0)
            body = {"error": {"type": "api_error", "message": "An unknown error occurred"}}
        else:
            status, body = action(request, form)
        if key is not None:
            self._answers[key] = (fingerprint, status, body)
        return web.json_response(body, status=status)

    def _intent_or_404(self, request: web.Request) -> dict[str, Any] | None:
        return self.intents.get(request.match_info["id"])

    # --- endpoints ------------------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.Response:
        def create(_: web.Request, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
            intent = {
                "id": f"pi_fake_{next(self._ids)}",
                "object": "payment_intent",
                "amount": int(form["amount"]),
                "currency": form["currency"],
                "customer": form.get("customer"),
                "payment_method": form.get("payment_method"),
                "capture_method": form.get("capture_method", "automatic"),
                "amount_capturable": 0,
                "amount_received": 0,
                "metadata": {
                    k[len("metadata[") : -1]: v
                    for k, v in form.items()
                    if k.startswith("metadata[")
                },
            }
            self.intents[intent["id"]] = intent
            if form.get("payment_method") == "pm_card_chargeDeclined":
                intent["status"] = "requires_payment_method"
                return 402, {
                    "error": {
                        "type": "card_error",
                        "code": "card_declined",
                        "decline_code": "insufficient_funds",
                        "message": "Your card has insufficient funds.",
                        "payment_intent": intent,
                    }
                }
            intent["status"] = "requires_capture"
            intent["amount_capturable"] = intent["amount"]
            return 200, intent

        return await self._handle(request, "create", create)

    async def _capture(self, request: web.Request) -> web.Response:
        def capture(req: web.Request, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
            intent = self._intent_or_404(req)
            if intent is None:
                return 404, _body(
                    "invalid_request_error", "No such payment_intent", "resource_missing"
                )
            if intent["status"] != "requires_capture":
                return 400, _body(
                    "invalid_request_error",
                    "This PaymentIntent could not be captured because it has a status of "
                    f"{intent['status']}.",
                    "payment_intent_unexpected_state",
                )
            amount = int(form.get("amount_to_capture", intent["amount_capturable"]))
            if amount > intent["amount_capturable"]:
                return 400, _body("invalid_request_error", "amount too large", "amount_too_large")
            intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
            return 200, intent

        return await self._handle(request, "capture", capture)

    async def _cancel(self, request: web.Request) -> web.Response:
        def cancel(req: web.Request, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
            intent = self._intent_or_404(req)
            if intent is None:
                return 404, _body(
                    "invalid_request_error", "No such payment_intent", "resource_missing"
                )
            if intent["status"] == "succeeded":
                return 400, _body(
                    "invalid_request_error", "cannot cancel", "payment_intent_unexpected_state"
                )
            intent.update(status="canceled", amount_capturable=0)
            return 200, intent

        return await self._handle(request, "cancel", cancel)

    async def _retrieve(self, request: web.Request) -> web.Response:
        def retrieve(req: web.Request, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
            intent = self._intent_or_404(req)
            if intent is None:
                return 404, _body(
                    "invalid_request_error", "No such payment_intent", "resource_missing"
                )
            return 200, intent

        return await self._handle(request, "retrieve", retrieve)

    async def _refund(self, request: web.Request) -> web.Response:
        def refund(_: web.Request, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
            intent = self.intents.get(form.get("payment_intent", ""))
            if intent is None:
                return 404, _body(
                    "invalid_request_error", "No such payment_intent", "resource_missing"
                )
            amount = int(form["amount"])
            done = sum(r["amount"] for r in self.refunds if r["payment_intent"] == intent["id"])
            if done + amount > intent["amount_received"]:
                return 400, _body("invalid_request_error", "too much", "amount_too_large")
            body = {
                "id": f"re_fake_{next(self._ids)}",
                "object": "refund",
                "amount": amount,
                "payment_intent": intent["id"],
                "status": "succeeded",
            }
            self.refunds.append(body)
            return 200, body

        return await self._handle(request, "refund", refund)


def _body(kind: str, message: str, code: str) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message, "code": code}}


def _error(status: int, kind: str, message: str) -> web.Response:
    return web.json_response({"error": {"type": kind, "message": message}}, status=status)


@asynccontextmanager
async def serving(fake: StripeFake) -> AsyncIterator[str]:
    """Serve the fake on 127.0.0.1; yield its base URL."""
    runner = web.AppRunner(fake.app())
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
