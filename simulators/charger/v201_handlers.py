"""The OCPP 2.0.1 ChargePoint (station side) that answers calls from the CSMS.

Each ``@on`` handler decides the answer from the station's state and returns at once;
anything that needs further messages (a session, statuses, a report, a triggered
message) is a follow-up run by the matching ``@after`` hook once the answer has been
sent (see :mod:`simulators.charger.routing`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ocpp.v201 import ChargePoint, call_result
from websockets.asyncio.client import ClientConnection

from simulators.charger.model import Reservation, utc_now
from simulators.charger.reservations import parse_expiry
from simulators.charger.routing import FollowUps
from simulators.charger.routing import after_action as _after
from simulators.charger.routing import on_action as _on
from simulators.charger.smart_charging import parse_profile
from simulators.charger.v201_variables import get_variable, set_variable

if TYPE_CHECKING:
    from simulators.charger.v201 import SimulatedCharger201

REPORT_BASES = frozenset({"ConfigurationInventory", "FullInventory", "SummaryInventory"})


class ChargePoint201(FollowUps, ChargePoint):  # type: ignore[misc]  # the ocpp library is untyped
    """Routes one connection's CSMS->station calls to a SimulatedCharger201."""

    def __init__(self, charger: SimulatedCharger201, connection: ClientConnection) -> None:
        super().__init__(
            charger.config.charge_point_id,
            connection,
            response_timeout=charger.config.call_timeout_s,
        )
        self._charger = charger
        self._follow_ups = {}

    # -- RequestStartTransaction / RequestStopTransaction --------------------------------

    @_on("RequestStartTransaction")
    def on_request_start(
        self,
        id_token: dict[str, Any],
        remote_start_id: int,
        call_unique_id: str,
        evse_id: int | None = None,
        charging_profile: dict[str, Any] | None = None,
        **_: Any,
    ) -> Any:
        ch = self._charger
        conn = ch._pick_evse(evse_id, str(id_token["id_token"]))
        if conn is None:
            return call_result.RequestStartTransaction(status="Rejected")
        if charging_profile is not None:
            profile = parse_profile(
                conn.connector_id,
                charging_profile,
                charging_profile["charging_schedule"][0],
                int(charging_profile["id"]),
            )
            if profile.purpose != "TxProfile" or ch.set_charging_profile(profile) != "Accepted":
                return call_result.RequestStartTransaction(status="Rejected")
        conn.claim()  # claimed now, so a second request is rejected
        token = {"idToken": str(id_token["id_token"]), "type": str(id_token["type"])}
        return self._answer(
            call_unique_id,
            call_result.RequestStartTransaction(status="Accepted"),
            lambda: ch._start_remote_session(conn, token, remote_start_id),
        )

    @_after("RequestStartTransaction")
    def after_request_start(self, call_unique_id: str, **_: Any) -> None:
        self._follow_up(call_unique_id)

    @_on("RequestStopTransaction")
    def on_request_stop(self, transaction_id: str, call_unique_id: str, **_: Any) -> Any:
        ch = self._charger
        conn = ch._evse_of(transaction_id)
        if conn is None:
            return call_result.RequestStopTransaction(status="Rejected")
        return self._answer(
            call_unique_id,
            call_result.RequestStopTransaction(status="Accepted"),
            lambda: ch._request_stop(conn, "Remote"),
        )

    @_after("RequestStopTransaction")
    def after_request_stop(self, call_unique_id: str, **_: Any) -> None:
        self._follow_up(call_unique_id)

    # -- Reset / UnlockConnector / ChangeAvailability -----------------------------------

    @_on("Reset")
    def on_reset(self, type: str, call_unique_id: str, evse_id: int | None = None, **_: Any) -> Any:
        status, follow_up = self._charger._plan_reset(type, evse_id)
        return self._answer(call_unique_id, call_result.Reset(status=status), follow_up)

    @_after("Reset")
    def after_reset(self, call_unique_id: str, **_: Any) -> None:
        self._follow_up(call_unique_id)

    @_on("UnlockConnector")
    def on_unlock_connector(self, evse_id: int, connector_id: int, **_: Any) -> Any:
        ch = self._charger
        if evse_id not in ch.connectors or connector_id != 1:
            return call_result.UnlockConnector(status="UnknownConnector")
        tx = ch.transactions.get(evse_id)
        if tx is not None and tx.id_token is not None:  # F05.FR.02: stop it first
            return call_result.UnlockConnector(status="OngoingAuthorizedTransaction")
        return call_result.UnlockConnector(status="Unlocked")

    @_on("ChangeAvailability")
    def on_change_availability(
        self,
        operational_status: str,
        call_unique_id: str,
        evse: dict[str, Any] | None = None,
        **_: Any,
    ) -> Any:
        ch = self._charger
        if evse is not None and evse.get("connector_id") not in (None, 1):
            return call_result.ChangeAvailability(status="Rejected")
        evse_id = None if evse is None else int(evse["id"])
        if evse_id == 0:
            evse_id = None  # EVSE id 0 is the whole station
        status, changed = ch._change_availability(evse_id, operational_status == "Operative")
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
        self, evse_id: int, charging_profile: dict[str, Any], **_: Any
    ) -> Any:
        profile = charging_profile
        installed = parse_profile(
            evse_id, profile, profile["charging_schedule"][0], int(profile["id"])
        )
        status = self._charger.set_charging_profile(installed)
        return call_result.SetChargingProfile(status=status)

    @_on("ClearChargingProfile")
    def on_clear_charging_profile(
        self,
        charging_profile_id: int | None = None,
        charging_profile_criteria: dict[str, Any] | None = None,
        **_: Any,
    ) -> Any:
        criteria = charging_profile_criteria or {}
        status = self._charger.clear_charging_profile(
            charging_profile_id,
            criteria.get("evse_id"),
            criteria.get("charging_profile_purpose"),
            criteria.get("stack_level"),
        )
        return call_result.ClearChargingProfile(status=status)

    @_on("GetChargingProfiles")
    def on_get_charging_profiles(
        self,
        request_id: int,
        charging_profile: dict[str, Any],
        call_unique_id: str,
        evse_id: int | None = None,
        **_: Any,
    ) -> Any:
        ch = self._charger
        found = ch.matching_profiles(
            evse_id,
            charging_profile.get("charging_profile_purpose"),
            charging_profile.get("stack_level"),
            charging_profile.get("charging_profile_id"),
            charging_profile.get("charging_limit_source"),
        )
        if not found:
            return call_result.GetChargingProfiles(status="NoProfiles")
        reports = [(evse, [p.raw for p in profiles]) for evse, profiles in found.items()]
        return self._answer(
            call_unique_id,
            call_result.GetChargingProfiles(status="Accepted"),
            lambda: ch._spawn_task(ch._send_profile_reports(request_id, reports)),
        )

    @_after("GetChargingProfiles")
    def after_get_charging_profiles(self, call_unique_id: str, **_: Any) -> None:
        self._follow_up(call_unique_id)

    @_on("GetCompositeSchedule")
    def on_get_composite_schedule(
        self, duration: int, evse_id: int, charging_rate_unit: str | None = None, **_: Any
    ) -> Any:
        status, unit, periods = self._charger.composite_schedule(
            evse_id, duration, charging_rate_unit
        )
        if status != "Accepted":
            return call_result.GetCompositeSchedule(status=status)
        return call_result.GetCompositeSchedule(
            status=status,
            schedule={
                "evse_id": evse_id,
                "duration": duration,
                "schedule_start": utc_now().isoformat().replace("+00:00", "Z"),
                "charging_rate_unit": unit,
                "charging_schedule_period": periods,
            },
        )

    # -- ReserveNow / CancelReservation ----------------------------------------------------

    @_on("ReserveNow")
    def on_reserve_now(
        self,
        id: int,
        expiry_date_time: str,
        id_token: dict[str, Any],
        call_unique_id: str,
        evse_id: int | None = None,
        group_id_token: dict[str, Any] | None = None,
        **_: Any,
    ) -> Any:
        ch = self._charger
        group = None if group_id_token is None else str(group_id_token["id_token"])
        reservation = Reservation(
            id, str(id_token["id_token"]), parse_expiry(expiry_date_time), group
        )
        status, follow_up = ch._reserve(ch._reservable_evse(evse_id), reservation)
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
        version_number: int,
        update_type: str,
        local_authorization_list: list[dict[str, Any]] | None = None,
        **_: Any,
    ) -> Any:
        entries = [
            (str(e["id_token"]["id_token"]), e.get("id_token_info"))
            for e in local_authorization_list or []
        ]
        status = self._charger.local_list.update(version_number, update_type, entries)
        return call_result.SendLocalList(status=status)

    @_on("GetLocalListVersion")
    def on_get_local_list_version(self, **_: Any) -> Any:
        return call_result.GetLocalListVersion(version_number=self._charger.local_list.version)

    # -- device model -------------------------------------------------------------------

    @_on("GetVariables")
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        model = self._charger.variables
        return call_result.GetVariables(
            get_variable_result=[get_variable(model, item) for item in get_variable_data]
        )

    @_on("SetVariables")
    def on_set_variables(self, set_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        ch = self._charger
        results = []
        for item in set_variable_data:
            result, changed = set_variable(ch.variables, item)
            results.append(result)
            if changed is not None:
                ch._variable_changed(changed)
        return call_result.SetVariables(set_variable_result=results)

    @_on("GetBaseReport")
    def on_get_base_report(
        self, request_id: int, report_base: str, call_unique_id: str, **_: Any
    ) -> Any:
        ch = self._charger
        if report_base not in REPORT_BASES:
            return call_result.GetBaseReport(status="NotSupported")
        return self._answer(
            call_unique_id,
            call_result.GetBaseReport(status="Accepted"),
            lambda: ch._spawn_task(ch._send_report(request_id, report_base)),
        )

    @_after("GetBaseReport")
    def after_get_base_report(self, call_unique_id: str, **_: Any) -> None:
        self._follow_up(call_unique_id)

    # -- UpdateFirmware / GetLog ---------------------------------------------------------

    @_on("UpdateFirmware")
    def on_update_firmware(
        self, request_id: int, firmware: dict[str, Any], call_unique_id: str, **_: Any
    ) -> Any:
        follow_up = self._charger._plan_firmware(str(firmware["location"]), request_id)
        return self._answer(
            call_unique_id, call_result.UpdateFirmware(status="Accepted"), follow_up
        )

    @_after("UpdateFirmware")
    def after_update_firmware(self, call_unique_id: str, **_: Any) -> None:
        self._follow_up(call_unique_id)

    @_on("GetLog")
    def on_get_log(
        self,
        log: dict[str, Any],
        log_type: str,
        request_id: int,
        call_unique_id: str,
        **_: Any,
    ) -> Any:
        ch = self._charger
        file_name = ch.upload_file_name(ch.config.charge_point_id, log_type)
        return self._answer(
            call_unique_id,
            call_result.GetLog(status="Accepted", filename=file_name),
            ch._plan_upload(str(log["remote_location"]), request_id),
        )

    @_after("GetLog")
    def after_get_log(self, call_unique_id: str, **_: Any) -> None:
        self._follow_up(call_unique_id)

    # -- cache, data transfer, TriggerMessage -------------------------------------------

    @_on("ClearCache")
    def on_clear_cache(self, **_: Any) -> Any:
        self._charger.auth_cache.clear()
        return call_result.ClearCache(status="Accepted")

    @_on("DataTransfer")
    def on_data_transfer(self, vendor_id: str, **_: Any) -> Any:
        return call_result.DataTransfer(status="UnknownVendorId")

    @_on("TriggerMessage")
    def on_trigger_message(
        self,
        requested_message: str,
        call_unique_id: str,
        evse: dict[str, Any] | None = None,
        **_: Any,
    ) -> Any:
        evse_id = None if evse is None else int(evse["id"])
        status, follow_up = self._charger._plan_trigger(requested_message, evse_id)
        return self._answer(call_unique_id, call_result.TriggerMessage(status=status), follow_up)

    @_after("TriggerMessage")
    def after_trigger_message(self, call_unique_id: str, **_: Any) -> None:
        self._follow_up(call_unique_id)
