"""Typed ``@on`` / ``@after`` decorators and the follow-up bookkeeping both versions share.

An ``@on`` handler decides the answer from the charger's state and returns at once;
anything that needs further messages (a session, a status change, a triggered message)
is a follow-up, run by the matching ``@after`` hook once the answer has been sent. A
handler never awaits a CALL of its own: the receive loop is waiting for it to return.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from ocpp.routing import after, on

_F = TypeVar("_F", bound=Callable[..., Any])
FollowUp = Callable[[], None]


def on_action(action: str) -> Callable[[_F], _F]:
    return cast(Callable[[_F], _F], on(action))


def after_action(action: str) -> Callable[[_F], _F]:
    return cast(Callable[[_F], _F], after(action))


class FollowUps:
    """Mixin for a ChargePoint: remember a follow-up per CALL id until its answer is sent.

    The ChargePoint sets ``self._follow_ups = {}`` in its ``__init__``.
    """

    _follow_ups: dict[str, FollowUp]

    def _answer(self, unique_id: str, result: Any, follow_up: FollowUp | None = None) -> Any:
        if follow_up is not None:
            self._follow_ups[unique_id] = follow_up
        return result

    def _follow_up(self, unique_id: str) -> None:
        follow_up = self._follow_ups.pop(unique_id, None)
        if follow_up is not None:
            follow_up()
