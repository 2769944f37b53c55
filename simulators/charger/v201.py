"""OCPP 2.0.1 simulated charging station: sessions, and what it does after answering."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from websockets.asyncio.client import ClientConnection

from simulators.charger.charging import charge
from simulators.charger.firmware import FirmwareUpdates
from simulators.charger.model import (
    ChargerOffline,
    ConnectorState,
    Reservation,
    SessionControl,
    SessionResult,
)
from simulators.charger.reservations import Reservations
from simulators.charger.routing import FollowUp
from simulators.charger.smart_charging import SmartCharging
from simulators.charger.v201_handlers import ChargePoint201
from simulators.charger.v201_messages import RFID
from simulators.charger.v201_transactions import Transaction201, V201Transactions
from simulators.charger.v201_variables import (
    AUTH_ENABLED,
    AUTHORIZE_REMOTE_START,
    PLUG_POINTS,
    TX_START_POINT,
    TX_STOP_POINT,
    base_report,
    members,
)

logger = logging.getLogger("simulators.charger")

# stoppedReason -> the triggerReason of the Ended event it goes with.
STOP_TRIGGERS = {
    "Remote": "RemoteStop",
    "ImmediateReset": "ResetCommand",
    "DeAuthorized": "Deauthorized",
    "Local": "StopAuthorized",
    "EVDisconnected": "EVCommunicationLost",
    "EnergyLimitReached": "EnergyLimitReached",
    "TimeLimitReached": "TimeLimitReached",
}
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


class SimulatedCharger201(V201Transactions, Reservations, FirmwareUpdates, SmartCharging):
    """An OCPP 2.0.1 charging station: boots, reports status, charges, answers the CSMS."""

    upload_failed = "UploadFailure"

    def _make_charge_point(self, ws: ClientConnection) -> Any:
        return ChargePoint201(self, ws)

    # -- sessions -------------------------------------------------------------------------

    async def run_session(
        self,
        evse_id: int,
        id_token: str,
        *,
        token_type: str = RFID,
        duration_s: float | None = None,
        energy_wh: int | None = None,
        meter_samples: int | None = None,
        authorize: bool = True,
        tx_start_point: str | None = None,
    ) -> SessionResult:
        """Plug in, authorize, charge until a limit (or a CSMS stop), stop, unplug.

        The transaction starts at plug-in when the TxStartPoint (``tx_start_point``
        overrides TxCtrlr.TxStartPoint) names EVConnected or ParkingBayOccupancy, else
        once authorized. ``token_type="NoAuthorization"`` (``id_token=""``) is a free
        start: no Authorize. ``duration_s`` is simulated seconds; with no limit the
        session runs until RequestStopTransaction or Reset ends it. On an EVSE reserved
        for another id token nothing is sent and the result's status is ``Reserved``.
        """
        conn = self._evse(evse_id)
        if not self._free(conn):
            raise RuntimeError(f"EVSE {evse_id} is busy or unavailable")
        held = conn.reservation
        if held is not None and not held.admits(id_token):
            wh = conn.meter.register_wh
            return SessionResult(None, "Reserved", wh, wh, 0, 0)
        conn.claim()
        return await self._session(
            conn,
            {"idToken": id_token, "type": token_type},
            authorize=authorize and self._flag(AUTH_ENABLED),
            start_points=set(members(tx_start_point or self.variables[TX_START_POINT].value)),
            duration_s=duration_s,
            energy_wh=energy_wh,
            meter_samples=meter_samples,
        )

    async def _session(
        self,
        conn: ConnectorState,
        token: dict[str, str],
        *,
        authorize: bool,
        start_points: set[str],
        duration_s: float | None,
        energy_wh: int | None,
        meter_samples: int | None,
        remote_start_id: int | None = None,
    ) -> SessionResult:
        evse_id = conn.connector_id
        control = SessionControl()
        conn.session = control
        free = token["type"] == "NoAuthorization"
        auth_trigger = "RemoteStart" if remote_start_id is not None else "Authorized"
        tx: Transaction201 | None = None
        status = "Accepted"
        begin = "Transaction.Begin"
        try:
            await self.status(evse_id, "Occupied")  # the cable is plugged in
            if start_points & PLUG_POINTS:
                tx = self._open_transaction(evse_id, id_token=token if free else None)
                await self._tx_event(
                    tx,
                    "Started",
                    "EVDetected" if "ParkingBayOccupancy" in start_points else "CablePluggedIn",
                    context=begin,
                    charging_state="EVConnected",
                    id_token=token if free else None,
                )
            if authorize and not free:
                try:
                    status = await self.authorize(token["idToken"], token["type"])
                except ChargerOffline:
                    await self._unplug(conn, tx)
                    raise
                if status != "Accepted":
                    return await self._unplug(conn, tx, status)
            if tx is None:
                if control.stop_requested.is_set():  # reset before it started
                    return await self._unplug(conn, None, status)
                _, reservation_id = self._claim_reservation(conn, token["idToken"])
                tx = self._open_transaction(evse_id, id_token=token)
                await self._tx_event(
                    tx,
                    "Started",
                    auth_trigger,
                    context=begin,
                    charging_state="EVConnected",
                    id_token=token,
                    remote_start_id=remote_start_id,
                    reservation_id=reservation_id,
                )
            elif not free:
                _, reservation_id = self._claim_reservation(conn, token["idToken"])
                tx.id_token = token
                conn.id_tag = token["idToken"]
                await self._tx_event(
                    tx,
                    "Updated",
                    auth_trigger,
                    id_token=token,
                    remote_start_id=remote_start_id,
                    reservation_id=reservation_id,
                )
            samples = 0
            if not control.stop_requested.is_set():
                conn.charging = True
                await self._tx_event(
                    tx,
                    "Updated",
                    "ChargingStateChanged",
                    charging_state="Charging",
                    number_of_phases_used=self.config.phases,
                )
                samples = await self._charge(
                    conn, tx, control, duration_s, energy_wh, meter_samples
                )
            reason = control.stop_reason
            if reason is None:
                trigger, reason = self._local_stop()
            else:
                trigger = STOP_TRIGGERS.get(reason, "AbnormalCondition")
            await self._end(tx, trigger, reason)
            await self.status(evse_id, self._idle_status(conn))
            meter_stop = conn.meter.register_wh
            return SessionResult(
                tx.transaction_id,
                tx.token_status or status,
                tx.meter_start,
                meter_stop,
                meter_stop - tx.meter_start,
                samples,
            )
        finally:
            conn.session = None
            conn.release()

    async def _charge(
        self,
        conn: ConnectorState,
        tx: Transaction201,
        control: SessionControl,
        duration_s: float | None,
        energy_wh: int | None,
        meter_samples: int | None,
    ) -> int:
        """Charge; a TransactionEvent Updated (MeterValuePeriodic) every interval."""

        async def sample() -> None:
            await self._tx_event(tx, "Updated", "MeterValuePeriodic", context="Sample.Periodic")

        return await charge(
            conn,
            control,
            power_w=self.config.power_w,
            time_scale=self.time_scale,
            interval_s=lambda: self.meter_interval_s,
            sample=sample,
            duration_s=duration_s,
            energy_wh=energy_wh,
            meter_samples=meter_samples,
        )

    def _local_stop(self) -> tuple[str, str]:
        """(triggerReason, stoppedReason) of a session that ends by itself (TxStopPoint)."""
        points = set(members(self.variables[TX_STOP_POINT].value))
        if points - PLUG_POINTS:  # Authorized, PowerPathClosed, ...: the driver stops it
            return "StopAuthorized", "Local"
        if "EVConnected" in points:  # the driver unplugs
            return "EVCommunicationLost", "EVDisconnected"
        return "EVDeparted", "EVDisconnected"

    async def _end(self, tx: Transaction201, trigger: str, reason: str) -> None:
        self._close_transaction(tx.evse_id)
        await self._tx_event(
            tx,
            "Ended",
            trigger,
            context="Transaction.End",
            charging_state="Idle" if reason == "EVDisconnected" else "EVConnected",
            stopped_reason=reason,
            id_token=tx.id_token if trigger == "StopAuthorized" else None,
        )

    async def _unplug(
        self, conn: ConnectorState, tx: Transaction201 | None, status: str = "Accepted"
    ) -> SessionResult:
        """End a session that never charged: the driver unplugs."""
        if tx is not None:
            await self._end(tx, "EVCommunicationLost", "EVDisconnected")
        await self.status(conn.connector_id, self._idle_status(conn))
        wh = conn.meter.register_wh
        return SessionResult(None if tx is None else tx.transaction_id, status, wh, wh, 0, 0)

    def _free(self, conn: ConnectorState) -> bool:
        return conn.operative and not conn.busy and conn.idle.is_set()

    def _idle_status(self, conn: ConnectorState) -> str:
        if conn.pending_operative is not None and conn.idle.is_set():
            conn.operative, conn.pending_operative = conn.pending_operative, None
        return "Available" if conn.operative else "Unavailable"

    # -- follow-ups of CSMS calls (started by ChargePoint201 after it answered) ----------

    def _pick_evse(self, evse_id: int | None, id_token: str) -> ConnectorState | None:
        if not self._station_operative:
            return None
        if evse_id is not None:
            conn = self.connectors.get(evse_id)
            candidates = [] if conn is None else [conn]
        else:
            candidates = list(self.connectors.values())
        for conn in candidates:
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
