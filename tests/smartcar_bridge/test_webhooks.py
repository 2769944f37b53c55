"""The webhook receiver on its own: signatures, the VERIFY policy (no signing oracle),
and malformed deliveries."""

from __future__ import annotations

import json

import pytest

from smartcar_bridge.webhooks import (
    Challenge,
    WebhookReceiver,
    WebhookRejected,
    sign,
    verify_signature,
)
from tests.conftest import FakeClock

AMT = "amt-test"
EVENT = json.dumps(
    {
        "eventId": "e-1",
        "eventType": "VEHICLE_STATE",
        "vehicleId": "v-1",
        "data": {"signals": [{"code": "charge-ischarging", "body": {"value": True}}]},
        "meta": {"version": "4.0", "deliveryId": "d-1", "deliveredAt": 1731940328000},
    },
    separators=(",", ":"),
).encode()


def verify_body(challenge: str) -> bytes:
    return json.dumps(
        {"eventId": "x", "eventType": "VERIFY", "data": {"challenge": challenge}, "meta": {}}
    ).encode()


def receiver(clock: FakeClock, policy: str = "window") -> WebhookReceiver:
    return WebhookReceiver(AMT, unsigned_verify=policy, clock=clock)  # type: ignore[arg-type]


def test_signature_is_checked_in_constant_time_over_the_raw_body() -> None:
    good = sign(AMT, EVENT)
    assert verify_signature(AMT, EVENT, good)
    assert verify_signature(AMT, EVENT, good.upper())  # hex case does not matter
    assert not verify_signature(AMT, EVENT + b" ", good)  # the raw bytes, not the JSON
    assert not verify_signature("other", EVENT, good)
    assert not verify_signature(AMT, EVENT, None)
    assert not verify_signature(AMT, EVENT, "")


def test_signed_event_is_accepted(clock: FakeClock) -> None:
    [event] = receiver(clock).receive(EVENT, sign(AMT, EVENT))  # type: ignore[misc]
    assert (event.event_id, event.vehicle_id) == ("e-1", "v-1")


@pytest.mark.parametrize("signature", [None, "", "0" * 64, "not-hex"])
def test_unsigned_or_badly_signed_event_is_refused(clock: FakeClock, signature: str | None) -> None:
    with pytest.raises(WebhookRejected) as caught:
        receiver(clock).receive(EVENT, signature)
    assert caught.value.status == 401


def test_tampered_body_is_refused(clock: FakeClock) -> None:
    signature = sign(AMT, EVENT)
    tampered = EVENT.replace(b"true", b"false")
    with pytest.raises(WebhookRejected) as caught:
        receiver(clock).receive(tampered, signature)
    assert caught.value.status == 401


def test_signed_verify_is_answered(clock: FakeClock) -> None:
    body = verify_body("3a5c8f72-e6d9-4b1a-9f2e-8c7d6a5b4e3f")
    outcome = receiver(clock, "never").receive(body, sign(AMT, body))
    assert outcome == Challenge(
        "3a5c8f72-e6d9-4b1a-9f2e-8c7d6a5b4e3f",
        sign(AMT, b"3a5c8f72-e6d9-4b1a-9f2e-8c7d6a5b4e3f"),
    )
    with pytest.raises(WebhookRejected) as caught:
        receiver(clock, "never").receive(body, "0" * 64)
    assert caught.value.status == 401


def test_unsigned_verify_only_inside_an_open_window(clock: FakeClock) -> None:
    hook = receiver(clock, "window")
    body = verify_body("3a5c8f72-e6d9-4b1a-9f2e-8c7d6a5b4e3f")
    with pytest.raises(WebhookRejected) as caught:
        hook.receive(body, None)
    assert caught.value.status == 403
    hook.open_verify_window(60)
    assert isinstance(hook.receive(body, None), Challenge)
    clock.advance(61)
    with pytest.raises(WebhookRejected):
        hook.receive(body, None)


def test_verify_is_not_a_signing_oracle(clock: FakeClock) -> None:
    # An attacker sends a forged event body as the "challenge" to get its signature back.
    hook = receiver(clock, "always")
    forged = EVENT.decode()
    with pytest.raises(WebhookRejected) as caught:
        hook.receive(verify_body(forged), None)
    assert caught.value.status == 400
    # Whatever is answered is a token-like string, never something that parses as JSON.
    answered = hook.receive(verify_body("abcdefgh-1234"), None)
    assert isinstance(answered, Challenge)
    with pytest.raises(WebhookRejected):
        hook.receive(verify_body('"quoted"'), None)


def test_malformed_and_oversized(clock: FakeClock) -> None:
    hook = receiver(clock)
    for body in (b"not json", b"[1, 2]", b'{"hello": "world"}'):
        with pytest.raises(WebhookRejected) as caught:
            hook.receive(body, sign(AMT, body))
        assert caught.value.status == 400
    huge = b'{"x": "' + b"a" * 300_000 + b'"}'
    with pytest.raises(WebhookRejected) as caught:
        hook.receive(huge, sign(AMT, huge))
    assert caught.value.status == 413


def test_empty_secret_is_refused(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="secret"):
        WebhookReceiver("", clock=clock)
