"""OCPP 1.6J simulated charger: sessions, and what it does after answering the CSMS."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from ocpp.exceptions import OCPPError
from ocpp.v16 import call
from websockets.asyncio.client import ClientConnection

from simulators.charger.charging import charge
from simulators.charger.firmware import FirmwareUpdates
from simulators.charger.model import (
    ChargerOffline,
    ConnectorState,
    SessionControl,
    SessionResult,
    utc_now,
)
from simulators.charger.reservations import Reservations
from simulators.charger.smart_charging import SmartCharging
from simulators.charger.v16_handlers import ChargePoint16
from simulators.charger.v16_messages import V16Messages

logger = logging.getLogger("simulators.charger")


class SimulatedCharger(V16Messages, Reservations, FirmwareUpdates, SmartCharging):
    """An OCPP 1.6J charge point: boots, reports status, charges, answers the CSMS."""

    def _make_charge_point(self, ws: ClientConnection) -> Any:
        return ChargePoint16(self, ws)

    # -- sessions -------------------------------------------------------------------------

    async def run_session(
        self,
        connector_id: int,
        id_tag: str,
        *,
        duration_s: float | None = None,
        energy_wh: int | None = None,
        meter_samples: int | None = None,
        authorize: bool = True,
    ) -> SessionResult:
        """Plug in, authorize, charge until a limit (or a CSMS stop), stop, unplug.

        ``duration_s`` is simulated seconds; with no limit the session runs until
        RemoteStopTransaction, Reset or UnlockConnector ends it. On a connector reserved
        for another id tag nothing is sent and the result's status is ``Reserved``.
        """
        conn = self._connector(connector_id)
        if not conn.free:
            raise RuntimeError(f"connector {connector_id} is busy or unavailable")
        held = conn.reservation
        if held is not None and not held.admits(id_tag):
            wh = conn.meter.register_wh
            return SessionResult(None, "Reserved", wh, wh, 0, 0)
        conn.claim()
        return await self._session(conn, id_tag, authorize, duration_s, energy_wh, meter_samples)

    async def _session(
        self,
        conn: ConnectorState,
        id_tag: str,
        authorize: bool,
        duration_s: float | None,
        energy_wh: int | None,
        meter_samples: int | None,
    ) -> SessionResult:
        cid = conn.connector_id
        control = SessionControl()
        conn.session = control
        try:
            await self.status(cid, "Preparing")
            tag_status = "Accepted"
            if authorize:
                tag_status = await self.authorize(id_tag)
                if tag_status != "Accepted":
                    await self.status(cid, self._idle_status(conn))
                    wh = conn.meter.register_wh
                    return SessionResult(None, tag_status, wh, wh, 0, 0)
            if control.stop_requested.is_set():  # unlocked or reset before it started
                await self.status(cid, self._idle_status(conn))
                wh = conn.meter.register_wh
                return SessionResult(None, tag_status, wh, wh, 0, 0)
            _, reservation_id = self._claim_reservation(conn, id_tag)
            start = await self.start_transaction(cid, id_tag, reservation_id=reservation_id)
            samples = 0
            refused = start.status not in ("Accepted", "Queued")
            if refused and self.configuration["StopTransactionOnInvalidId"] == "true":
                control.request_stop("DeAuthorized")
            else:
                await self.status(cid, "Charging")
                samples = await self._charge(
                    conn, start.transaction_id, control, duration_s, energy_wh, meter_samples
                )
            meter_start = conn.meter_start if conn.meter_start is not None else 0
            meter_stop = conn.meter.register_wh
            when = utc_now()
            await self.stop_transaction(
                start.transaction_id,
                meter_stop=meter_stop,
                reason=control.stop_reason or "Local",
                timestamp=when,
                transaction_data=self._transaction_data(conn, meter_stop, when),
            )
            await self.status(cid, "Finishing")
            await self.status(cid, self._idle_status(conn))
            return SessionResult(
                self._resolve(start.transaction_id),
                start.status,
                meter_start,
                meter_stop,
                meter_stop - meter_start,
                samples,
            )
        finally:
            conn.session = None
            conn.release()

    async def _charge(
        self,
        conn: ConnectorState,
        transaction_id: int,
        control: SessionControl,
        duration_s: float | None,
        energy_wh: int | None,
        meter_samples: int | None,
    ) -> int:
        """Charge and send MeterValues every interval until a limit or a stop request."""

        async def sample() -> None:
            try:
                await self.meter_values(conn.connector_id, transaction_id)
            except OCPPError as exc:  # a real charger keeps charging; the CSMS logged it
                logger.warning("%s: CSMS refused MeterValues: %s", self.config.charge_point_id, exc)

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

    def _idle_status(self, conn: ConnectorState) -> str:
        if conn.pending_operative is not None and conn.transaction_id is None:
            conn.operative, conn.pending_operative = conn.pending_operative, None
        return "Available" if conn.operative else "Unavailable"

    # -- follow-ups of CSMS calls (started by ChargePoint16 after it answered) ----------

    def _station_available(self) -> bool:
        return self._charger_operative

    def _pick_connector(self, connector_id: int | None, id_tag: str) -> ConnectorState | None:
        if not self._charger_operative:
            return None
        if connector_id is not None:
            candidates: Iterable[ConnectorState] = (
                [self.connectors[connector_id]] if connector_id in self.connectors else []
            )
        else:
            candidates = self.connectors.values()
        for conn in candidates:
            if not conn.free:
                continue
            if conn.status == "Available" and conn.reservation is None:
                return conn
            held = conn.reservation
            if conn.status == "Reserved" and held is not None and held.admits(id_tag):
                return conn
        return None

    def _start_remote_session(self, conn: ConnectorState, id_tag: str) -> None:
        authorize = self.configuration["AuthorizeRemoteTxRequests"] == "true"
        max_s = self.config.remote_session_max_s
        task = self._spawn(self._session(conn, id_tag, authorize, max_s, None, None))
        if task is None:
            conn.release()

    def _request_stop(self, conn: ConnectorState, reason: str) -> None:
        if conn.session is not None:
            conn.session.request_stop(reason)
        elif conn.transaction_id is not None:
            self._spawn(self._stop_unowned(conn, reason))

    async def _stop_unowned(self, conn: ConnectorState, reason: str) -> None:
        """Stop a transaction started through the API (no session loop owns it)."""
        if conn.transaction_id is None:
            return
        meter_stop = conn.meter.register_wh
        when = utc_now()
        data = self._transaction_data(conn, meter_stop, when)
        await self.stop_transaction(
            conn.transaction_id,
            meter_stop=meter_stop,
            reason=reason,
            timestamp=when,
            transaction_data=data,
        )
        await self.status(conn.connector_id, "Finishing")
        await self.status(conn.connector_id, self._idle_status(conn))

    def _spawn_reset(self, kind: str) -> None:
        self._spawn(self._reset(kind))

    async def _reset(self, kind: str) -> None:
        reason = "HardReset" if kind == "Hard" else "SoftReset"
        for conn in self.connectors.values():
            if conn.session is not None:
                conn.session.request_stop(reason)
            else:
                await self._stop_unowned(conn, reason)
        quiet = asyncio.gather(*(c.wait_quiet() for c in self.connectors.values()))
        try:
            await asyncio.wait_for(quiet, self.config.call_timeout_s)
        except TimeoutError:
            logger.warning("%s: reset without a clean stop", self.config.charge_point_id)
        await self.disconnect()
        await self._reconnect_loop(self.config.reconnect_delay_s)

    def _change_availability(self, connector_id: int, operative: bool) -> tuple[str, list[int]]:
        """Apply ChangeAvailability now where possible; returns (status, connectors changed)."""
        if connector_id != 0 and connector_id not in self.connectors:
            return "Rejected", []
        targets = (
            list(self.connectors.values()) if connector_id == 0 else [self.connectors[connector_id]]
        )
        scheduled = False
        changed: list[int] = []
        if connector_id == 0 and self._charger_operative != operative:
            self._charger_operative = operative
            changed.append(0)
        for conn in targets:
            if conn.busy or conn.transaction_id is not None:
                conn.pending_operative = None if operative else False
                scheduled = scheduled or not operative
            elif conn.operative != operative:
                conn.operative = operative
                conn.status = "Available" if operative else "Unavailable"
                changed.append(conn.connector_id)
        return ("Scheduled" if scheduled else "Accepted"), changed

    def _spawn_statuses(self, connector_ids: list[int]) -> None:
        async def send() -> None:
            for cid in connector_ids:
                await self.status(cid, self._current_status(cid))

        self._spawn(send())

    def _spawn_triggered(self, message: str, connector_id: int | None) -> None:
        self._spawn(self._send_triggered(message, connector_id))

    async def _send_triggered(self, message: str, connector_id: int | None) -> None:
        try:
            if message == "BootNotification":
                await self.boot_notification()
            elif message == "Heartbeat":
                await self.heartbeat()
            elif message == "StatusNotification":
                ids = (
                    [connector_id] if connector_id is not None else range(len(self.connectors) + 1)
                )
                for cid in ids:
                    await self.status(cid, self._current_status(cid))
            elif message == "MeterValues":
                conns = (
                    [self.connectors[connector_id]] if connector_id else self.connectors.values()
                )
                for conn in conns:
                    await self.meter_values(
                        conn.connector_id, conn.transaction_id, context="Trigger"
                    )
            elif message == "DiagnosticsStatusNotification":
                await self._call(call.DiagnosticsStatusNotification(status="Idle"))
            elif message == "FirmwareStatusNotification":
                await self._call(call.FirmwareStatusNotification(status="Idle"))
        except ChargerOffline:
            logger.info("%s: triggered %s not delivered", self.config.charge_point_id, message)

    # -- firmware and diagnostics ---------------------------------------------------------

    async def _report_firmware(self, status: str, request_id: int | None, /) -> None:
        await self._call(call.FirmwareStatusNotification(status=status))

    async def _report_upload(self, status: str, request_id: int | None, /) -> None:
        await self._call(call.DiagnosticsStatusNotification(status=status))
