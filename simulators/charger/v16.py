"""OCPP 1.6J simulated charger: sessions, and what it does after answering the CSMS."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from ocpp.v16 import call
from websockets.asyncio.client import ClientConnection

from simulators.charger.firmware import FirmwareUpdates
from simulators.charger.model import (
    ChargerOffline,
    ConnectorState,
    utc_now,
)
from simulators.charger.reservations import Reservations
from simulators.charger.smart_charging import SmartCharging
from simulators.charger.v16_handlers import ChargePoint16
from simulators.charger.v16_sessions import V16Sessions

logger = logging.getLogger("simulators.charger")


class SimulatedCharger(V16Sessions, Reservations, FirmwareUpdates, SmartCharging):
    """An OCPP 1.6J charge point: boots, reports status, charges, answers the CSMS."""

    def _make_charge_point(self, ws: ClientConnection) -> Any:
        return ChargePoint16(self, ws)

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
        candidates = sorted(candidates, key=lambda c: not c.waiting_for_start)
        for conn in candidates:
            held = conn.reservation
            if conn.waiting_for_start and (held is None or held.admits(id_tag)):
                return conn  # a car plugged in and waiting comes first
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
        if conn.plugged:
            self._start_plugged_session(conn, id_tag, authorize)
            return
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
        if not conn.plugged:
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
