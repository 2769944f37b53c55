"""OCPP 2.0.1 transactions of the simulated station: TransactionEvents and meter values.

Transaction ids are the station's own (uuid4 hex) and every TransactionEvent gets the
next ``seqNo`` of the station when it is made, so the offline queue replays events as
they were (original seqNo and timestamps), marked ``offline: true``.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ocpp.exceptions import OCPPError

from simulators.charger.model import (
    ChargerConfig,
    ConnectorState,
    QueuedMessage,
    ocpp_time,
    utc_now,
)
from simulators.charger.v201_messages import RFID, V201Messages, as_payload
from simulators.charger.v201_variables import (
    ENERGY,
    STOP_TX_ON_INVALID_ID,
    TX_UPDATED_MEASURANDS,
    members,
)

logger = logging.getLogger("simulators.charger")

DEFAULT_CONTEXT = {
    "Started": "Transaction.Begin",
    "Updated": "Sample.Periodic",
    "Ended": "Transaction.End",
}


def token_status(response: dict[str, Any] | None) -> str | None:
    """idTokenInfo.status of a TransactionEvent response, if it has one."""
    info = (response or {}).get("idTokenInfo")
    return str(info["status"]) if isinstance(info, dict) and "status" in info else None


@dataclass
class Transaction201:
    """An open transaction on one EVSE."""

    transaction_id: str
    evse_id: int
    meter_start: int
    start_time: datetime
    id_token: dict[str, str] | None = None
    token_status: str | None = None  # idTokenInfo.status the CSMS last gave
    charging_state: str | None = None
    evse_sent: bool = False  # the first event (which carries the evse) was made


class V201Transactions(V201Messages):
    """TransactionEvents (through the offline queue), their meter values and MeterValues."""

    def __init__(self, config: ChargerConfig, *, time_scale: float = 1.0) -> None:
        super().__init__(config, time_scale=time_scale)
        self.transactions: dict[int, Transaction201] = {}  # EVSE id -> open transaction
        self._seq_no = 0

    def active_transactions(self) -> dict[int, str]:
        """EVSE id -> transaction id."""
        return {evse_id: tx.transaction_id for evse_id, tx in self.transactions.items()}

    def _transaction_id_from(self, response: Any) -> int:
        raise AssertionError("OCPP 2.0.1 transaction ids are the station's own")

    def _enqueue(self, message: QueuedMessage) -> None:
        message.payload.setdefault("offline", True)
        super()._enqueue(message)

    # -- meter values ---------------------------------------------------------------------

    def energy_sample(
        self, wh: int, context: str, unit: str | None = None, multiplier: int | None = None
    ) -> dict[str, Any]:
        """An Energy.Active.Import.Register sampledValue of ``wh`` in the chosen unit."""
        unit = unit or self.config.energy_unit
        multiplier = self.config.energy_multiplier if multiplier is None else multiplier
        scaled = Decimal(wh) / (Decimal(1000 if unit == "kWh" else 1) * Decimal(10) ** multiplier)
        value: int | float = int(scaled) if scaled == scaled.to_integral_value() else float(scaled)
        return {
            "value": value,
            "context": context,
            "measurand": ENERGY,
            "location": "Outlet",
            "unitOfMeasure": {"unit": unit, "multiplier": multiplier},
        }

    def _periodic_values(self, conn: ConnectorState, context: str) -> list[dict[str, Any]]:
        """sampledValues of SampledDataCtrlr.TxUpdatedMeasurands."""
        cfg = self.config
        power = round(conn.offered_power_w(cfg.power_w))
        phases = [f"L{n}" for n in range(1, max(cfg.phases, 1) + 1)]
        amps = round(power / (cfg.voltage_v * len(phases)), 1)
        base = {"context": context, "location": "Outlet"}
        values: list[dict[str, Any]] = []
        for measurand in members(self.variables[TX_UPDATED_MEASURANDS].value):
            if measurand == ENERGY:
                values.append(self.energy_sample(conn.meter.register_wh, context))
            elif measurand == "Power.Active.Import":
                unit = {"unit": "W", "multiplier": 0}
                values.append(
                    {**base, "value": power, "measurand": measurand, "unitOfMeasure": unit}
                )
            elif measurand in ("Current.Import", "Voltage"):
                is_current = measurand == "Current.Import"
                unit = {"unit": "A" if is_current else "V", "multiplier": 0}
                values.extend(
                    {
                        **base,
                        "value": amps if is_current else cfg.voltage_v,
                        "measurand": measurand,
                        "phase": phase if is_current else f"{phase}-N",
                        "unitOfMeasure": unit,
                    }
                    for phase in phases
                )
        return values

    async def meter_values(
        self,
        evse_id: int,
        meter_wh: int | None = None,
        *,
        timestamp: datetime | None = None,
        context: str = "Sample.Clock",
        unit: str | None = None,
        multiplier: int | None = None,
    ) -> None:
        """MeterValues outside transactions: the energy register of one EVSE (0: all)."""
        if meter_wh is None:
            conns = list(self.connectors.values()) if evse_id == 0 else [self._evse(evse_id)]
            meter_wh = sum(conn.meter.register_wh for conn in conns)
        elif evse_id in self.connectors:
            self.connectors[evse_id].meter.raise_to(meter_wh)
        sample = self.energy_sample(meter_wh, context, unit, multiplier)
        payload = {
            "evseId": evse_id,
            "meterValue": [{"timestamp": ocpp_time(timestamp), "sampledValue": [sample]}],
        }
        await self._send("MeterValues", payload)

    # -- transactions (TransactionEvents go through the offline queue) -------------------

    def _evse(self, evse_id: int) -> ConnectorState:
        try:
            return self.connectors[evse_id]
        except KeyError:
            raise ValueError(f"no EVSE {evse_id}") from None

    def _next_seq_no(self) -> int:
        seq_no = self._seq_no
        self._seq_no += 1
        return seq_no

    def _open_transaction(
        self,
        evse_id: int,
        *,
        transaction_id: str | None = None,
        id_token: dict[str, str] | None = None,
        when: datetime | None = None,
    ) -> Transaction201:
        conn = self._evse(evse_id)
        tx = Transaction201(
            transaction_id=transaction_id or uuid.uuid4().hex,
            evse_id=evse_id,
            meter_start=conn.meter.register_wh,
            start_time=when or utc_now(),
            id_token=id_token,
        )
        self.transactions[evse_id] = tx
        conn.id_tag = id_token["idToken"] if id_token else None
        conn.meter_start, conn.start_time = tx.meter_start, tx.start_time
        conn.idle.clear()
        return tx

    def _close_transaction(self, evse_id: int) -> None:
        conn = self._evse(evse_id)
        self.transactions.pop(evse_id, None)
        conn.id_tag = conn.meter_start = conn.start_time = None
        conn.charging = False
        if conn.pending_operative is not None:  # ChangeAvailability answered Scheduled
            conn.operative, conn.pending_operative = conn.pending_operative, None
        conn.idle.set()

    def _event_payload(
        self,
        event_type: str,
        trigger_reason: str,
        transaction_id: str,
        *,
        when: datetime,
        seq_no: int | None = None,
        evse_id: int | None = None,
        id_token: dict[str, str] | None = None,
        charging_state: str | None = None,
        stopped_reason: str | None = None,
        remote_start_id: int | None = None,
        sampled_values: list[dict[str, Any]] | None = None,
        offline: bool | None = None,
        number_of_phases_used: int | None = None,
        reservation_id: int | None = None,
    ) -> dict[str, Any]:
        info: dict[str, Any] = {"transactionId": transaction_id}
        optional_info = {
            "chargingState": charging_state,
            "stoppedReason": stopped_reason,
            "remoteStartId": remote_start_id,
        }
        info.update({k: v for k, v in optional_info.items() if v is not None})
        payload: dict[str, Any] = {
            "eventType": event_type,
            "timestamp": ocpp_time(when),
            "triggerReason": trigger_reason,
            "seqNo": self._next_seq_no() if seq_no is None else seq_no,
            "transactionInfo": info,
        }
        if evse_id is not None:
            payload["evse"] = {"id": evse_id, "connectorId": 1}
        if id_token is not None:
            payload["idToken"] = id_token
        if sampled_values:
            payload["meterValue"] = [{"timestamp": ocpp_time(when), "sampledValue": sampled_values}]
        if offline is not None:
            payload["offline"] = offline
        if number_of_phases_used is not None:
            payload["numberOfPhasesUsed"] = number_of_phases_used
        if reservation_id is not None:
            payload["reservationId"] = reservation_id
        return payload

    async def _send_event(self, payload: dict[str, Any], evse_id: int | None) -> Any | None:
        """Send (or queue) a TransactionEvent; the response payload, None when queued."""
        message = QueuedMessage("TransactionEvent", payload, connector_id=evse_id)
        response = await self._tx_call(message)
        return None if response is None else as_payload(response)

    async def transaction_event(
        self,
        event_type: str,
        trigger_reason: str,
        transaction_id: str,
        *,
        evse_id: int | None = None,
        id_token: str | None = None,
        token_type: str = RFID,
        charging_state: str | None = None,
        meter_wh: int | None = None,
        context: str | None = None,
        stopped_reason: str | None = None,
        timestamp: datetime | None = None,
        seq_no: int | None = None,
        offline: bool | None = None,
        unit: str | None = None,
        multiplier: int | None = None,
        remote_start_id: int | None = None,
        number_of_phases_used: int | None = None,
    ) -> dict[str, Any] | None:
        """Send one TransactionEvent as given; the CSMS's response payload, None if queued.

        Also tracks the station's state: Started with an ``evse_id`` opens the transaction
        on that EVSE, Ended closes it. ``seq_no`` None takes the next number; ``unit`` /
        ``multiplier`` None use the charger's configuration.
        """
        when = timestamp or utc_now()
        token = None if id_token is None else {"idToken": id_token, "type": token_type}
        tracked = evse_id
        for open_evse, tx in self.transactions.items():
            if tx.transaction_id == transaction_id:
                tracked = open_evse
        if meter_wh is not None and tracked in self.connectors:
            self.connectors[tracked].meter.raise_to(meter_wh)
        if event_type == "Started" and evse_id is not None and evse_id not in self.transactions:
            tx = self._open_transaction(
                evse_id, transaction_id=transaction_id, id_token=token, when=when
            )
            tx.evse_sent = True
        sampled = None
        if meter_wh is not None:
            ctx = context or DEFAULT_CONTEXT.get(event_type, "Sample.Periodic")
            sampled = [self.energy_sample(meter_wh, ctx, unit, multiplier)]
        payload = self._event_payload(
            event_type,
            trigger_reason,
            transaction_id,
            when=when,
            seq_no=seq_no,
            evse_id=evse_id,
            id_token=token,
            charging_state=charging_state,
            stopped_reason=stopped_reason,
            remote_start_id=remote_start_id,
            sampled_values=sampled,
            offline=offline,
            number_of_phases_used=number_of_phases_used,
        )
        if event_type == "Ended" and tracked in self.transactions:
            self._close_transaction(tracked)
        return await self._send_event(payload, evse_id)

    async def _tx_event(
        self,
        tx: Transaction201,
        event_type: str,
        trigger_reason: str,
        *,
        context: str | None = None,
        charging_state: str | None = None,
        id_token: dict[str, str] | None = None,
        stopped_reason: str | None = None,
        remote_start_id: int | None = None,
        number_of_phases_used: int | None = None,
        reservation_id: int | None = None,
    ) -> dict[str, Any] | None:
        """A session's TransactionEvent, as a real station makes it.

        The evse goes with the first event only, chargingState only when it changed; the
        meter values are the register alone (Transaction.Begin/End) or the measurands of
        TxUpdatedMeasurands (Sample.Periodic, Trigger). A response whose idTokenInfo is
        not Accepted stops the session (DeAuthorized) if TxCtrlr.StopTxOnInvalidId.
        """
        conn = self.connectors[tx.evse_id]
        if context in ("Sample.Periodic", "Trigger"):
            sampled = self._periodic_values(conn, context)
        elif context is not None:
            sampled = [self.energy_sample(conn.meter.register_wh, context)]
        else:
            sampled = None
        changed = charging_state if charging_state != tx.charging_state else None
        tx.charging_state = charging_state or tx.charging_state
        payload = self._event_payload(
            event_type,
            trigger_reason,
            tx.transaction_id,
            when=utc_now(),
            evse_id=None if tx.evse_sent else tx.evse_id,
            id_token=id_token,
            charging_state=changed,
            stopped_reason=stopped_reason,
            remote_start_id=remote_start_id,
            sampled_values=sampled,
            number_of_phases_used=number_of_phases_used,
            reservation_id=reservation_id,
        )
        tx.evse_sent = True
        try:
            response = await self._send_event(payload, tx.evse_id)
        except OCPPError as exc:  # a real station carries on; the CSMS logged it
            logger.warning("%s: CSMS refused TransactionEvent: %s", self._name, exc)
            return None
        status = token_status(response)
        if status is not None:
            tx.token_status = status
            refused = status != "Accepted" and self._flag(STOP_TX_ON_INVALID_ID)
            if refused and event_type != "Ended" and conn.session is not None:
                conn.session.request_stop("DeAuthorized")
        return response
