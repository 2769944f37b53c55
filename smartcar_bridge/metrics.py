"""Counting Smartcar calls, because every call costs money.

Each request sent is counted in memory per endpoint and status, per vehicle and per
charging session (Prometheus counters, rendered by :meth:`CallMetrics.exposition` for a
``/metrics`` page), and handed to an optional :class:`CallLedger` that stores the figure
(``smartcar_bridge.store.PostgresCallLedger``).

The charging session a call belongs to is ambient: code working for a session wraps its
Smartcar calls in ``with metrics.session_scope(str(session_id)):``, so the client does not
need a session parameter on every method.
"""

from __future__ import annotations

import contextvars
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Protocol

__all__ = ["CallLedger", "CallMetrics", "current_session", "session_scope"]

_SESSION: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "smartcar_session", default=None
)


@contextmanager
def session_scope(session_ref: str | None) -> Iterator[None]:
    """Attribute the Smartcar calls made inside the block to a charging session."""
    token = _SESSION.set(session_ref)
    try:
        yield
    finally:
        _SESSION.reset(token)


def current_session() -> str | None:
    return _SESSION.get()


class CallLedger(Protocol):
    """Durable call counts (the stored figure behind the counters)."""

    async def record(self, vehicle_id: str | None, session_ref: str | None, calls: int) -> None:
        """Add ``calls`` to the vehicle's and the session's counts. Must not raise for
        storage trouble: a car command that was sent must not fail because of it."""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{name}="{_escape(value)}"' for name, value in pairs)
    return "{" + inner + "}" if inner else ""


class CallMetrics:
    """In-process counters of requests sent to Smartcar."""

    def __init__(self, ledger: CallLedger | None = None) -> None:
        self.ledger = ledger
        self.calls: Counter[tuple[str, str]] = Counter()
        """(endpoint, status) -> requests; status is the HTTP status or ``error``."""
        self.by_vehicle: Counter[str] = Counter()
        self.by_session: Counter[str] = Counter()
        self.limited: Counter[str] = Counter()
        """Calls our own limiter refused, by reason (nothing spent)."""

    async def record(
        self,
        *,
        vehicle_id: str | None,
        endpoint: str,
        status: int | None,
        cost: int = 1,
        persist: bool = True,
    ) -> None:
        """Count a request sent. ``persist=False`` keeps it out of the ledger (the token
        endpoint: not billed, and called while a token row is locked)."""
        session_ref = current_session()
        self.calls[(endpoint, "error" if status is None else str(status))] += cost
        if vehicle_id is not None:
            self.by_vehicle[vehicle_id] += cost
        if session_ref is not None:
            self.by_session[session_ref] += cost
        if self.ledger is not None and persist:
            await self.ledger.record(vehicle_id, session_ref, cost)

    def record_limited(self, reason: str) -> None:
        self.limited[reason] += 1

    def exposition(self) -> str:
        """The counters in the Prometheus text format (0.0.4)."""
        lines = [
            "# HELP smartcar_api_requests_total Requests sent to Smartcar (each batch path"
            " counts), by endpoint and HTTP status.",
            "# TYPE smartcar_api_requests_total counter",
        ]
        lines += [
            f"smartcar_api_requests_total{_labels((('endpoint', e), ('status', s)))} {n}"
            for (e, s), n in sorted(self.calls.items())
        ]
        lines += [
            "# HELP smartcar_vehicle_requests_total Requests sent to Smartcar per vehicle.",
            "# TYPE smartcar_vehicle_requests_total counter",
        ]
        lines += [
            f"smartcar_vehicle_requests_total{_labels((('vehicle', v),))} {n}"
            for v, n in sorted(self.by_vehicle.items())
        ]
        lines += [
            "# HELP smartcar_session_requests_total Requests sent to Smartcar per charging"
            " session.",
            "# TYPE smartcar_session_requests_total counter",
        ]
        lines += [
            f"smartcar_session_requests_total{_labels((('session', s),))} {n}"
            for s, n in sorted(self.by_session.items())
        ]
        lines += [
            "# HELP smartcar_requests_limited_total Calls our limiter refused before sending.",
            "# TYPE smartcar_requests_limited_total counter",
        ]
        lines += [
            f"smartcar_requests_limited_total{_labels((('reason', r),))} {n}"
            for r, n in sorted(self.limited.items())
        ]
        return "\n".join(lines) + "\n"
