"""OCPP 2.0.1 messages a charging station sends: boot, status, authorize, notifications.

The station has ``config.connectors`` EVSEs with one connector (id 1) each;
``connectors`` is keyed by EVSE id. Transaction messages are in ``v201_transactions``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from ocpp.charge_point import camel_to_snake_case, remove_nones, serialize_as_dict
from ocpp.charge_point import snake_to_camel_case as _snake_to_camel_case
from ocpp.v201 import call

from simulators.charger.base import BaseCharger
from simulators.charger.model import (
    ChargerConfig,
    ChargerOffline,
    QueuedMessage,
    ocpp_time,
)
from simulators.charger.v201_variables import (
    HEARTBEAT_INTERVAL,
    ITEMS_PER_MESSAGE,
    LOCAL_AUTHORIZE_OFFLINE,
    OFFLINE_TX_FOR_UNKNOWN_ID,
    TX_UPDATED_INTERVAL,
    VariableKey,
    chunks,
    default_variables,
)

logger = logging.getLogger("simulators.charger")

RFID = "ISO14443"  # the default idToken type: an RFID card


def as_payload(response: Any) -> dict[str, Any]:
    """A call_result dataclass as the camelCase payload it came in as."""
    payload: dict[str, Any] = _snake_to_camel_case(remove_nones(serialize_as_dict(response)))
    return payload


class V201Messages(BaseCharger):
    """The station-initiated side of OCPP 2.0.1, including the offline queue hooks."""

    def __init__(self, config: ChargerConfig, *, time_scale: float = 1.0) -> None:
        if config.energy_unit not in ("Wh", "kWh"):
            raise ValueError(f"energy_unit must be Wh or kWh, not {config.energy_unit!r}")
        super().__init__(config, time_scale=time_scale)
        self.connector_status: dict[tuple[int, int], str] = {}
        self.variables = default_variables(config)
        self.auth_cache: dict[str, str] = {}
        self.meter_interval_s = config.meter_interval_s
        self.boot_reason = "PowerUp"  # reason of the next BootNotification
        self._boot_retry_s = 0
        self._event_id = 0
        self._station_operative = True

    def variable(self, component: str, name: str) -> str:
        """The Actual value of a device model variable."""
        return self.variables[(component, name)].value

    def _flag(self, key: VariableKey) -> bool:
        return self.variables[key].value == "true"

    def _variable_changed(self, key: VariableKey) -> None:
        """Apply a SetVariables change that affects running behaviour."""
        value = self.variables[key].value
        if key == HEARTBEAT_INTERVAL:
            self.heartbeat_interval = int(value)
            if self._online():
                self._restart_heartbeat()
        elif key == TX_UPDATED_INTERVAL and int(value) > 0:
            self.meter_interval_s = float(value)

    # -- BaseCharger hooks ---------------------------------------------------------------

    async def _on_open(self) -> None:
        await self.boot_notification()
        if self.boot_status != "Accepted":
            self._spawn(self._boot_retry_loop(), link_scoped=True)

    async def _send(self, action: str, payload: dict[str, Any]) -> Any:
        """Send a camelCase payload as the ``action`` CALL; the call_result dataclass."""
        return await self._call(getattr(call, action)(**camel_to_snake_case(payload)))

    async def _send_queued(self, message: QueuedMessage) -> Any:
        return await self._send(message.action, message.payload)

    # -- boot and connection-level messages ------------------------------------------

    async def boot_notification(self, reason: str | None = None) -> str:
        """Send BootNotification; on Accepted report statuses and replay the queue."""
        cfg = self.config
        station = {
            "vendorName": cfg.vendor,
            "model": cfg.model,
            "firmwareVersion": cfg.firmware_version,
        }
        if cfg.serial_number is not None:
            station["serialNumber"] = cfg.serial_number
        response = await self._send(
            "BootNotification", {"chargingStation": station, "reason": reason or self.boot_reason}
        )
        self.boot_status = str(response.status)
        link = self._link
        if self.boot_status != "Accepted":
            self._boot_retry_s = int(response.interval)
        elif link is not None and not link.accepted:
            self.heartbeat_interval = int(response.interval)
            self.variables[HEARTBEAT_INTERVAL].value = str(self.heartbeat_interval)
            self.boot_reason = "PowerUp"
            link.accepted = True
            for evse_id in self.connectors:
                await self.status(evse_id, self._current_status(evse_id))
            await self._replay_queue()
            self._restart_heartbeat()
        return self.boot_status

    async def _boot_retry_loop(self) -> None:
        """Pending or Rejected: boot again after the interval the CSMS gave."""
        while self.boot_status != "Accepted":
            await asyncio.sleep(max(self._boot_retry_s, 1))
            if self.boot_status == "Accepted":  # a triggered boot got there first
                return
            try:
                await self.boot_notification()
            except ChargerOffline:
                return

    async def heartbeat(self) -> datetime:
        response = await self._send("Heartbeat", {})
        return datetime.fromisoformat(str(response.current_time))

    async def status(self, evse_id: int, status: str, connector_id: int = 1) -> None:
        """Record and send a StatusNotification (only recorded until booted)."""
        conn = self.connectors.get(evse_id)
        if conn is not None:
            conn.status = status
        self.connector_status[(evse_id, connector_id)] = status
        if not self._online():
            return
        payload = {
            "timestamp": ocpp_time(),
            "connectorStatus": status,
            "evseId": evse_id,
            "connectorId": connector_id,
        }
        try:
            await self._send("StatusNotification", payload)
        except ChargerOffline:
            logger.info("%s: status %s not delivered", self._name, status)

    def _current_status(self, evse_id: int) -> str:
        return self.connectors[evse_id].status

    async def authorize(self, id_token: str, token_type: str = RFID) -> str:
        """Authorize; offline, fall back to the authorization cache like a real station."""
        if self._online():
            payload = {"idToken": {"idToken": id_token, "type": token_type}}
            try:
                response = await self._send("Authorize", payload)
            except ChargerOffline:
                pass
            else:
                status = str(response.id_token_info["status"])
                self.auth_cache[id_token] = status
                return status
        if self._flag(LOCAL_AUTHORIZE_OFFLINE) and id_token in self.auth_cache:
            return self.auth_cache[id_token]
        if self._flag(OFFLINE_TX_FOR_UNKNOWN_ID):
            return "Accepted"
        raise ChargerOffline(f"cannot authorize {id_token!r} while offline")

    # -- other station-initiated messages -------------------------------------------------

    async def notify_event(
        self,
        component: str,
        variable: str,
        actual_value: str,
        *,
        trigger: str = "Delta",
        event_notification_type: str = "HardWiredNotification",
        evse_id: int | None = None,
        cleared: bool | None = None,
        tech_code: str | None = None,
        tech_info: str | None = None,
        transaction_id: str | None = None,
        timestamp: datetime | None = None,
    ) -> int:
        """Send a NotifyEvent with one event; returns its eventId."""
        self._event_id += 1
        data: dict[str, Any] = {
            "eventId": self._event_id,
            "timestamp": ocpp_time(timestamp),
            "trigger": trigger,
            "actualValue": actual_value,
            "eventNotificationType": event_notification_type,
            "component": {"name": component},
            "variable": {"name": variable},
        }
        if evse_id is not None:
            data["component"]["evse"] = {"id": evse_id}
        optional = {
            "cleared": cleared,
            "techCode": tech_code,
            "techInfo": tech_info,
            "transactionId": transaction_id,
        }
        data.update({k: v for k, v in optional.items() if v is not None})
        payload = {"generatedAt": ocpp_time(), "seqNo": 0, "eventData": [data]}
        await self._send("NotifyEvent", payload)
        return self._event_id

    async def notify_report(self, request_id: int, report_data: list[dict[str, Any]]) -> int:
        """NotifyReport pages of DeviceDataCtrlr.ItemsPerMessage items (seqNo 0.., tbc).

        Returns how many messages were sent.
        """
        pages = chunks(report_data, int(self.variables[ITEMS_PER_MESSAGE].value))
        generated = ocpp_time()
        for seq_no, page in enumerate(pages):
            payload: dict[str, Any] = {
                "requestId": request_id,
                "generatedAt": generated,
                "seqNo": seq_no,
                "tbc": seq_no < len(pages) - 1,
            }
            if page:
                payload["reportData"] = page
            await self._send("NotifyReport", payload)
        return len(pages)

    async def report_charging_profiles(
        self,
        request_id: int,
        evse_id: int,
        profiles: list[dict[str, Any]],
        *,
        source: str = "CSO",
        tbc: bool = False,
    ) -> None:
        """One ReportChargingProfiles (profiles as installed, snake_case keys)."""
        payload: dict[str, Any] = {
            "requestId": request_id,
            "chargingLimitSource": source,
            "tbc": tbc,
            "evseId": evse_id,
            "chargingProfile": profiles,
        }
        await self._send("ReportChargingProfiles", payload)

    async def notify_ev_charging_needs(
        self,
        evse_id: int,
        energy_wh: float,
        departure: datetime | None = None,
        *,
        max_current_a: float = 32.0,
        max_voltage_v: float = 400.0,
    ) -> str:
        """NotifyEVChargingNeeds for an AC EV wanting ``energy_wh`` (by ``departure``);
        returns the CSMS's status."""
        needs: dict[str, Any] = {
            "requestedEnergyTransfer": "AC_three_phase",
            "acChargingParameters": {
                "energyAmount": round(energy_wh),
                "evMinCurrent": 6,
                "evMaxCurrent": round(max_current_a),
                "evMaxVoltage": round(max_voltage_v),
            },
        }
        if departure is not None:
            needs["departureTime"] = ocpp_time(departure)
        result = await self._send(
            "NotifyEVChargingNeeds", {"evseId": evse_id, "chargingNeeds": needs}
        )
        return str(result.status)

    async def security_event(
        self, type: str, *, tech_info: str | None = None, timestamp: datetime | None = None
    ) -> None:
        payload: dict[str, Any] = {"type": type, "timestamp": ocpp_time(timestamp)}
        if tech_info is not None:
            payload["techInfo"] = tech_info
        await self._send("SecurityEventNotification", payload)

    async def firmware_status(self, status: str, request_id: int | None = None) -> None:
        payload: dict[str, Any] = {"status": status}
        if request_id is not None:
            payload["requestId"] = request_id
        await self._send("FirmwareStatusNotification", payload)

    async def log_status(self, status: str, request_id: int | None = None) -> None:
        payload: dict[str, Any] = {"status": status}
        if request_id is not None:
            payload["requestId"] = request_id
        await self._send("LogStatusNotification", payload)

    async def data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: Any = None
    ) -> dict[str, Any]:
        """Send DataTransfer; the response payload (status, data)."""
        request = call.DataTransfer(vendor_id=vendor_id, message_id=message_id, data=data)
        return as_payload(await self._call(request))
