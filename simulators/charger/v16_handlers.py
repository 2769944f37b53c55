"""The OCPP 1.6 ChargePoint (client side) that answers calls from the central system.

Each ``@on`` handler decides the answer from the charger's state and returns at once;
anything that needs further messages (a session, a status change, a triggered message)
is a follow-up run by the matching ``@after`` hook once the answer has been sent (see
:mod:`simulators.charger.routing`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ocpp.v16 import ChargePoint, call_result
from websockets.asyncio.client import ClientConnection

from simulators.charger.model import Reservation, utc_now
from simulators.charger.reservations import parse_expiry
from simulators.charger.routing import FollowUps
from simulators.charger.routing import after_action as _after
from simulators.charger.routing import on_action as _on
from simulators.charger.smart_charging import parse_profile

if TYPE_CHECKING:
    from simulators.charger.v16 import SimulatedCharger

TRIGGERABLE = frozenset(
    {
        "BootNotification",
        "Heartbeat",
        "StatusNotification",
        "MeterValues",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
    }
)


class ChargePoint16(FollowUps, ChargePoint):  # type: ignore[misc]  # the ocpp library is untyped
    """Routes one connection's CSMS->charger calls to a SimulatedCharger."""

    def __init__(self, charger: SimulatedCharger, connection: ClientConnection) -> None:
        super().__init__(
            charger.config.charge_point_id,
            connection,
            response_timeout=charger.config.call_timeout_s,
        )
        self._charger = charger
        self._follow_ups = {}

    # -- RemoteStartTransaction / RemoteStopTransaction ---------------------------------

    @_on("RemoteStartTransaction")
    def on_remote_start(
        self,
        id_tag: str,
        call_unique_id: str,
        connector_id: int | None = None,
        charging_profile: dict[str, Any] | None = None,
        **_: Any,
    ) -> Any:
        ch = self._charger
        conn = ch._pick_connector(connector_id, id_tag)
        if conn is None:
            return call_result.RemoteStartTransaction(status="Rejected")
        if charging_profile is not None:
            profile = parse_profile(
                conn.connector_id,
                charging_profile,
                charging_profile["charging_schedule"],
                int(charging_profile["charging_profile_id"]),
            )
            if profile.purpose != "TxProfile" or ch.set_charging_profile(profile) != "Accepted":
                return call_result.RemoteStartTransaction(status="Rejected")
        conn.claim()  # claimed now, so a second RemoteStart is rejected
        return self._answer(
            call_unique_id,
            call_result.RemoteStartTransaction(status="Accepted"),
            lambda: ch._start_remote_session(conn, id_tag),
        )

    @_after("RemoteStartTransaction")
    def after_remote_start(self, call_unique_id: str, **_: Any) -> None:
        self._follow_up(call_unique_id)

    @_on("RemoteStopTransaction")
    def on_remote_stop(self, transaction_id: int, call_unique_id: str, **_: Any) -> Any:
        ch = self._charger
        conn = ch._connector_of(transaction_id)
        if conn is None:
            return call_result.RemoteStopTransaction(status="Rejected")
        return self._answer(
            call_unique_id,
            call_result.RemoteStopTransaction(status="Accepted"),
            lambda: ch._request_stop(conn, "Remote"),
        )

    @_after("RemoteStopTransaction")
    def after_remote_stop(self, call_unique_id: str, **_: Any) -> None:
        self._follow_up(call_unique_id)

    # -- Reset / UnlockConnector / ChangeAvailability -----------------------------------

    @_on("Reset")
    def on_reset(self, type: str, call_unique_id: str, **_: Any) -> Any:
        ch = self._charger
        return self._answer(
            call_unique_id,
            call_result.Reset(status="Accepted"),
            lambda: ch._spawn_reset(type),
        )

    @_after("Reset")
    def after_reset(self, call_unique_id: str, **_: Any) -> None:
        self._follow_up(call_unique_id)

    @_on("UnlockConnector")
    def on_unlock_connector(self, connector_id: int, call_unique_id: str, **_: Any) -> Any:
        ch = self._charger
        conn = ch.connectors.get(connector_id)
        if conn is None:
            return call_result.UnlockConnector(status="NotSupported")
        return self._answer(
            call_unique_id,
            call_result.UnlockConnector(status="Unlocked"),
            lambda: ch._request_stop(conn, "UnlockCommand"),
        )

    @_after("UnlockConnector")
    def after_unlock_connector(self, call_unique_id: str, **_: Any) -> None:
        self._follow_up(call_unique_id)

    @_on("ChangeAvailability")
    def on_change_availability(
        self, connector_id: int, type: str, call_unique_id: str, **_: Any
    ) -> Any:
        ch = self._charger
        status, changed = ch._change_availability(connector_id, type == "Operative")
        return self._answer(
            call_unique_id,
            call_result.ChangeAvailability(status=status),
            (lambda: ch._spawn_statuses(changed)) if changed else None,
        )

    @_after("ChangeAvailability")
    def after_change_availability(self, call_unique_id: str, **_: Any) -> None:
        self._follow_up(call_unique_id)

    # -- SetChargingProfile / ClearChargingProfile / GetCompositeSchedule ----------------

    @_on("SetChargingProfile")
    def on_set_charging_profile(
        self, connector_id: int, cs_charging_profiles: dict[str, Any], **_: Any
    ) -> Any:
        profile = cs_charging_profiles
        installed = parse_profile(
            connector_id,
            profile,
            profile["charging_schedule"],
            int(profile["charging_profile_id"]),
        )
        status = self._charger.set_charging_profile(installed)
        return call_result.SetChargingProfile(status=status)

    @_on("ClearChargingProfile")
    def on_clear_charging_profile(
        self,
        id: int | None = None,
        connector_id: int | None = None,
        charging_profile_purpose: str | None = None,
        stack_level: int | None = None,
        **_: Any,
    ) -> Any:
        status = self._charger.clear_charging_profile(
            id, connector_id, charging_profile_purpose, stack_level
        )
        return call_result.ClearChargingProfile(status=status)

    @_on("GetCompositeSchedule")
    def on_get_composite_schedule(
        self,
        connector_id: int,
        duration: int,
        charging_rate_unit: str | None = None,
        **_: Any,
    ) -> Any:
        status, unit, periods = self._charger.composite_schedule(
            connector_id, duration, charging_rate_unit
        )
        if status != "Accepted":
            return call_result.GetCompositeSchedule(status=status)
        return call_result.GetCompositeSchedule(
            status=status,
            connector_id=connector_id,
            schedule_start=utc_now().isoformat().replace("+00:00", "Z"),
            charging_schedule={
                "duration": duration,
                "charging_rate_unit": unit,
                "charging_schedule_period": periods,
            },
        )

    # -- ReserveNow / CancelReservation ----------------------------------------------------

    @_on("ReserveNow")
    def on_reserve_now(
        self,
        connector_id: int,
        expiry_date: str,
        id_tag: str,
        reservation_id: int,
        call_unique_id: str,
        parent_id_tag: str | None = None,
        **_: Any,
    ) -> Any:
        ch = self._charger
        reservation = Reservation(reservation_id, id_tag, parse_expiry(expiry_date), parent_id_tag)
        status, follow_up = ch._reserve(
            ch.connectors.get(connector_id), reservation, connector_zero=connector_id == 0
        )
        return self._answer(call_unique_id, call_result.ReserveNow(status=status), follow_up)

    @_after("ReserveNow")
    def after_reserve_now(self, call_unique_id: str, **_: Any) -> None:
        self._follow_up(call_unique_id)

    @_on("CancelReservation")
    def on_cancel_reservation(self, reservation_id: int, call_unique_id: str, **_: Any) -> Any:
        status, follow_up = self._charger._cancel_reservation(reservation_id)
        return self._answer(call_unique_id, call_result.CancelReservation(status=status), follow_up)

    @_after("CancelReservation")
    def after_cancel_reservation(self, call_unique_id: str, **_: Any) -> None:
        self._follow_up(call_unique_id)

    # -- SendLocalList / GetLocalListVersion ---------------------------------------------

    @_on("SendLocalList")
    def on_send_local_list(
        self,
        list_version: int,
        update_type: str,
        local_authorization_list: list[dict[str, Any]] | None = None,
        **_: Any,
    ) -> Any:
        ch = self._charger
        if ch.configuration["LocalAuthListEnabled"] != "true":
            return call_result.SendLocalList(status="NotSupported")
        entries = local_authorization_list or []
        if len(entries) > int(ch.configuration["SendLocalListMaxLength"]):
            return call_result.SendLocalList(status="Failed")
        status = ch.local_list.update(
            list_version,
            update_type,
            [(str(e["id_tag"]), e.get("id_tag_info")) for e in entries],
        )
        return call_result.SendLocalList(status=status)

    @_on("GetLocalListVersion")
    def on_get_local_list_version(self, **_: Any) -> Any:
        ch = self._charger
        enabled = ch.configuration["LocalAuthListEnabled"] == "true"
        return call_result.GetLocalListVersion(
            list_version=ch.local_list.version if enabled else -1
        )

    # -- UpdateFirmware / GetDiagnostics ------------------------------------------------

    @_on("UpdateFirmware")
    def on_update_firmware(self, location: str, call_unique_id: str, **_: Any) -> Any:
        follow_up = self._charger._plan_firmware(location, None)
        return self._answer(call_unique_id, call_result.UpdateFirmware(), follow_up)

    @_after("UpdateFirmware")
    def after_update_firmware(self, call_unique_id: str, **_: Any) -> None:
        self._follow_up(call_unique_id)

    @_on("GetDiagnostics")
    def on_get_diagnostics(self, location: str, call_unique_id: str, **_: Any) -> Any:
        ch = self._charger
        file_name = ch.upload_file_name(ch.config.charge_point_id)
        return self._answer(
            call_unique_id,
            call_result.GetDiagnostics(file_name=file_name),
            ch._plan_upload(location, None),
        )

    @_after("GetDiagnostics")
    def after_get_diagnostics(self, call_unique_id: str, **_: Any) -> None:
        self._follow_up(call_unique_id)

    # -- configuration, cache, data transfer --------------------------------------------

    @_on("GetConfiguration")
    def on_get_configuration(self, key: list[str] | None = None, **_: Any) -> Any:
        ch = self._charger
        names = list(key) if key else list(ch.configuration)
        known = [
            {"key": name, "readonly": name in ch.readonly_keys, "value": ch.configuration[name]}
            for name in names
            if name in ch.configuration
        ]
        unknown = [name for name in names if name not in ch.configuration]
        return call_result.GetConfiguration(configuration_key=known, unknown_key=unknown or None)

    @_on("ChangeConfiguration")
    def on_change_configuration(self, key: str, value: str, **_: Any) -> Any:
        return call_result.ChangeConfiguration(
            status=self._charger._change_configuration(key, value)
        )

    @_on("ClearCache")
    def on_clear_cache(self, **_: Any) -> Any:
        self._charger.auth_cache.clear()
        return call_result.ClearCache(status="Accepted")

    @_on("DataTransfer")
    def on_data_transfer(self, vendor_id: str, **_: Any) -> Any:
        return call_result.DataTransfer(status="UnknownVendorId")

    # -- TriggerMessage -----------------------------------------------------------------

    @_on("TriggerMessage")
    def on_trigger_message(
        self,
        requested_message: str,
        call_unique_id: str,
        connector_id: int | None = None,
        **_: Any,
    ) -> Any:
        ch = self._charger
        if connector_id is not None and not 0 <= connector_id <= len(ch.connectors):
            return call_result.TriggerMessage(status="Rejected")
        if requested_message not in TRIGGERABLE:
            return call_result.TriggerMessage(status="NotImplemented")
        return self._answer(
            call_unique_id,
            call_result.TriggerMessage(status="Accepted"),
            lambda: ch._spawn_triggered(requested_message, connector_id),
        )

    @_after("TriggerMessage")
    def after_trigger_message(self, call_unique_id: str, **_: Any) -> None:
        self._follow_up(call_unique_id)
