"""OCPP 2.0.1 simulated charging station: sessions, and what it does after answering."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from websockets.asyncio.client import ClientConnection

from simulators.charger.firmware import FirmwareUpdates
from simulators.charger.model import (
    ChargerOffline,
    ConnectorState,
    Reservation,
)
from simulators.charger.reservations import Reservations
from simulators.charger.routing import FollowUp
from simulators.charger.smart_charging import SmartCharging
from simulators.charger.v201_handlers import ChargePoint201
from simulators.charger.v201_sessions import STOP_TRIGGERS, V201Sessions
from simulators.charger.v201_variables import (
    AUTH_ENABLED,
    AUTHORIZE_REMOTE_START,
    TX_START_POINT,
    base_report,
    members,
)

logger = logging.getLogger("simulators.charger")

TRIGGERABLE = frozenset(
    {
        "BootNotification",
        "Heartbeat",
        "StatusNotification",
        "MeterValues",
        "TransactionEvent",
        "FirmwareStatusNotification",
        "LogStatusNotification",
    }
)


class SimulatedCharger201(V201Sessions, Reservations, FirmwareUpdates, SmartCharging):
    """An OCPP 2.0.1 charging station: boots, reports status, charges, answers the CSMS."""

    upload_failed = "UploadFailure"

    def _make_charge_point(self, ws: ClientConnection) -> Any:
        return ChargePoint201(self, ws)

    # -- follow-ups of CSMS calls (started by ChargePoint201 after it answered) ----------

    def _pick_evse(self, evse_id: int | None, id_token: str) -> ConnectorState | None:
        if not self._station_operative:
            return None
        if evse_id is not None:
            conn = self.connectors.get(evse_id)
            candidates = [] if conn is None else [conn]
        else:
            candidates = list(self.connectors.values())
        candidates.sort(key=lambda c: not c.waiting_for_start)
        for conn in candidates:
            held = conn.reservation
            if conn.waiting_for_start and (held is None or held.admits(id_token)):
                return conn  # a car plugged in and waiting comes first
            if not self._free(conn):
                continue
            if conn.status == "Available" and conn.reservation is None:
                return conn
            held = conn.reservation
            if conn.status == "Reserved" and held is not None and held.admits(id_token):
                return conn
        return None

    # -- reservations (decisions in simulators.charger.reservations) ---------------------

    def _station_available(self) -> bool:
        return self._station_operative

    def _reservable_evse(self, evse_id: int | None) -> ConnectorState | None:
        """The EVSE a ReserveNow names; without one, the first Available EVSE (or the
        first EVSE, whose answer then says why none could be reserved)."""
        if evse_id is not None:
            return self.connectors.get(evse_id)
        for conn in self.connectors.values():
            if conn.status == "Available" and conn.reservation is None and self._free(conn):
                return conn
        return next(iter(self.connectors.values()))

    async def _reservation_expired(self, reservation: Reservation) -> None:
        payload = {
            "reservationId": reservation.reservation_id,
            "reservationUpdateStatus": "Expired",
        }
        await self._send("ReservationStatusUpdate", payload)

    def _start_remote_session(
        self, conn: ConnectorState, token: dict[str, str], remote_start_id: int
    ) -> None:
        if conn.plugged:
            self._start_plugged_session(
                conn,
                token,
                authorize=self._flag(AUTHORIZE_REMOTE_START) and self._flag(AUTH_ENABLED),
                remote_start_id=remote_start_id,
            )
            return
        session = self._session(
            conn,
            token,
            authorize=self._flag(AUTHORIZE_REMOTE_START) and self._flag(AUTH_ENABLED),
            start_points=set(members(self.variables[TX_START_POINT].value)),
            duration_s=self.config.remote_session_max_s,
            energy_wh=None,
            meter_samples=None,
            remote_start_id=remote_start_id,
        )
        if self._spawn(session) is None:
            conn.release()

    def _evse_of(self, transaction_id: str) -> ConnectorState | None:
        for evse_id, tx in self.transactions.items():
            if tx.transaction_id == transaction_id:
                return self.connectors[evse_id]
        return None

    def _request_stop(self, conn: ConnectorState, reason: str) -> None:
        if conn.session is not None:
            conn.session.request_stop(reason)
        elif conn.connector_id in self.transactions:
            self._spawn(self._stop_unowned(conn, reason))

    async def _stop_unowned(self, conn: ConnectorState, reason: str) -> None:
        """Stop a transaction started through the API (no session loop owns it)."""
        tx = self.transactions.get(conn.connector_id)
        if tx is None:
            return
        await self._end(tx, STOP_TRIGGERS.get(reason, "AbnormalCondition"), reason)
        if not conn.plugged:
            await self.status(conn.connector_id, self._idle_status(conn))

    def _plan_reset(self, kind: str, evse_id: int | None) -> tuple[str, FollowUp | None]:
        if evse_id is not None and evse_id not in self.connectors:
            return "Rejected", None
        targets = self._targets(evse_id)
        if kind == "OnIdle" and any(not c.idle.is_set() or c.busy for c in targets):
            return "Scheduled", lambda: self._spawn_task(self._reset_when_idle(evse_id))
        return "Accepted", lambda: self._spawn_task(self._reset(evse_id))

    def _spawn_task(self, coro: Coroutine[Any, Any, Any]) -> None:
        """``_spawn`` as a follow-up (which returns nothing)."""
        self._spawn(coro)

    def _targets(self, evse_id: int | None) -> list[ConnectorState]:
        return list(self.connectors.values()) if evse_id is None else [self.connectors[evse_id]]

    async def _reset_when_idle(self, evse_id: int | None) -> None:
        await asyncio.gather(*(conn.wait_quiet() for conn in self._targets(evse_id)))
        await self._reset(evse_id)

    async def _reset(self, evse_id: int | None) -> None:
        """Immediate reset: end transactions, then reboot (the station) or not (an EVSE)."""
        targets = self._targets(evse_id)
        for conn in targets:
            if conn.session is not None:
                conn.session.request_stop("ImmediateReset")
            else:
                await self._stop_unowned(conn, "ImmediateReset")
        quiet = asyncio.gather(*(conn.wait_quiet() for conn in targets))
        try:
            await asyncio.wait_for(quiet, self.config.call_timeout_s)
        except TimeoutError:
            logger.warning("%s: reset without a clean stop", self._name)
        if evse_id is not None:
            return
        await self.disconnect()
        self.boot_reason = "RemoteReset"
        await self._reconnect_loop(self.config.reconnect_delay_s)

    def _change_availability(self, evse_id: int | None, operative: bool) -> tuple[str, list[int]]:
        """Apply ChangeAvailability now where possible; (status, EVSEs whose status changed)."""
        if evse_id is not None and evse_id not in self.connectors:
            return "Rejected", []
        if evse_id is None:
            self._station_operative = operative
        scheduled = False
        changed: list[int] = []
        for conn in self._targets(evse_id):
            if conn.busy or not conn.idle.is_set():
                conn.pending_operative = None if operative else False
                scheduled = scheduled or not operative
            elif conn.operative != operative:
                conn.operative = operative
                conn.status = "Available" if operative else "Unavailable"
                changed.append(conn.connector_id)
        return ("Scheduled" if scheduled else "Accepted"), changed

    def _spawn_statuses(self, evse_ids: list[int]) -> None:
        async def send() -> None:
            for evse_id in evse_ids:
                await self.status(evse_id, self._current_status(evse_id))

        self._spawn(send())

    def _plan_trigger(self, message: str, evse_id: int | None) -> tuple[str, FollowUp | None]:
        if evse_id is not None and evse_id not in self.connectors:
            return "Rejected", None
        if message not in TRIGGERABLE:
            return "NotImplemented", None
        if message == "BootNotification" and self.boot_status == "Accepted":
            return "Rejected", None  # F06.FR.17
        if message == "TransactionEvent" and not any(
            c.connector_id in self.transactions for c in self._targets(evse_id)
        ):
            return "Rejected", None
        return "Accepted", lambda: self._spawn_task(self._send_triggered(message, evse_id))

    async def _send_triggered(self, message: str, evse_id: int | None) -> None:
        try:
            if message == "BootNotification":
                await self.boot_notification("Triggered")
            elif message == "Heartbeat":
                await self.heartbeat()
            elif message == "FirmwareStatusNotification":
                await self.firmware_status("Idle")
            elif message == "LogStatusNotification":
                await self.log_status("Idle")
            for conn in self._targets(evse_id):
                if message == "StatusNotification":
                    await self.status(conn.connector_id, self._current_status(conn.connector_id))
                elif message == "MeterValues":
                    await self.meter_values(conn.connector_id, context="Trigger")
                elif message == "TransactionEvent" and conn.connector_id in self.transactions:
                    tx = self.transactions[conn.connector_id]
                    await self._tx_event(tx, "Updated", "Trigger", context="Trigger")
        except ChargerOffline:
            logger.info("%s: triggered %s not delivered", self._name, message)

    async def _send_report(self, request_id: int, report_base: str) -> None:
        statuses = {evse_id: conn.status for evse_id, conn in self.connectors.items()}
        items = base_report(self.variables, report_base, self._station_operative, statuses)
        try:
            await self.notify_report(request_id, items)
        except ChargerOffline:
            logger.info("%s: report %s not delivered", self._name, request_id)

    async def _send_profile_reports(
        self, request_id: int, reports: list[tuple[int, list[dict[str, Any]]]]
    ) -> None:
        try:
            for index, (evse_id, profiles) in enumerate(reports):
                await self.report_charging_profiles(
                    request_id, evse_id, profiles, tbc=index < len(reports) - 1
                )
        except ChargerOffline:
            logger.info("%s: charging profiles report %s not delivered", self._name, request_id)

    # -- firmware and logs ----------------------------------------------------------------

    async def _report_firmware(self, status: str, request_id: int | None, /) -> None:
        await self.firmware_status(status, request_id)

    async def _report_upload(self, status: str, request_id: int | None, /) -> None:
        await self.log_status(status, request_id)
