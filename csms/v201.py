"""OCPP 2.0.1 adapter: thin ``@on`` handlers that translate, call a service, and answer.

Same contract as :mod:`csms.v16`: no business state, no calls to the own charger from a
handler, and each answer only after the service committed.
"""

from __future__ import annotations

from typing import Any

from ocpp.v201 import call, call_result
from ocpp.v201.datatypes import IdTokenInfoType
from ocpp.v201.enums import Action

from csms import translate_v201 as translate
from csms.events import AuthorizationStatus, IdTokenInfo
from csms.protocol import V201_ERRORS, OcppEndpoint, on
from csms.translate import format_timestamp

__all__ = ["V201ChargePoint", "id_token_info"]


def id_token_info(info: IdTokenInfo) -> IdTokenInfoType:
    status = info.status.value
    if info.status is AuthorizationStatus.INVALID and not info.known:
        status = "Unknown"
    return IdTokenInfoType(
        status=status,
        cache_expiry_date_time=format_timestamp(info.expiry) if info.expiry else None,
    )


class V201ChargePoint(OcppEndpoint):
    ocpp_version = "2.0.1"
    subprotocol = "ocpp2.0.1"
    errors = V201_ERRORS
    known_actions = frozenset(a.value for a in Action)
    _call = call
    _call_result = call_result

    @on(Action.boot_notification)
    async def on_boot_notification(self, **payload: Any) -> call_result.BootNotification:
        status, now = await self._services.chargers.boot(
            self.id, translate.boot_from_v201(payload), status=self._services.boot_status
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
        await self._services.chargers.status(self.id, translate.status_from_v201(payload))
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_token: dict[str, Any], **_: Any) -> call_result.Authorize:
        if id_token["type"] == "NoAuthorization":
            info = IdTokenInfo(AuthorizationStatus.ACCEPTED)
        else:
            info = await self._services.sessions.authorize(
                id_token["id_token"], charge_point_id=self.id, id_token_type=id_token["type"]
            )
        return call_result.Authorize(id_token_info=id_token_info(info))

    @on(Action.transaction_event)
    async def on_transaction_event(self, **payload: Any) -> call_result.TransactionEvent:
        info = await self._services.transactions.handle(
            self.id, self.subprotocol, translate.transaction_event_from_v201(payload)
        )
        return call_result.TransactionEvent(
            id_token_info=None if info is None else id_token_info(info)
        )

    @on(Action.meter_values)
    async def on_meter_values(
        self, evse_id: int, meter_value: list[dict[str, Any]], **_: Any
    ) -> call_result.MeterValues:
        await self._services.sessions.meter_values(
            self.id,
            evse_id=evse_id,
            connector_id=0,
            transaction_id=None,
            samples=translate.samples_from_v201(meter_value),
        )
        return call_result.MeterValues()

    @on(Action.notify_report)
    async def on_notify_report(self, **payload: Any) -> call_result.NotifyReport:
        await self._services.device_model.report(
            self.id,
            translate.device_model_from_report(
                payload.get("report_data") or (), translate.parse_timestamp(payload["generated_at"])
            ),
        )
        return call_result.NotifyReport()

    @on(Action.notify_event)
    async def on_notify_event(self, **payload: Any) -> call_result.NotifyEvent:
        await self._event("NotifyEvent", None, payload)
        return call_result.NotifyEvent()

    @on(Action.security_event_notification)
    async def on_security_event(self, **payload: Any) -> call_result.SecurityEventNotification:
        await self._event("SecurityEvent", payload.get("type"), payload)
        return call_result.SecurityEventNotification()

    @on(Action.firmware_status_notification)
    async def on_firmware_status(self, **payload: Any) -> call_result.FirmwareStatusNotification:
        await self._event("FirmwareStatus", payload.get("status"), payload)
        return call_result.FirmwareStatusNotification()

    @on(Action.log_status_notification)
    async def on_log_status(self, **payload: Any) -> call_result.LogStatusNotification:
        await self._event("LogStatus", payload.get("status"), payload)
        return call_result.LogStatusNotification()

    @on(Action.data_transfer)
    async def on_data_transfer(self, **payload: Any) -> call_result.DataTransfer:
        await self._event("DataTransfer", None, payload)
        return call_result.DataTransfer(status="UnknownVendorId")

    @on(Action.reservation_status_update)
    async def on_reservation_status_update(
        self, reservation_id: int, reservation_update_status: str, **_: Any
    ) -> call_result.ReservationStatusUpdate:
        await self._services.reservations.status_update(
            self.id, reservation_id, reservation_update_status
        )
        return call_result.ReservationStatusUpdate()

    @on(Action.report_charging_profiles)
    async def on_report_charging_profiles(
        self, **payload: Any
    ) -> call_result.ReportChargingProfiles:
        # One event per report message (its chargingProfile list), as the charger sent it.
        await self._event("ChargingProfileReport", payload.get("charging_limit_source"), payload)
        return call_result.ReportChargingProfiles()

    @on(Action.notify_ev_charging_needs)
    async def on_notify_ev_charging_needs(
        self, **payload: Any
    ) -> call_result.NotifyEVChargingNeeds:
        await self._event("EVChargingNeeds", None, payload)
        return call_result.NotifyEVChargingNeeds(status="Accepted")

    async def _event(self, kind: str, status: str | None, payload: dict[str, Any]) -> None:
        await self._services.chargers.event(self.id, kind, status, payload)
