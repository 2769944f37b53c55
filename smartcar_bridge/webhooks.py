"""Smartcar webhooks: signatures, the VERIFY challenge, and events as state updates.

Deliveries are signed: ``SC-Signature`` is the hex HMAC-SHA256 of the raw body with the
application management token (AMT) as key; we compare in constant time and reject before
parsing. VERIFY is answered with HMAC(AMT, challenge).

The VERIFY responder is a signing oracle if left open: it returns HMAC(AMT, x) for any x,
the very signature an event body x would need (reference 6.3). So :class:`WebhookReceiver`
answers VERIFY only when it is signed correctly, or, unsigned (Smartcar may not sign it;
UNCONFIRMED), only while the operator has opened a verification window *and* only for a
challenge that looks like a token (letters, digits, ``-``/``_``; never JSON, which is what
an event body would be).

Both envelopes are read: the current one (``eventType``, ``data``, ``meta.version`` 4.0)
and the legacy v2.0 one (``eventName``, ``payload``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from smartcar_bridge.errors import SmartcarError
from smartcar_bridge.models import ChargeState
from smartcar_bridge.transport import parse_time
from smartcar_bridge.v3 import (
    CHARGING,
    CHARGING_STATUS,
    LOCATION,
    PLUGGED_IN,
    SOC,
    charge_state,
)

__all__ = [
    "Challenge",
    "StateUpdate",
    "VerifyPolicy",
    "WebhookEvent",
    "WebhookReceiver",
    "WebhookRejected",
    "parse_event",
    "sign",
    "state_update",
    "verify_signature",
]

VerifyPolicy = Literal["never", "window", "always"]
"""Answer unsigned VERIFY challenges never, only while a window is open, or always."""

_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{8,128}")
MAX_BODY_BYTES = 256 * 1024  # Smartcar sends at most 50 KB


class WebhookRejected(SmartcarError):
    """The delivery is refused; ``status`` is the HTTP status to answer with."""


def sign(key: str, message: bytes) -> str:
    """Lower-case hex HMAC-SHA256 with the AMT as key."""
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify_signature(key: str, body: bytes, signature: str | None) -> bool:
    """True when ``signature`` is the HMAC of exactly these bytes (constant time)."""
    if not signature:
        return False
    return hmac.compare_digest(sign(key, body), signature.strip().lower())


@dataclass(frozen=True)
class Challenge:
    """A VERIFY request; answer ``{"challenge": response}``."""

    challenge: str
    response: str


@dataclass(frozen=True)
class WebhookEvent:
    """A delivered event, either envelope.

    ``signals`` maps signal codes to their ``body`` (successful signals only); ``legacy``
    holds the v2.0 per-path bodies (``/battery``, ``/charge``) and event types.
    """

    event_id: str
    event_type: str
    vehicle_id: str | None
    delivery_id: str | None
    delivered_at: datetime | None
    user_id: str | None
    signals: dict[str, dict[str, Any]] = field(default_factory=dict)
    signal_times: dict[str, datetime] = field(default_factory=dict)
    triggers: tuple[str, ...] = ()
    errors: tuple[dict[str, Any], ...] = ()
    legacy: dict[str, Any] = field(default_factory=dict)
    payload: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class StateUpdate:
    """What an event says about the vehicle; None where it says nothing."""

    vehicle_id: str
    observed_at: datetime | None
    soc_fraction: float | None = None
    plugged_in: bool | None = None
    charging_state: ChargeState | None = None
    latitude: float | None = None
    longitude: float | None = None

    @property
    def empty(self) -> bool:
        return (
            self.soc_fraction is None
            and self.plugged_in is None
            and not self.charging_state
            and self.latitude is None
        )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _triggers(event: Mapping[str, Any], data: Mapping[str, Any]) -> tuple[str, ...]:
    # The docs disagree on where triggers live (UNCONFIRMED which is live): the event
    # reference has data.triggers[{code}], another page top-level triggers[{type, signal}].
    found: list[str] = []
    for trigger in data.get("triggers") or []:
        if isinstance(trigger, Mapping) and isinstance(trigger.get("code"), str):
            found.append(trigger["code"])
    for trigger in event.get("triggers") or []:
        if isinstance(trigger, Mapping):
            signal = _mapping(trigger.get("signal"))
            code = signal.get("code") or trigger.get("type")
            if isinstance(code, str):
                found.append(code)
    return tuple(found)


def _current(event: Mapping[str, Any], body: bytes) -> WebhookEvent:
    data, meta = _mapping(event.get("data")), _mapping(event.get("meta"))
    signals: dict[str, dict[str, Any]] = {}
    times: dict[str, datetime] = {}
    for signal in data.get("signals") or []:
        if not isinstance(signal, Mapping) or not isinstance(signal.get("code"), str):
            continue
        status = _mapping(signal.get("status")).get("value", "SUCCESS")
        if status == "SUCCESS" and isinstance(signal.get("body"), Mapping):
            signals[signal["code"]] = dict(signal["body"])
            when = parse_time(_mapping(signal.get("meta")).get("oemUpdatedAt"))
            if when is not None:
                times[signal["code"]] = when
    vehicle = event.get("vehicleId") or _mapping(data.get("vehicle")).get("id")
    return WebhookEvent(
        event_id=str(event.get("eventId") or _body_id(body)),
        event_type=str(event.get("eventType")),
        vehicle_id=vehicle if isinstance(vehicle, str) else None,
        delivery_id=_text(meta.get("deliveryId")),
        delivered_at=parse_time(meta.get("deliveredAt")),
        user_id=_text(_mapping(data.get("user")).get("id")),
        signals=signals,
        signal_times=times,
        triggers=_triggers(event, data),
        errors=tuple(dict(e) for e in data.get("errors") or [] if isinstance(e, Mapping)),
        payload=dict(event),
    )


def _legacy(event: Mapping[str, Any], body: bytes) -> list[WebhookEvent]:
    payload = _mapping(event.get("payload"))
    name = str(event.get("eventName"))
    if isinstance(payload.get("eventType"), str):  # event-based (CHARGING_STARTED, ...)
        return [
            WebhookEvent(
                event_id=str(payload.get("eventId") or _body_id(body)),
                event_type=name,
                vehicle_id=_text(payload.get("vehicleId")),
                delivery_id=None,
                delivered_at=parse_time(payload.get("eventTime")),
                user_id=None,
                legacy={"eventType": payload["eventType"]},
                payload=dict(event),
            )
        ]
    found = []
    for index, vehicle in enumerate(payload.get("vehicles") or []):
        if not isinstance(vehicle, Mapping):
            continue
        paths = {
            item["path"]: item.get("body")
            for item in vehicle.get("data") or []
            if isinstance(item, Mapping) and item.get("code") == 200 and "path" in item
        }
        found.append(
            WebhookEvent(
                event_id=str(vehicle.get("requestId") or f"{_body_id(body)}:{index}"),
                event_type=name,
                vehicle_id=_text(vehicle.get("vehicleId")),
                delivery_id=None,
                delivered_at=None,
                user_id=None,
                legacy=paths,
                payload=dict(event),
            )
        )
    return found


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _body_id(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _challenge_of(event: Mapping[str, Any]) -> str | None:
    if event.get("eventType") == "VERIFY":
        return _text(_mapping(event.get("data")).get("challenge"))
    if str(event.get("eventName")).lower() == "verify":
        return _text(_mapping(event.get("payload")).get("challenge"))
    return None


def parse_event(body: bytes) -> tuple[str | None, list[WebhookEvent]]:
    """``(challenge, [])`` for VERIFY, else ``(None, events)`` (a legacy delivery may
    carry several vehicles).

    Raises:
        WebhookRejected: not a JSON object (400).
    """
    try:
        event = json.loads(body)
    except ValueError:
        raise WebhookRejected("the body is not JSON", status=400) from None
    if not isinstance(event, Mapping):
        raise WebhookRejected("the body is not a JSON object", status=400)
    challenge = _challenge_of(event)
    if challenge is not None:
        return challenge, []
    if "eventType" in event:
        return None, [_current(event, body)]
    if "eventName" in event:
        return None, _legacy(event, body)
    raise WebhookRejected("not a Smartcar webhook envelope", status=400)


def state_update(event: WebhookEvent) -> StateUpdate | None:
    """The vehicle state an event reports (plugged in, charging state, SoC), if any."""
    if event.vehicle_id is None:
        return None
    soc = plugged = None
    state: ChargeState | None = None
    if event.signals:
        value = event.signals.get(SOC, {}).get("value")
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 100:
            soc = value / 100.0
        connected = event.signals.get(PLUGGED_IN, {}).get("value")
        plugged = connected if isinstance(connected, bool) else None
        if CHARGING_STATUS in event.signals or CHARGING in event.signals:
            state = charge_state(
                event.signals.get(CHARGING_STATUS, {}).get("value"),
                event.signals.get(CHARGING, {}).get("value"),
            )
    battery, charge = _mapping(event.legacy.get("/battery")), _mapping(event.legacy.get("/charge"))
    percent = battery.get("percentRemaining")
    if isinstance(percent, int | float) and not isinstance(percent, bool) and 0 <= percent <= 1:
        soc = float(percent)
    if isinstance(charge.get("isPluggedIn"), bool):
        plugged = charge["isPluggedIn"]
    if charge.get("state") in ("CHARGING", "FULLY_CHARGED", "NOT_CHARGING"):
        state = charge["state"]
    kind = event.legacy.get("eventType")
    if kind == "CHARGING_STARTED":
        state, plugged = "CHARGING", True
    elif kind == "CHARGING_STOPPED":
        state = "NOT_CHARGING"
    elif kind == "CHARGING_COMPLETED":
        state = "FULLY_CHARGED"
    observed = max(event.signal_times.values(), default=None) or event.delivered_at
    where = _position(event)
    update = StateUpdate(event.vehicle_id, observed, soc, plugged, state, *where)
    return None if update.empty else update


def _coordinate(value: Any, limit: float) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and -limit <= value <= limit:
        return float(value)
    return None


def _position(event: WebhookEvent) -> tuple[float | None, float | None]:
    """The car's position from the location signal (v3) or ``/location`` (legacy)."""
    body = _mapping((event.signals or {}).get(LOCATION))
    if isinstance(body.get("value"), Mapping):
        body = _mapping(body["value"])
    if not body:
        body = _mapping(event.legacy.get("/location"))
    lat = _coordinate(body.get("latitude"), 90)
    lon = _coordinate(body.get("longitude"), 180)
    return (lat, lon) if lat is not None and lon is not None else (None, None)


class WebhookReceiver:
    """Checks a delivery and says what it is.

    Args:
        secret: the application management token (signs deliveries).
        unsigned_verify: policy for VERIFY requests without a signature.
        clock: wall clock for the verification window.
    """

    def __init__(
        self,
        secret: str,
        *,
        unsigned_verify: VerifyPolicy = "window",
        clock: Callable[[], datetime],
    ) -> None:
        if not secret:
            raise ValueError("the webhook secret (application management token) is empty")
        self._secret = secret
        self._policy = unsigned_verify
        self._clock = clock
        self._window_until: datetime | None = None

    def open_verify_window(self, seconds: float = 900.0) -> datetime:
        """Accept unsigned VERIFY challenges until the returned time."""
        self._window_until = self._clock() + timedelta(seconds=seconds)
        return self._window_until

    def _window_open(self) -> bool:
        return self._window_until is not None and self._clock() < self._window_until

    def receive(self, body: bytes, signature: str | None) -> Challenge | list[WebhookEvent]:
        """A :class:`Challenge` to answer, or the events of a correctly signed delivery.

        Raises:
            WebhookRejected: with the status to answer: 401 bad or missing signature,
                403 unsigned VERIFY refused, 400 malformed, 413 too large.
        """
        if len(body) > MAX_BODY_BYTES:
            raise WebhookRejected("the body is too large", status=413)
        signed = verify_signature(self._secret, body, signature)
        if signature and not signed:
            raise WebhookRejected("invalid SC-Signature", status=401)
        challenge, events = parse_event(body)
        if challenge is None:
            if not signed:
                raise WebhookRejected("missing SC-Signature", status=401)
            return events
        if not signed:
            allowed = self._policy == "always" or (self._policy == "window" and self._window_open())
            if not allowed:
                raise WebhookRejected(
                    "unsigned VERIFY refused: open a verification window first", status=403
                )
            if not _CHALLENGE.fullmatch(challenge):
                raise WebhookRejected("the challenge does not look like a token", status=400)
        return Challenge(challenge, sign(self._secret, challenge.encode("utf-8")))
