"""OCPP 2.0.1 sessions: plug-in, authorization, charging, stop and unplug.

A session (``_session``) runs on a claimed EVSE. ``run_session`` is the driver's whole
visit (plug in, present a token, charge, unplug); ``plug_in`` only plugs the cable in
(Occupied, and a TransactionEvent Started with trigger CablePluggedIn when TxStartPoint
names EVConnected or ParkingBayOccupancy), and the EVSE then waits for
RequestStartTransaction, an Autocharge MacAddress / eMAID authorization or
``run_session``; ``unplug`` ends whatever runs there.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from simulators.charger.charging import charge
from simulators.charger.model import (
    EV_DISCONNECTED,
    ChargerOffline,
    ConnectorState,
    SessionControl,
    SessionResult,
    check_mac,
)
from simulators.charger.v201_messages import RFID
from simulators.charger.v201_transactions import Transaction201, V201Transactions
from simulators.charger.v201_variables import (
    AUTH_ENABLED,
    PLUG_POINTS,
    TX_START_POINT,
    TX_STOP_POINT,
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


class V201Sessions(V201Transactions):
    """Sessions of an OCPP 2.0.1 station (the messages are ``V201Transactions``)."""

    if TYPE_CHECKING:  # supplied by ``Reservations`` in the charger class

        def _claim_reservation(
            self, conn: ConnectorState, id_tag: str
        ) -> tuple[bool, int | None]: ...

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
        On an EVSE already plugged in (``plug_in``) and waiting, the driver presents the
        token now; the session still ends with the cable unplugged.
        """
        conn = self._evse(evse_id)
        plugged = conn.waiting_for_start
        if not (self._free(conn) or plugged):
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
            plugged=plugged,
        )

    async def plug_in(
        self, evse_id: int, *, autocharge_mac: str | None = None, emaid: str | None = None
    ) -> None:
        """A car is plugged in without authorization: StatusNotification Occupied, and a
        TransactionEvent Started (CablePluggedIn / EVDetected, no idToken) when
        TxStartPoint names EVConnected or ParkingBayOccupancy.

        With ``autocharge_mac`` the station sends Authorize with a MacAddress token, with
        ``emaid`` an eMAID token; Accepted, it starts (or authorizes) the transaction
        itself. Otherwise the EVSE waits, Occupied, for RequestStartTransaction or
        ``run_session``.
        """
        conn = self._evse(evse_id)
        if not self._free(conn):
            raise RuntimeError(f"EVSE {evse_id} is busy or unavailable")
        token: dict[str, str] | None = None
        if autocharge_mac is not None:
            token = {"idToken": check_mac(autocharge_mac), "type": "MacAddress"}
        elif emaid is not None:
            token = {"idToken": emaid, "type": "eMAID"}
        conn.plugged = conn.plug_waiting = True
        conn.last_result = None
        await self.status(evse_id, "Occupied")
        start_points = set(members(self.variables[TX_START_POINT].value))
        if start_points & PLUG_POINTS:
            await self._plug_in_transaction(conn, start_points, None)
        if token is None:
            return
        try:
            status = await self.authorize(token["idToken"], token["type"])
        except ChargerOffline:
            return
        if status == "Accepted" and conn.waiting_for_start:
            conn.claim()
            self._start_plugged_session(conn, token, authorize=False, remote_start_id=None)

    async def unplug(self, evse_id: int) -> SessionResult | None:
        """The driver unplugs: a running (or plug-in) transaction ends with EVDisconnected
        (trigger EVCommunicationLost), then Available. The result of this plug-in's
        transaction, if there was one."""
        conn = self._evse(evse_id)
        if not conn.plugged:
            return None
        conn.plugged = False
        if conn.session is not None:
            conn.session.request_stop(EV_DISCONNECTED)
            await conn.released.wait()
        else:
            conn.plug_waiting = False
            tx = self.transactions.get(evse_id)
            if tx is not None:
                conn.last_result = await self._unplug(conn, tx)
            else:
                await self.status(evse_id, self._idle_status(conn))
        result, conn.last_result = conn.last_result, None
        return result

    async def _plug_in_transaction(
        self, conn: ConnectorState, start_points: set[str], token: dict[str, str] | None
    ) -> Transaction201:
        """Open the transaction the plug-in starts (TxStartPoint EVConnected / bay)."""
        tx = self._open_transaction(conn.connector_id, id_token=token)
        await self._tx_event(
            tx,
            "Started",
            "EVDetected" if "ParkingBayOccupancy" in start_points else "CablePluggedIn",
            context="Transaction.Begin",
            charging_state="EVConnected",
            id_token=token,
        )
        return tx

    def _start_plugged_session(
        self,
        conn: ConnectorState,
        token: dict[str, str],
        *,
        authorize: bool,
        remote_start_id: int | None,
    ) -> None:
        """Run a session on a claimed, plugged-in EVSE until stopped or unplugged."""
        session = self._session(
            conn,
            token,
            authorize=authorize,
            start_points=set(members(self.variables[TX_START_POINT].value)),
            duration_s=self.config.remote_session_max_s,
            energy_wh=None,
            meter_samples=None,
            remote_start_id=remote_start_id,
            plugged=True,
            unplug_at_end=False,
        )
        if self._spawn(session) is None:
            conn.release()

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
        plugged: bool = False,
        unplug_at_end: bool = True,
    ) -> SessionResult:
        """One session on a claimed EVSE. ``plugged``: the cable is already in (no
        Occupied, the plug-in transaction if any is reused); ``unplug_at_end``: the driver
        unplugs when it ends (else the EVSE stays Occupied until ``unplug``)."""
        evse_id = conn.connector_id
        control = conn.session or SessionControl()
        conn.session = control
        free = token["type"] == "NoAuthorization"
        auth_trigger = "RemoteStart" if remote_start_id is not None else "Authorized"
        tx: Transaction201 | None = self.transactions.get(evse_id) if plugged else None
        status = "Accepted"
        conn.plugged, conn.plug_waiting = True, False
        try:
            if not plugged:
                await self.status(evse_id, "Occupied")  # the cable is plugged in
                if start_points & PLUG_POINTS:
                    plug_token = token if free else None
                    tx = await self._plug_in_transaction(conn, start_points, plug_token)
            if authorize and not free:
                try:
                    status = await self.authorize(token["idToken"], token["type"])
                except ChargerOffline:
                    if unplug_at_end:
                        await self._unplug(conn, tx)
                    raise
                if status != "Accepted":
                    return await self._not_started(conn, tx, status, unplug_at_end)
            if control.stop_requested.is_set() and (tx is None or plugged):
                # reset, unlocked or unplugged before it started
                return await self._not_started(conn, tx, status, unplug_at_end)
            if tx is None:
                _, reservation_id = self._claim_reservation(conn, token["idToken"])
                tx = self._open_transaction(evse_id, id_token=token)
                await self._tx_event(
                    tx,
                    "Started",
                    auth_trigger,
                    context="Transaction.Begin",
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
            if unplug_at_end or reason == EV_DISCONNECTED or not conn.plugged:
                conn.plugged = False
                await self.status(evse_id, self._idle_status(conn))
            meter_stop = conn.meter.register_wh
            result = SessionResult(
                tx.transaction_id,
                tx.token_status or status,
                tx.meter_start,
                meter_stop,
                meter_stop - tx.meter_start,
                samples,
            )
            conn.last_result = result
            return result
        finally:
            if unplug_at_end:
                conn.plugged = conn.plug_waiting = False
            conn.session = None
            conn.release()

    async def _not_started(
        self,
        conn: ConnectorState,
        tx: Transaction201 | None,
        status: str,
        unplug_at_end: bool,
    ) -> SessionResult:
        """A session that was never authorized: unplugged, or still waiting plugged in."""
        if unplug_at_end or not conn.plugged:
            conn.plugged = conn.plug_waiting = False
            return await self._unplug(conn, tx, status)
        conn.plug_waiting = True
        wh = conn.meter.register_wh
        return SessionResult(None if tx is None else tx.transaction_id, status, wh, wh, 0, 0)

    async def _charge(
        self,
        conn: ConnectorState,
        tx: Transaction201,
        control: SessionControl,
        duration_s: float | None,
        energy_wh: int | None,
        meter_samples: int | None,
    ) -> int:
        """Charge; a TransactionEvent Updated (MeterValuePeriodic) every interval, and
        ChargingStateChanged SuspendedEV / Charging as the car stops / resumes."""

        async def sample() -> None:
            await self._tx_event(tx, "Updated", "MeterValuePeriodic", context="Sample.Periodic")

        async def on_ev(taking: bool) -> None:
            await self._tx_event(
                tx,
                "Updated",
                "ChargingStateChanged",
                charging_state="Charging" if taking else "SuspendedEV",
            )

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
            on_ev=on_ev,
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
