"""OCPP 2.0.1 requests for the version-neutral admin commands.

Mapping of the neutral bodies: ``connector_id`` of remote-start and change-availability is
the EVSE id (0 = the whole station); unlock-connector takes ``evse_id`` and
``connector_id``, or just ``connector_id`` as the EVSE with its first connector; reset
``soft``/``hard`` become OnIdle/Immediate, optionally for one EVSE; reserve-now takes
``evse_id`` (or ``connector_id`` as the EVSE; neither or 0: any EVSE) and sends the id
token with its type from the id_tokens table (ISO14443 when unknown), ``parent_id_tag``
as the groupIdToken; send-local-list's ``list_version`` is the versionNumber, entries
take their id token type from the id_tokens table (ISO14443 when unknown) and
``parent_id_tag`` as the groupIdToken; update-firmware puts ``location``,
``retrieve_date`` and ``install_date`` into ``firmware``; get-diagnostics is sent as GetLog
(DiagnosticsLog) with ``location`` as the remoteLocation and ``start_time`` /
``stop_time`` as oldest / latest timestamp; get-charging-profiles (2.0.1 only) sends
its criteria with ChargingStationMaxProfile for ChargePointMaxProfile. update-firmware,
get-log, get-diagnostics and get-charging-profiles carry a requestId: the body's, or the
next of the ``ocpp_request_id`` sequence (see :mod:`csms.firmware`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ocpp.v201 import call

from csms import command_models as m
from csms import smart_charging
from csms.errors import CommandNotSupported, InvalidInput
from csms.translate import format_timestamp

__all__ = ["build"]

_TRIGGERABLE = {
    "BootNotification",
    "LogStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "SignChargingStationCertificate",
    "SignV2GCertificate",
    "StatusNotification",
    "TransactionEvent",
    "SignCombinedCertificate",
    "PublishFirmwareStatusNotification",
}


def _v201_entry(entry: m.AuthorizationData, token_type: str) -> dict[str, Any]:
    data: dict[str, Any] = {"id_token": {"id_token": entry.id_token, "type": token_type}}
    info = entry.id_token_info
    if info is not None:
        data["id_token_info"] = {
            "status": info.status,
            "cache_expiry_date_time": (
                None if info.expiry_date is None else format_timestamp(info.expiry_date)
            ),
            "group_id_token": (
                None
                if info.parent_id_tag is None
                else {"id_token": info.parent_id_tag, "type": "Central"}
            ),
        }
    return data


def _get_log(
    log_type: str,
    request_id: int,
    remote_location: str,
    oldest: datetime | None,
    latest: datetime | None,
    retries: int | None,
    retry_interval: int | None,
) -> Any:
    log: dict[str, Any] = {"remote_location": remote_location}
    if oldest is not None:
        log["oldest_timestamp"] = format_timestamp(oldest)
    if latest is not None:
        log["latest_timestamp"] = format_timestamp(latest)
    return call.GetLog(
        log=log,
        log_type=log_type,
        request_id=request_id,
        retries=retries,
        retry_interval=retry_interval,
    )


def build(
    body: m.CommandBody,
    *,
    transaction_id: str | None = None,
    remote_start_id: int | None = None,
    id_token_type: str | None = None,
    id_token_types: dict[str, str] | None = None,
    request_id: int | None = None,
) -> Any:
    """Return the ``ocpp.v201.call`` request for a command body.

    Raises:
        CommandNotSupported: OCPP 2.0.1 has no such command (1.6 configuration keys).
        InvalidInput: a value 2.0.1 cannot carry.
    """
    match body:
        case m.RemoteStart():
            assert remote_start_id is not None
            return call.RequestStartTransaction(
                id_token={"id_token": body.id_token, "type": "Central"},
                remote_start_id=remote_start_id,
                evse_id=body.connector_id,
                charging_profile=(
                    smart_charging.v201_profile(
                        body.charging_profile, body.charging_profile_id, None
                    )
                    if isinstance(body.charging_profile, m.ChargingProfileSpec)
                    and body.charging_profile_id is not None
                    else None
                ),
            )
        case m.RemoteStop():
            assert transaction_id is not None
            return call.RequestStopTransaction(transaction_id=transaction_id)
        case m.Reset():
            return call.Reset(
                type="OnIdle" if body.type == "soft" else "Immediate", evse_id=body.evse_id
            )
        case m.UnlockConnector():
            if body.evse_id is None:
                return call.UnlockConnector(evse_id=body.connector_id, connector_id=1)
            return call.UnlockConnector(evse_id=body.evse_id, connector_id=body.connector_id)
        case m.ChangeAvailability():
            return call.ChangeAvailability(
                operational_status="Operative" if body.operative else "Inoperative",
                evse={"id": body.connector_id} if body.connector_id else None,
            )
        case m.ClearCache():
            return call.ClearCache()
        case m.TriggerMessage():
            if body.message not in _TRIGGERABLE:
                raise InvalidInput(
                    f"OCPP 2.0.1 can trigger one of {sorted(_TRIGGERABLE)}", field="message"
                )
            return call.TriggerMessage(
                requested_message=body.message,
                evse={"id": body.connector_id} if body.connector_id else None,
            )
        case m.DataTransfer():
            return call.DataTransfer(
                vendor_id=body.vendor_id, message_id=body.message_id, data=body.data
            )
        case m.GetVariables():
            return call.GetVariables(get_variable_data=body.get_variable_data)
        case m.SetVariables():
            return call.SetVariables(set_variable_data=body.set_variable_data)
        case m.GetBaseReport():
            return call.GetBaseReport(request_id=body.request_id, report_base=body.report_base)
        case m.ReserveNow():
            assert body.reservation_id is not None
            evse_id = body.evse_id if body.evse_id is not None else body.connector_id
            return call.ReserveNow(
                id=body.reservation_id,
                expiry_date_time=format_timestamp(body.expiry_date),
                id_token={"id_token": body.id_token, "type": id_token_type or "ISO14443"},
                evse_id=evse_id or None,
                group_id_token=(
                    None
                    if body.parent_id_tag is None
                    else {"id_token": body.parent_id_tag, "type": "Central"}
                ),
            )
        case m.CancelReservation():
            return call.CancelReservation(reservation_id=body.reservation_id)
        case m.SendLocalList():
            types = id_token_types or {}
            return call.SendLocalList(
                version_number=body.list_version,
                update_type=body.update_type,
                local_authorization_list=[
                    _v201_entry(entry, types.get(entry.id_token, "ISO14443"))
                    for entry in body.local_authorization_list or []
                ]
                or None,
            )
        case m.GetLocalListVersion():
            return call.GetLocalListVersion()
        case m.UpdateFirmware():
            assert body.request_id is not None
            firmware: dict[str, Any] = {
                "location": body.location,
                "retrieve_date_time": format_timestamp(body.retrieve_date),
            }
            if body.install_date is not None:
                firmware["install_date_time"] = format_timestamp(body.install_date)
            return call.UpdateFirmware(
                request_id=body.request_id,
                firmware=firmware,
                retries=body.retries,
                retry_interval=body.retry_interval,
            )
        case m.GetDiagnostics():
            assert request_id is not None
            return _get_log(
                "DiagnosticsLog",
                request_id,
                body.location,
                body.start_time,
                body.stop_time,
                body.retries,
                body.retry_interval,
            )
        case m.GetLog():
            assert body.request_id is not None
            return _get_log(
                body.log_type,
                body.request_id,
                body.log.remote_location,
                body.log.oldest_timestamp,
                body.log.latest_timestamp,
                body.retries,
                body.retry_interval,
            )
        case m.SetChargingProfile():
            assert body.profile is not None
            assert body.charging_profile_id is not None
            evse_id = smart_charging.target("2.0.1", body.connector_id, body.evse_id)
            return call.SetChargingProfile(
                evse_id=evse_id,
                charging_profile=smart_charging.v201_profile(
                    body.profile, body.charging_profile_id, transaction_id
                ),
            )
        case m.ClearChargingProfile():
            criteria: dict[str, Any] = {}
            evse_id = smart_charging.target("2.0.1", body.connector_id, body.evse_id)
            if evse_id is not None:
                criteria["evse_id"] = evse_id
            if body.purpose is not None:
                criteria["charging_profile_purpose"] = smart_charging.v201_purpose(body.purpose)
            if body.stack_level is not None:
                criteria["stack_level"] = body.stack_level
            return call.ClearChargingProfile(
                charging_profile_id=body.charging_profile_id,
                charging_profile_criteria=criteria or None,
            )
        case m.GetCompositeSchedule():
            evse_id = smart_charging.target("2.0.1", body.connector_id, body.evse_id)
            if evse_id is None:
                raise InvalidInput("evse_id is required", field="evse_id")
            return call.GetCompositeSchedule(
                duration=body.duration,
                evse_id=evse_id,
                charging_rate_unit=body.charging_rate_unit,
            )
        case m.GetChargingProfiles():
            assert body.request_id is not None
            wanted = body.charging_profile
            criterion: dict[str, Any] = {}
            if wanted.charging_profile_purpose is not None:
                criterion["charging_profile_purpose"] = smart_charging.v201_purpose(
                    wanted.charging_profile_purpose
                )
            if wanted.stack_level is not None:
                criterion["stack_level"] = wanted.stack_level
            if wanted.charging_profile_id is not None:
                criterion["charging_profile_id"] = wanted.charging_profile_id
            if wanted.charging_limit_source is not None:
                criterion["charging_limit_source"] = wanted.charging_limit_source
            return call.GetChargingProfiles(
                request_id=body.request_id, charging_profile=criterion, evse_id=body.evse_id
            )
    raise CommandNotSupported(
        f"OCPP 2.0.1 has no {type(body).__name__} command; use get-variables/set-variables"
    )
