"""Reservations: what the central system records around ReserveNow and CancelReservation,
and the charger's own reports of them (2.0.1 ReservationStatusUpdate).

A reserve-now is stored as ``requested`` before it is sent (with a reservation id from
the ``reservation_id`` sequence when the operator gave none) and then takes the charger's
answer (accepted, rejected, faulted, occupied, unavailable); a timeout or CALLERROR leaves
it ``requested``. An accepted cancel-reservation marks it ``cancelled``; a cancel for an
id we do not know is still sent and answered. A transaction started on a reservation
(1.6 StartTransaction.reservationId, 2.0.1 TransactionEvent.reservationId) marks it
``used`` (see the session services). Expiry is computed on read (see
:mod:`csms.store.reservations`).
"""

from __future__ import annotations

from typing import Any

import asyncpg

from csms import command_models as m
from csms.commit import Committer
from csms.logs import get_logger
from csms.store import id_tokens
from csms.store import reservations as store

__all__ = [
    "ReservationService",
    "assign_id",
    "id_token_type",
    "record_answer",
    "record_request",
]

log = get_logger(__name__)

OPEN = ("requested", "accepted")
# ReserveNow answers (both versions) -> stored status.
_ANSWERS = {
    "Accepted": "accepted",
    "Faulted": "faulted",
    "Occupied": "occupied",
    "Rejected": "rejected",
    "Unavailable": "unavailable",
}
# 2.0.1 ReservationStatusUpdate -> stored status.
_UPDATES = {"Expired": "expired", "Removed": "cancelled"}


async def assign_id(pool: asyncpg.Pool, body: m.CommandBody) -> m.CommandBody:
    """A reserve-now without a reservation id gets the next one of the sequence."""
    if not isinstance(body, m.ReserveNow) or body.reservation_id is not None:
        return body
    async with pool.acquire() as conn:
        return body.model_copy(update={"reservation_id": await store.next_id(conn)})


async def record_request(
    pool: asyncpg.Pool, charge_point_id: str, ocpp_version: str, body: m.CommandBody
) -> None:
    """A reserve-now about to be sent (its request already built, so valid): recorded."""
    if not isinstance(body, m.ReserveNow):
        return
    assert body.reservation_id is not None
    async with pool.acquire() as conn:
        if ocpp_version == "1.6":
            target = body.connector_id if body.connector_id is not None else body.evse_id
            evse_id, connector_id = target, target
        else:
            evse_id = body.evse_id if body.evse_id is not None else body.connector_id
            connector_id = None
        await store.record_request(
            conn,
            charge_point_id=charge_point_id,
            reservation_id=body.reservation_id,
            protocol="ocpp1.6" if ocpp_version == "1.6" else "ocpp2.0.1",
            evse_id=evse_id,
            connector_id=connector_id,
            id_token=body.id_token,
            parent_id_token=body.parent_id_tag,
            expiry_date=body.expiry_date,
        )


async def record_answer(
    pool: asyncpg.Pool, charge_point_id: str, body: m.CommandBody, result: dict[str, Any]
) -> dict[str, Any]:
    """After the charger answered: store what it said; the reply to give the operator."""
    status = str(result.get("status", ""))
    if isinstance(body, m.ReserveNow):
        assert body.reservation_id is not None
        async with pool.acquire() as conn:
            await store.set_status(
                conn,
                charge_point_id,
                body.reservation_id,
                _ANSWERS.get(status, "rejected"),
                only_from=("requested",),
            )
        log.info("reservation_answered", reservation_id=body.reservation_id, status=status)
        # The charger's reply, plus the id (it may have been generated here).
        return {**result, "reservation_id": body.reservation_id}
    if isinstance(body, m.CancelReservation) and status == "Accepted":
        async with pool.acquire() as conn:
            await store.set_status(
                conn, charge_point_id, body.reservation_id, "cancelled", only_from=OPEN
            )
    return result


async def id_token_type(pool: asyncpg.Pool, id_token: str) -> str | None:
    """The type of a known id token (for 2.0.1 IdTokenType), None when unknown."""
    async with pool.acquire() as conn:
        row = await id_tokens.get(conn, id_token)
    return None if row is None else str(row["type"])


class ReservationService:
    """What chargers report about reservations by themselves."""

    def __init__(self, commit: Committer) -> None:
        self._commit = commit

    async def status_update(self, charge_point_id: str, reservation_id: int, update: str) -> None:
        """2.0.1 ReservationStatusUpdate: Expired or Removed (stored as cancelled)."""
        status = _UPDATES.get(update)

        async def work(conn: asyncpg.Connection) -> bool:
            if status is None:
                return False
            return await store.set_status(
                conn, charge_point_id, reservation_id, status, only_from=OPEN
            )

        changed = await self._commit.run(work)
        log.info(
            "reservation_status_update",
            reservation_id=reservation_id,
            update=update,
            changed=changed,
        )
