"""OCPP 1.6J sessions: plug-in, authorization, charging, stop and unplug.

A session (``_session``) runs on a claimed connector. ``run_session`` is the driver's
whole visit (plug in, present a tag, charge, unplug); ``plug_in`` only plugs the cable
in, and the connector then waits (Preparing) for RemoteStartTransaction, an Autocharge
``VID:`` authorization or ``run_session``; ``unplug`` ends whatever runs there.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ocpp.exceptions import OCPPError

from simulators.charger.charging import charge
from simulators.charger.model import (
    EV_DISCONNECTED,
    ChargerOffline,
    ConnectorState,
    SessionControl,
    SessionResult,
    check_mac,
    utc_now,
)
from simulators.charger.v16_messages import V16Messages

logger = logging.getLogger("simulators.charger")


class V16Sessions(V16Messages):
    """Sessions of an OCPP 1.6J charge point (the messages are ``V16Messages``)."""

    if TYPE_CHECKING:  # supplied by ``Reservations`` in the charger class

        def _claim_reservation(
            self, conn: ConnectorState, id_tag: str
        ) -> tuple[bool, int | None]: ...

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
        for another id tag nothing is sent and the result's status is ``Reserved``. On a
        connector already plugged in (``plug_in``) and waiting, the driver presents the
        tag now; the session still ends with the cable unplugged.
        """
        conn = self._connector(connector_id)
        plugged = conn.waiting_for_start
        if not (conn.free or plugged):
            raise RuntimeError(f"connector {connector_id} is busy or unavailable")
        held = conn.reservation
        if held is not None and not held.admits(id_tag):
            wh = conn.meter.register_wh
            return SessionResult(None, "Reserved", wh, wh, 0, 0)
        conn.claim()
        return await self._session(
            conn,
            id_tag,
            authorize,
            duration_s,
            energy_wh,
            meter_samples,
            plugged=plugged,
            unplug_at_end=True,
        )

    async def plug_in(
        self, connector_id: int, *, autocharge_mac: str | None = None, emaid: str | None = None
    ) -> None:
        """A car is plugged in without authorization: StatusNotification Preparing.

        With ``autocharge_mac`` (12 hex digits) the charger sends Authorize with the
        Autocharge tag ``VID:<MAC>`` and, if Accepted, starts the transaction itself.
        Otherwise (or refused) the connector waits, Preparing, for RemoteStartTransaction
        or ``run_session``. ``emaid`` is ignored (OCPP 1.6 has no eMAID tokens).
        """
        conn = self._connector(connector_id)
        if not conn.free:
            raise RuntimeError(f"connector {connector_id} is busy or unavailable")
        tag = None if autocharge_mac is None else "VID:" + check_mac(autocharge_mac)
        conn.plugged = conn.plug_waiting = True
        conn.last_result = None
        await self.status(connector_id, "Preparing")
        if tag is None:
            return
        try:
            status = await self.authorize(tag)
        except ChargerOffline:
            return
        if status == "Accepted" and conn.waiting_for_start:
            conn.claim()
            self._start_plugged_session(conn, tag, authorize=False)

    async def unplug(self, connector_id: int) -> SessionResult | None:
        """The driver unplugs: a running transaction stops (EVDisconnected), then
        Finishing/Available. The result of this plug-in's transaction, if there was one."""
        conn = self._connector(connector_id)
        if not conn.plugged:
            return None
        conn.plugged = False
        if conn.session is not None:
            conn.session.request_stop(EV_DISCONNECTED)
            await conn.released.wait()
        else:
            conn.plug_waiting = False
            await self.status(connector_id, self._idle_status(conn))
        result, conn.last_result = conn.last_result, None
        return result

    async def _session(
        self,
        conn: ConnectorState,
        id_tag: str,
        authorize: bool,
        duration_s: float | None,
        energy_wh: int | None,
        meter_samples: int | None,
        *,
        plugged: bool = False,
        unplug_at_end: bool = True,
    ) -> SessionResult:
        """One session on a claimed connector. ``plugged``: the cable is already in
        (no Preparing); ``unplug_at_end``: the driver unplugs when it ends (else the
        connector stays plugged in until ``unplug``)."""
        cid = conn.connector_id
        control = conn.session or SessionControl()
        conn.session = control
        conn.plugged = True
        conn.plug_waiting = False
        try:
            if not plugged:
                await self.status(cid, "Preparing")
            tag_status = "Accepted"
            if authorize:
                tag_status = await self.authorize(id_tag)
                if tag_status != "Accepted":
                    conn.plug_waiting = True
                    return await self._not_started(conn, tag_status, unplug_at_end)
            if control.stop_requested.is_set():  # unlocked or reset before it started
                conn.plug_waiting = True
                return await self._not_started(conn, tag_status, unplug_at_end)
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
            reason = control.stop_reason or "Local"
            await self.stop_transaction(
                start.transaction_id,
                meter_stop=meter_stop,
                reason=reason,
                timestamp=when,
                transaction_data=self._transaction_data(conn, meter_stop, when),
            )
            await self.status(cid, "Finishing")
            result = SessionResult(
                self._resolve(start.transaction_id),
                start.status,
                meter_start,
                meter_stop,
                meter_stop - meter_start,
                samples,
            )
            conn.last_result = result
            if unplug_at_end or reason == EV_DISCONNECTED or not conn.plugged:
                conn.plugged = False
                await self.status(cid, self._idle_status(conn))
            return result
        finally:
            if unplug_at_end:
                conn.plugged = conn.plug_waiting = False
            conn.session = None
            conn.release()

    async def _not_started(
        self, conn: ConnectorState, tag_status: str, unplug_at_end: bool
    ) -> SessionResult:
        """A session that never started: unplugged (Available) or still waiting."""
        if unplug_at_end or not conn.plugged:
            conn.plugged = conn.plug_waiting = False
            await self.status(conn.connector_id, self._idle_status(conn))
        wh = conn.meter.register_wh
        return SessionResult(None, tag_status, wh, wh, 0, 0)

    def _start_plugged_session(self, conn: ConnectorState, id_tag: str, authorize: bool) -> None:
        """Run a session on a claimed, plugged-in connector until stopped or unplugged."""
        task = self._spawn(
            self._session(
                conn,
                id_tag,
                authorize,
                self.config.remote_session_max_s,
                None,
                None,
                plugged=True,
                unplug_at_end=False,
            )
        )
        if task is None:
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

        async def on_ev(taking: bool) -> None:
            await self.status(conn.connector_id, "Charging" if taking else "SuspendedEV")

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

    def _idle_status(self, conn: ConnectorState) -> str:
        if conn.pending_operative is not None and conn.transaction_id is None:
            conn.operative, conn.pending_operative = conn.pending_operative, None
        return "Available" if conn.operative else "Unavailable"
