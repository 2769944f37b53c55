"""Reservations of the simulated charger, the same in both versions.

ReserveNow on a connector (1.6) or EVSE (2.0.1) is Accepted when it is Available (or
already holds the same reservation id, which is replaced), Occupied while a transaction
or session has it or another reservation holds it, Faulted when its status is Faulted,
Unavailable when it is inoperative, and Rejected for an unknown connector or connector 0
(ReserveConnectorZeroSupported is false). An accepted reservation sets the status to
Reserved; only the reserving id tag (or one of its parent id tag) may start there, and
the start carries the reservationId. CancelReservation is Accepted for a reservation it
holds (status back to Available) and Rejected otherwise. At its expiry (wall-clock time,
not scaled) a reservation is dropped and the status is Available again; the 2.0.1
station also sends ReservationStatusUpdate (Expired).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import abstractmethod
from datetime import datetime

from simulators.charger.base import BaseCharger
from simulators.charger.model import ChargerOffline, ConnectorState, Reservation, utc_now
from simulators.charger.routing import FollowUp

logger = logging.getLogger("simulators.charger")


class Reservations(BaseCharger):
    """ReserveNow / CancelReservation decisions and reservation expiry."""

    @abstractmethod
    async def status(self, connector_id: int, status: str, /) -> None:
        """Record and send a StatusNotification."""

    @abstractmethod
    def _idle_status(self, conn: ConnectorState) -> str:
        """Available or Unavailable: the status of a connector nobody uses."""

    def _station_available(self) -> bool:
        return True

    def reservation_of(self, connector_id: int) -> Reservation | None:
        """The reservation a connector (1.6) / EVSE (2.0.1) holds, if any."""
        conn = self.connectors.get(connector_id)
        return None if conn is None else conn.reservation

    def _reservation_answer(
        self, conn: ConnectorState | None, reservation_id: int, connector_zero: bool = False
    ) -> str:
        if conn is None or connector_zero:
            return "Rejected"
        if not conn.operative or not self._station_available():
            return "Unavailable"
        if conn.status == "Faulted":
            return "Faulted"
        held = conn.reservation
        if conn.busy or not conn.idle.is_set() or conn.transaction_id is not None:
            return "Occupied"
        if held is not None and held.reservation_id != reservation_id:
            return "Occupied"
        return "Accepted"

    def _reserve(
        self,
        conn: ConnectorState | None,
        reservation: Reservation,
        *,
        connector_zero: bool = False,
    ) -> tuple[str, FollowUp | None]:
        """Decide a ReserveNow; on Accepted hold the reservation at once (so a second
        one is refused) and return the follow-up that reports it and waits for expiry."""
        status = self._reservation_answer(conn, reservation.reservation_id, connector_zero)
        if status != "Accepted" or conn is None:
            return status, None
        released: list[ConnectorState] = []
        for other in self.connectors.values():  # the same id elsewhere is replaced
            held = other.reservation
            if other is not conn and held and held.reservation_id == reservation.reservation_id:
                other.reservation = None
                released.append(other)
        conn.reservation = reservation
        conn.status = "Reserved"

        def follow_up() -> None:
            self._spawn(self._reserved(conn, reservation, released))

        return status, follow_up

    async def _reserved(
        self, conn: ConnectorState, reservation: Reservation, released: list[ConnectorState]
    ) -> None:
        try:
            for other in released:
                await self.status(other.connector_id, self._idle_status(other))
            await self.status(conn.connector_id, "Reserved")
        except ChargerOffline:
            pass
        delay = (reservation.expiry - utc_now()).total_seconds()
        await asyncio.sleep(max(delay, 0))
        if conn.reservation is not reservation:
            return  # used, cancelled or replaced
        conn.reservation = None
        logger.info("%s: reservation %s expired", self._name, reservation.reservation_id)
        try:
            if conn.idle.is_set() and not conn.busy:
                await self.status(conn.connector_id, self._idle_status(conn))
            await self._reservation_expired(reservation)
        except ChargerOffline:
            pass

    async def _reservation_expired(self, reservation: Reservation) -> None:
        """What the charger tells the CSMS when a reservation expires (1.6: nothing)."""

    def _cancel_reservation(self, reservation_id: int) -> tuple[str, FollowUp | None]:
        holders = [
            conn
            for conn in self.connectors.values()
            if conn.reservation is not None and conn.reservation.reservation_id == reservation_id
        ]
        if not holders:
            return "Rejected", None
        conn = holders[0]
        conn.reservation = None
        conn.status = self._idle_status(conn)

        def follow_up() -> None:
            self._spawn(self._send_status(conn))

        return "Accepted", follow_up

    async def _send_status(self, conn: ConnectorState) -> None:
        with contextlib.suppress(ChargerOffline):
            await self.status(conn.connector_id, conn.status)

    def _claim_reservation(self, conn: ConnectorState, id_tag: str) -> tuple[bool, int | None]:
        """Whether ``id_tag`` may start on ``conn``, and the reservation id it uses (the
        reservation is consumed)."""
        held = conn.reservation
        if held is None:
            return True, None
        if not held.admits(id_tag):
            return False, None
        conn.reservation = None
        return True, held.reservation_id


def parse_expiry(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
