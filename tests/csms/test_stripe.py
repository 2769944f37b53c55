"""The Stripe adapter against a local fake of the Stripe endpoints it calls (real HTTP on
loopback), alone and driven by the settlement service."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from billing.payments import (
    HoldRequest,
    IntentStatus,
    PaymentDeclined,
    PaymentMethod,
    PaymentRejected,
    PaymentUnavailable,
)
from csms.payments import StripeProvider
from tests.conftest import FakeClock
from tests.csms.billing_harness import T1, make_bench
from tests.csms.stripe_fake import SECRET, StripeFake, serving

CARD = PaymentMethod("cus_123", "pm_card_visa")


@pytest.fixture
def fake() -> StripeFake:
    return StripeFake()


@pytest.fixture
async def stripe(fake: StripeFake) -> AsyncIterator[StripeProvider]:
    async with serving(fake) as url:
        provider = StripeProvider(api_url=url, secret_key=SECRET, timeout_s=2, key_prefix="t1:")
        yield provider
        await provider.close()


def hold(amount: int = 550, key: str = "pi:create:1", method: PaymentMethod = CARD) -> HoldRequest:
    return HoldRequest(
        amount_minor=amount,
        currency="EUR",
        method=method,
        idempotency_key=key,
        description="Charging session 1",
        metadata={"session_id": "1"},
    )


async def test_hold_capture_refund_and_read_back(stripe: StripeProvider, fake: StripeFake) -> None:
    state = await stripe.place_hold(hold())
    assert (state.status, state.amount_minor, state.capturable_minor) == (
        IntentStatus.REQUIRES_CAPTURE,
        550,
        550,
    )
    (_, path, form, key) = fake.requests[0]
    assert path == "/v1/payment_intents" and key == "t1:pi:create:1"
    assert form == {
        "amount": "550",
        "currency": "eur",
        "customer": "cus_123",
        "payment_method": "pm_card_visa",
        "capture_method": "manual",
        "confirm": "true",
        "off_session": "true",
        "description": "Charging session 1",
        "metadata[session_id]": "1",
    }
    captured = await stripe.capture(state.provider_ref, 400, idempotency_key="pi:capture:1")
    assert (captured.status, captured.received_minor) == (IntentStatus.SUCCEEDED, 400)
    refund = await stripe.refund(
        state.provider_ref, 100, idempotency_key="refund:1:1", metadata={"credit_note": "CN-1"}
    )
    assert (refund.status, refund.amount_minor) == ("succeeded", 100)
    assert fake.requests[-1][2] == {
        "payment_intent": state.provider_ref,
        "amount": "100",
        "metadata[credit_note]": "CN-1",
    }
    again = await stripe.retrieve(state.provider_ref)
    assert again.status is IntentStatus.SUCCEEDED
    # A repeated request with the same key is answered from Stripe's memory.
    assert (await stripe.place_hold(hold())).provider_ref == state.provider_ref
    assert len(fake.intents) == 1


async def test_cancel_releases_a_hold(stripe: StripeProvider, fake: StripeFake) -> None:
    state = await stripe.place_hold(hold())
    canceled = await stripe.cancel(state.provider_ref, idempotency_key="pi:cancel:1")
    assert canceled.status is IntentStatus.CANCELED
    with pytest.raises(PaymentRejected) as caught:
        await stripe.capture(state.provider_ref, 550, idempotency_key="pi:capture:1")
    assert caught.value.code == "payment_intent_unexpected_state"


async def test_a_decline_is_a_payment_declined(stripe: StripeProvider) -> None:
    with pytest.raises(PaymentDeclined) as caught:
        await stripe.place_hold(hold(method=PaymentMethod("cus_123", "pm_card_chargeDeclined")))
    assert caught.value.code == "insufficient_funds"
    assert caught.value.provider_ref is not None and caught.value.provider_ref.startswith("pi_")


async def test_no_saved_card_is_declined_without_a_request(
    stripe: StripeProvider, fake: StripeFake
) -> None:
    with pytest.raises(PaymentDeclined) as caught:
        await stripe.place_hold(hold(method=PaymentMethod(None, None)))
    assert caught.value.code == "no_payment_method"
    assert fake.requests == []


async def test_server_errors_and_timeouts_are_unavailable(
    stripe: StripeProvider, fake: StripeFake
) -> None:
    fake.fail("create", 500)
    with pytest.raises(PaymentUnavailable):
        await stripe.place_hold(hold())
    # Stripe replays a key's first answer, a 500 too.
    with pytest.raises(PaymentUnavailable):
        await stripe.place_hold(hold())
    assert fake.intents == {}
    fake.fail("create", 429)
    with pytest.raises(PaymentUnavailable):
        await stripe.place_hold(hold(key="pi:create:2"))
    fake.delay_s = 3  # longer than the client's 2 s timeout
    with pytest.raises(PaymentUnavailable) as caught:
        await stripe.place_hold(hold(key="pi:create:3"))
    assert caught.value.code == "timeout"


async def test_a_wrong_key_or_bad_request_is_rejected(fake: StripeFake) -> None:
    async with serving(fake) as url:
        provider = StripeProvider(api_url=url, secret_key="sk_wrong")
        try:
            with pytest.raises(PaymentRejected):
                await provider.place_hold(hold())
        finally:
            await provider.close()


async def test_an_unreachable_stripe_is_unavailable() -> None:
    provider = StripeProvider(api_url="http://127.0.0.1:9", secret_key=SECRET, timeout_s=2)
    try:
        with pytest.raises(PaymentUnavailable):
            await provider.retrieve("pi_1")
    finally:
        await provider.close()


async def test_settlement_over_stripe_retries_a_failed_capture(
    pool: asyncpg.Pool, clock: FakeClock, stripe: StripeProvider, fake: StripeFake
) -> None:
    bench = make_bench(pool, clock, stripe)
    await bench.charger()
    await bench.account(customer="cus_123", method="pm_card_visa")
    await bench.tariff(T1)
    fake.fail("capture", 500)
    session_id = await bench.session()
    await bench.drain()
    assert (await bench.invoice(session_id))["payment_status"] == "pending"
    clock.advance(11)
    await bench.drain()

    invoice = await bench.invoice(session_id)
    assert (invoice["payment_status"], invoice["total_minor"]) == ("captured", 550)
    payment = await bench.payment(session_id)
    assert (payment["provider"], payment["status"], payment["captured_minor"]) == (
        "stripe",
        "captured",
        550,
    )
    assert payment["provider_ref"] in fake.intents
    assert fake.keys("create") == [f"t1:pi:create:{session_id}"]
    # The 500 is replayed for its key, so the retry reads the intent back, then captures
    # with a fresh key; a PaymentIntent captures once, so this cannot charge twice.
    assert fake.keys("capture") == [
        f"t1:pi:capture:{session_id}",
        f"t1:pi:capture:{session_id}:retry1",
    ]
    assert [op for op, *_ in fake.requests] == ["create", "capture", "retrieve", "capture"]
    intent = fake.intents[payment["provider_ref"]]
    assert (intent["metadata"]["session_id"], intent["amount_received"]) == (
        str(session_id),
        550,
    )
    assert [a[2] for a in await bench.attempts(session_id)] == [
        "succeeded",
        "unavailable",
        "succeeded",
        "succeeded",
    ]
