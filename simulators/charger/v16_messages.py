"""OCPP 1.6J messages a charge point sends: boot, status, authorize, transactions."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from ocpp.charge_point import camel_to_snake_case
from ocpp.v16 import call

from simulators.charger.base import BaseCharger
from simulators.charger.model import (
    ChargerConfig,
    ChargerOffline,
    ConnectorState,
    QueuedMessage,
    StartResult,
    ocpp_time,
    utc_now,
)
from simulators.charger.v16_config import READONLY_KEYS, check_change, default_configuration

logger = logging.getLogger("simulators.charger")

ENERGY = "Energy.Active.Import.Register"


class V16Messages(BaseCharger):
    """The charger-initiated side of OCPP 1.6J, including the offline queue hooks."""

    readonly_keys = READONLY_KEYS

    def __init__(self, config: ChargerConfig, *, time_scale: float = 1.0) -> None:
        super().__init__(config, time_scale=time_scale)
        self.connector_status: dict[int, str] = {}
        self.configuration: dict[str, str] = default_configuration(config)
        self.auth_cache: dict[str, str] = {}
        self.meter_interval_s = config.meter_interval_s
        self._charger_operative = True

    def active_transactions(self) -> dict[int, int]:
        """connector id -> transaction id (a negative placeholder while still queued)."""
        return {
            cid: conn.transaction_id
            for cid, conn in self.connectors.items()
            if conn.transaction_id is not None
        }

    def _change_configuration(self, key: str, value: str) -> str:
        status, value = check_change(self.configuration, key, value)
        if status != "Accepted":
            return status
        self.configuration[key] = value
        if key == "HeartbeatInterval":
            self.heartbeat_interval = int(value)
            link = self._link
            if link is not None and link.accepted:
                self._restart_heartbeat()
        elif key == "MeterValueSampleInterval" and int(value) > 0:
            self.meter_interval_s = float(value)
        return status

    # -- BaseCharger hooks ---------------------------------------------------------------

    async def _on_open(self) -> None:
        await self.boot_notification()
        if self.boot_status != "Accepted":
            self._spawn(self._boot_retry_loop(), link_scoped=True)

    async def _send_queued(self, message: QueuedMessage) -> Any:
        payload_cls = getattr(call, message.action)
        return await self._call(payload_cls(**camel_to_snake_case(message.payload)))

    def _transaction_id_from(self, response: Any) -> int:
        return int(response.transaction_id)

    # -- boot and connection-level messages ------------------------------------------

    async def boot_notification(self) -> str:
        """Send BootNotification; on Accepted report statuses and replay the queue."""
        cfg = self.config
        response = await self._call(
            call.BootNotification(
                charge_point_model=cfg.model,
                charge_point_vendor=cfg.vendor,
                charge_point_serial_number=cfg.serial_number,
                firmware_version=cfg.firmware_version,
                meter_type="SimMeter",
            )
        )
        self.boot_status = str(response.status)
        self.heartbeat_interval = int(response.interval)
        link = self._link
        if self.boot_status == "Accepted" and link is not None and not link.accepted:
            self.configuration["HeartbeatInterval"] = str(self.heartbeat_interval)
            link.accepted = True
            for cid in range(len(self.connectors) + 1):
                await self.status(cid, self._current_status(cid))
            await self._replay_queue()
            self._restart_heartbeat()
        return self.boot_status

    async def _boot_retry_loop(self) -> None:
        while self.boot_status != "Accepted":
            await asyncio.sleep(max(self.heartbeat_interval or 0, 1))
            try:
                await self.boot_notification()
            except ChargerOffline:
                return

    async def heartbeat(self) -> datetime:
        response = await self._call(call.Heartbeat())
        return datetime.fromisoformat(str(response.current_time))

    async def status(self, connector_id: int, status: str, error_code: str = "NoError") -> None:
        """Record and send a StatusNotification (only recorded while offline)."""
        conn = self.connectors.get(connector_id)
        if conn is not None:
            conn.status = status
        self.connector_status[connector_id] = status
        link = self._link
        if link is None or not link.accepted:
            return
        try:
            await self._call(
                call.StatusNotification(
                    connector_id=connector_id,
                    error_code=error_code,
                    status=status,
                    timestamp=ocpp_time(),
                )
            )
        except ChargerOffline:
            logger.info("%s: status %s not delivered", self.config.charge_point_id, status)

    def _current_status(self, connector_id: int) -> str:
        if connector_id == 0:
            return "Available" if self._charger_operative else "Unavailable"
        return self.connectors[connector_id].status

    async def authorize(self, id_tag: str) -> str:
        """Authorize; offline, fall back to the authorization cache like a real charger."""
        link = self._link
        if link is not None and link.accepted:
            try:
                response = await self._call(call.Authorize(id_tag=id_tag))
            except ChargerOffline:
                pass
            else:
                status = str(response.id_tag_info["status"])
                self.auth_cache[id_tag] = status
                return status
        if self.configuration["LocalAuthorizeOffline"] == "true" and id_tag in self.auth_cache:
            return self.auth_cache[id_tag]
        if self.configuration["AllowOfflineTxForUnknownId"] == "true":
            return "Accepted"
        raise ChargerOffline(f"cannot authorize {id_tag!r} while offline")

    # -- transaction messages (queued while offline) ------------------------------------

    def _connector(self, connector_id: int) -> ConnectorState:
        try:
            return self.connectors[connector_id]
        except KeyError:
            raise ValueError(f"no connector {connector_id}") from None

    async def start_transaction(
        self,
        connector_id: int,
        id_tag: str,
        *,
        meter_start: int | None = None,
        timestamp: datetime | None = None,
        reservation_id: int | None = None,
    ) -> StartResult:
        conn = self._connector(connector_id)
        if meter_start is None:
            meter_start = conn.meter.register_wh
        else:
            conn.meter.raise_to(meter_start)
        when = timestamp or utc_now()
        payload: dict[str, Any] = {
            "connectorId": connector_id,
            "idTag": id_tag,
            "meterStart": meter_start,
            "timestamp": ocpp_time(when),
        }
        if reservation_id is not None:
            payload["reservationId"] = reservation_id
        message = QueuedMessage(
            "StartTransaction", payload, connector_id=connector_id, starts_transaction=True
        )
        response = await self._tx_call(message)
        if response is None:
            assert message.placeholder is not None
            result = StartResult(self._resolve(message.placeholder), "Queued")
        else:
            status = str(response.id_tag_info["status"])
            self.auth_cache[id_tag] = status
            result = StartResult(int(response.transaction_id), status)
        conn.begin_transaction(result.transaction_id, id_tag, meter_start, when)
        return result

    def _sampled_values(self, conn: ConnectorState, energy_wh: int, context: str) -> list[Any]:
        cfg = self.config
        power = round(conn.offered_power_w(cfg.power_w))
        phases = [f"L{n}" for n in range(1, max(cfg.phases, 1) + 1)]
        amps = power / (cfg.voltage_v * len(phases))
        base = {"context": context, "format": "Raw", "location": "Outlet"}
        values: list[Any] = []
        for measurand in self.configuration["MeterValuesSampledData"].split(","):
            measurand = measurand.strip()
            if measurand == ENERGY:
                values.append({**base, "value": str(energy_wh), "measurand": ENERGY, "unit": "Wh"})
            elif measurand == "Power.Active.Import":
                values.append({**base, "value": str(power), "measurand": measurand, "unit": "W"})
            elif measurand == "Current.Import":
                values.extend(
                    {
                        **base,
                        "value": f"{amps:.1f}",
                        "measurand": measurand,
                        "unit": "A",
                        "phase": p,
                    }
                    for p in phases
                )
            elif measurand == "Voltage":
                values.extend(
                    {
                        **base,
                        "value": f"{cfg.voltage_v:.1f}",
                        "measurand": measurand,
                        "unit": "V",
                        "phase": f"{p}-N",
                    }
                    for p in phases
                )
        return values

    async def meter_values(
        self,
        connector_id: int,
        transaction_id: int | None,
        *,
        energy_wh: int | None = None,
        timestamp: datetime | None = None,
        extra: list[dict[str, Any]] | None = None,
        context: str = "Sample.Periodic",
    ) -> None:
        """One MeterValue: energy register, power, per-phase current (+ ``extra`` samples)."""
        conn = self._connector(connector_id)
        if energy_wh is None:
            energy_wh = conn.meter.register_wh
        else:
            conn.meter.raise_to(energy_wh)
        sampled = self._sampled_values(conn, energy_wh, context) + list(extra or [])
        payload: dict[str, Any] = {
            "connectorId": connector_id,
            "meterValue": [{"timestamp": ocpp_time(timestamp), "sampledValue": sampled}],
        }
        if transaction_id is None:
            link = self._link
            if link is not None and link.accepted:
                try:
                    await self._send_queued(QueuedMessage("MeterValues", payload))
                except ChargerOffline:
                    logger.info("%s: MeterValues not delivered", self.config.charge_point_id)
            return
        tx = self._resolve(transaction_id)
        payload["transactionId"] = tx
        await self._tx_call(
            QueuedMessage("MeterValues", payload, transaction_ref=tx, connector_id=connector_id)
        )

    def _transaction_data(
        self, conn: ConnectorState, meter_stop: int, when: datetime
    ) -> list[dict[str, Any]]:
        def sample(moment: datetime | None, wh: int, context: str) -> dict[str, Any]:
            return {
                "timestamp": ocpp_time(moment),
                "sampledValue": [
                    {
                        "value": str(wh),
                        "context": context,
                        "format": "Raw",
                        "measurand": ENERGY,
                        "location": "Outlet",
                        "unit": "Wh",
                    }
                ],
            }

        begin_wh = conn.meter_start if conn.meter_start is not None else meter_stop
        return [
            sample(conn.start_time, begin_wh, "Transaction.Begin"),
            sample(when, meter_stop, "Transaction.End"),
        ]

    async def stop_transaction(
        self,
        transaction_id: int,
        *,
        meter_stop: int | None = None,
        reason: str | None = "Local",
        id_tag: str | None = None,
        timestamp: datetime | None = None,
        transaction_data: list[dict[str, Any]] | None = None,
    ) -> str | None:
        """Send StopTransaction; returns idTagInfo.status if the CSMS gave one."""
        tx = self._resolve(transaction_id)
        conn = self._connector_of(tx)
        if meter_stop is None:
            if conn is None:
                raise ValueError(f"unknown transaction {transaction_id}: pass meter_stop")
            meter_stop = conn.meter.register_wh
        payload: dict[str, Any] = {
            "meterStop": meter_stop,
            "timestamp": ocpp_time(timestamp),
            "transactionId": tx,
        }
        if reason is not None:
            payload["reason"] = reason
        if id_tag is not None:
            payload["idTag"] = id_tag
        if transaction_data is not None:
            payload["transactionData"] = transaction_data
        if conn is not None:
            conn.end_transaction()
            if conn.pending_operative is not None:
                conn.operative, conn.pending_operative = conn.pending_operative, None
        response = await self._tx_call(
            QueuedMessage(
                "StopTransaction",
                payload,
                transaction_ref=tx,
                connector_id=conn.connector_id if conn else None,
            )
        )
        info = getattr(response, "id_tag_info", None)
        return str(info["status"]) if info else None
