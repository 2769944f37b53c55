"""Webhooks: VERIFY, signed compact payloads, triggers, errors and the retry schedule."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

from simulators.smartcar import sign
from tests.simulators.smartcar import reference
from tests.simulators.smartcar.conftest import AMT, Harness, Receiver, StartSim
from tests.simulators.smartcar.test_vehicle_api import linked


async def started(start_sim: StartSim, receiver: Receiver, **overrides: object) -> Harness:
    harness = await start_sim(webhook_url=receiver.url, **overrides)
    for _ in range(200):
        if harness.sim.webhook.verified or receiver.received:
            break
        await asyncio.sleep(0.01)
    await harness.sim.webhook.drain()
    return harness


def test_signature_test_vector() -> None:
    key, message, digest = reference.HMAC_VECTOR
    assert sign(key, message.encode()) == digest


async def test_verify_challenge_on_start(start_sim: StartSim, receiver: Receiver) -> None:
    harness = await started(start_sim, receiver)
    assert harness.sim.webhook.verified
    (verify,) = receiver.received
    reference.assert_shape(verify.json, reference.VERIFY)
    assert verify.json["meta"]["webhookId"] == harness.sim.webhook.id
    assert verify.headers["Content-Type"] == "application/json"
    assert verify.headers["User-Agent"].startswith("Smartcar/")
    assert "SC-Signature" not in verify.headers  # UNCONFIRMED upstream; off by default


async def test_wrong_challenge_answer_leaves_the_webhook_unverified(
    start_sim: StartSim, receiver: Receiver
) -> None:
    receiver.wrong_challenge = True
    harness = await started(start_sim, receiver)
    assert not harness.sim.webhook.verified
    await linked(harness)  # connecting subscribes the car: its event is dropped
    deliveries = await harness.control("GET", "/webhook/deliveries")
    assert [(d["state"], d["reason"]) for d in deliveries["items"]] == [
        ("dropped", "webhook not verified")
    ]
    receiver.wrong_challenge = False
    result = await harness.control("POST", "/webhook/verify")
    assert result["verified"] is True
    assert receiver.events() == []


async def test_first_delivery_is_signed_and_compact(
    start_sim: StartSim, receiver: Receiver
) -> None:
    harness = await started(start_sim, receiver)
    _, vid = await linked(harness)
    await harness.sim.webhook.drain()
    (event,) = receiver.events()
    expected = hmac.new(AMT.encode(), event.raw, hashlib.sha256).hexdigest()
    assert event.headers["SC-Signature"] == expected
    body = event.json
    assert event.raw == json.dumps(body, separators=(",", ":")).encode()  # Node-style verify
    reference.assert_shape(
        {**body, "data": {**body["data"], "triggers": [], "signals": body["data"]["signals"][:1]}},
        {**reference.VEHICLE_STATE, "data": {**reference.VEHICLE_STATE["data"], "triggers": []}},
    )
    assert body["vehicleId"] == vid
    assert body["data"]["triggers"] == [{"code": "FIRST_DELIVERY"}]
    codes = [s["code"] for s in body["data"]["signals"]]
    assert codes == list(harness.sim.webhook.signals)
    assert body["meta"]["signalCount"] == len(codes)
    soc = body["data"]["signals"][0]
    assert soc["body"]["unit"] == "percent"
    assert soc["body"]["value"] == round(harness.sim.vehicles[vid].soc * 100, 1)


async def test_state_change_triggers_an_event(start_sim: StartSim, receiver: Receiver) -> None:
    harness = await started(start_sim, receiver)
    _, vid = await linked(harness)
    await harness.control("PATCH", f"/vehicles/{vid}", {"plugged_in": True})
    await harness.control("PATCH", f"/vehicles/{vid}", {"soc": 0.25})  # not a trigger
    await harness.sim.webhook.drain()
    events = receiver.events("VEHICLE_STATE")
    assert len(events) == 2
    triggers = events[1].json["data"]["triggers"]
    assert triggers == [
        {
            "code": "charge-ischargingcableconnected",
            "name": "IsChargingCableConnected",
            "group": "Charge",
        }
    ]


async def test_vehicle_error_and_resolution(start_sim: StartSim, receiver: Receiver) -> None:
    harness = await started(start_sim, receiver)
    _, vid = await linked(harness)
    await harness.control("PATCH", f"/vehicles/{vid}", {"unreachable": True})
    await harness.control("PATCH", f"/vehicles/{vid}", {"unreachable": False})
    await harness.sim.webhook.drain()
    errors = [e.json for e in receiver.events("VEHICLE_ERROR")]
    assert [(e["data"]["errors"][0]["code"], e["data"]["errors"][0]["state"]) for e in errors] == [
        ("UNREACHABLE", "ERROR"),
        ("UNREACHABLE", "RESOLVED"),
    ]
    assert set(errors[0]["data"]["errors"][0]) == reference.VEHICLE_ERROR_ITEM_KEYS


async def test_retries_on_the_scaled_schedule(start_sim: StartSim, receiver: Receiver) -> None:
    harness = await started(start_sim, receiver, webhook_retry_scale=0.002)
    _, vid = await linked(harness)
    await harness.sim.webhook.drain()
    receiver.statuses = [500, 302]
    await harness.control("POST", f"/vehicles/{vid}/events", {"triggers": ["charge-ischarging"]})
    await harness.sim.webhook.drain()
    attempts = receiver.events()[1:]
    assert len(attempts) == 3
    assert attempts[1].at - attempts[0].at >= 25 * 0.002
    assert attempts[2].at - attempts[1].at >= 50 * 0.002
    bodies = [a.json for a in attempts]
    assert len({b["eventId"] for b in bodies}) == 1
    assert len({b["meta"]["deliveryId"] for b in bodies}) == 3
    for a in attempts:
        assert a.headers["SC-Signature"] == sign(AMT, a.raw)
    (delivery,) = [
        d
        for d in (await harness.control("GET", "/webhook/deliveries"))["items"]
        if d["event_id"] == bodies[0]["eventId"]
    ]
    assert delivery["state"] == "delivered"
    assert [a["status"] for a in delivery["attempts"]] == [500, 302, 200]


async def test_dropped_after_the_last_retry(start_sim: StartSim, receiver: Receiver) -> None:
    harness = await started(start_sim, receiver, webhook_retry_scale=0.001)
    _, vid = await linked(harness)
    await harness.sim.webhook.drain()
    receiver.statuses = [503] * 10
    loop = asyncio.get_running_loop()
    began = loop.time()
    delivery = await harness.control("POST", f"/vehicles/{vid}/events", {})
    await harness.sim.webhook.drain()
    elapsed = loop.time() - began
    assert elapsed >= (25 + 50 + 100) * 0.001
    (final,) = [
        d
        for d in (await harness.control("GET", "/webhook/deliveries"))["items"]
        if d["event_id"] == delivery["event_id"]
    ]
    assert final["state"] == "dropped"
    assert len(final["attempts"]) == 4  # the first try and three retries
    assert len(receiver.statuses) == 6


async def test_a_late_answer_is_a_failure(start_sim: StartSim, receiver: Receiver) -> None:
    harness = await started(start_sim, receiver, webhook_timeout_s=0.05)
    receiver.delay_s = 0.2
    await linked(harness)
    await harness.sim.webhook.drain()
    (delivery,) = (await harness.control("GET", "/webhook/deliveries"))["items"]
    assert delivery["state"] == "dropped"
    assert len(delivery["attempts"]) == 4
    assert all("Timeout" in a["error"] for a in delivery["attempts"])


async def test_subscribe_by_api(start_sim: StartSim, receiver: Receiver) -> None:
    harness = await started(start_sim, receiver, webhook_auto_enroll=False)
    token, vid = await linked(harness)
    assert receiver.events() == []
    hook = harness.sim.webhook.id
    bogus = await harness.post(f"/v2.0/vehicles/{vid}/webhooks/not-a-webhook", token, None)
    assert bogus.status == 400
    assert (await bogus.json())["type"] == "VALIDATION"
    resp = await harness.post(f"/v2.0/vehicles/{vid}/webhooks/{hook}", token, None)
    body = await resp.json()
    reference.assert_shape(body, reference.SUBSCRIBE)
    assert body == {"webhookId": hook, "vehicleId": vid}
    await harness.sim.webhook.drain()
    assert [e.json["data"]["triggers"] for e in receiver.events()] == [[{"code": "FIRST_DELIVERY"}]]


async def test_new_url_is_verified_again(start_sim: StartSim, receiver: Receiver) -> None:
    harness = await start_sim()
    assert (await harness.control("GET", "/webhook"))["verified"] is False
    result = await harness.control("PATCH", "/webhook", {"url": receiver.url})
    assert result["verified"] is True
    assert result["verify"]["status"] == 200
