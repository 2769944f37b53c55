"""OCPP 1.6 adapter: thin ``@on`` handlers that translate, call a service, and answer.

No business state lives here, and no handler awaits a call to its own charger (that would
deadlock the connection: mobilityhouse/ocpp#130). Each handler returns only after the
service committed, so an acknowledged message is durable.
"""

from __future__ import annotations

from typing import Any

from ocpp.v16 import call, call_result
from ocpp.v16.datatypes import IdTagInfo
from ocpp.v16.enums import Action, DataTransferStatus

from csms import translate
from csms.events import IdTokenInfo
from csms.protocol import V16_ERRORS, OcppEndpoint, on
from csms.translate import format_timestamp

__all__ = ["V16ChargePoint", "id_tag_info"]


def id_tag_info(info: IdTokenInfo) -> IdTagInfo:
    status = info.status.value
    return IdTagInfo(
        status=status,
        parent_id_tag=info.parent_id_token,
        expiry_date=format_timestamp(info.expiry) if info.expiry else None,
    )


class V16ChargePoint(OcppEndpoint):
    ocpp_version = "1.6"
    subprotocol = "ocpp1.6"
    errors = V16_ERRORS
    known_actions = frozenset(a.value for a in Action)
    # What ChargePoint.call() uses to build replies to our own calls.
    _call = call
    _call_result = call_result

    @on(Action.boot_notification)
    async def on_boot_notification(self, **payload: Any) -> call_result.BootNotification:
        status, now = await self._services.chargers.boot(
            self.id, translate.boot_from_v16(payload), status=self._services.boot_status
        )
        return call_result.BootNotification(
            current_time=format_timestamp(now),
            interval=self._services.heartbeat_interval_s,
            status=status,
        )

    @on(Action.heartbeat)
    async def on_heartbeat(self) -> call_result.Heartbeat:
        now = self._services.chargers.heartbeat()
        return call_result.Heartbeat(current_time=format_timestamp(now))

    @on(Action.status_notification)
    async def on_status_notification(self, **payload: Any) -> call_result.StatusNotification:
        status = translate.status_from_v16(payload, self._services.clock())
        await self._services.chargers.status(self.id, status)
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_tag: str) -> call_result.Authorize:
        info = await self._services.sessions.authorize(id_tag, charge_point_id=self.id)
        return call_result.Authorize(id_tag_info=id_tag_info(info))

    @on(Action.start_transaction)
    async def on_start_transaction(self, **payload: Any) -> call_result.StartTransaction:
        outcome = await self._services.sessions.start(
            self.id, self.subprotocol, translate.start_from_v16(payload)
        )
        return call_result.StartTransaction(
            transaction_id=int(outcome.transaction_id),
            id_tag_info=id_tag_info(outcome.id_token_info),
        )

    @on(Action.meter_values)
    async def on_meter_values(
        self,
        connector_id: int,
        meter_value: list[dict[str, Any]],
        transaction_id: int | None = None,
    ) -> call_result.MeterValues:
        await self._services.sessions.meter_values(
            self.id,
            evse_id=connector_id,
            connector_id=connector_id,
            transaction_id=None if transaction_id is None else str(transaction_id),
            samples=translate.samples_from_v16(meter_value),
        )
        return call_result.MeterValues()

    @on(Action.stop_transaction)
    async def on_stop_transaction(self, **payload: Any) -> call_result.StopTransaction:
        info = await self._services.sessions.stop(
            self.id, self.subprotocol, translate.stop_from_v16(payload)
        )
        return call_result.StopTransaction(id_tag_info=None if info is None else id_tag_info(info))

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id: str, **payload: Any) -> call_result.DataTransfer:
        # No vendor extensions are registered yet; record the request for the operator.
        await self._services.chargers.event(
            self.id, "DataTransfer", None, {"vendorId": vendor_id, **payload}
        )
        return call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id)

    @on(Action.diagnostics_status_notification)
    async def on_diagnostics_status(self, status: str) -> call_result.DiagnosticsStatusNotification:
        await self._services.chargers.event(
            self.id, "DiagnosticsStatus", status, {"status": status}
        )
        return call_result.DiagnosticsStatusNotification()

    @on(Action.firmware_status_notification)
    async def on_firmware_status(self, status: str) -> call_result.FirmwareStatusNotification:
        await self._services.chargers.event(self.id, "FirmwareStatus", status, {"status": status})
        return call_result.FirmwareStatusNotification()

    @on(Action.security_event_notification)
    async def on_security_event(self, **payload: Any) -> call_result.SecurityEventNotification:
        await self._services.chargers.event(self.id, "SecurityEvent", payload.get("type"), payload)
        return call_result.SecurityEventNotification()

    @on(Action.log_status_notification)
    async def on_log_status(self, **payload: Any) -> call_result.LogStatusNotification:
        await self._services.chargers.event(self.id, "LogStatus", payload.get("status"), payload)
        return call_result.LogStatusNotification()

    @on(Action.signed_firmware_status_notification)
    async def on_signed_firmware_status(
        self, **payload: Any
    ) -> call_result.SignedFirmwareStatusNotification:
        await self._services.chargers.event(
            self.id, "FirmwareStatus", payload.get("status"), payload
        )
        return call_result.SignedFirmwareStatusNotification()
