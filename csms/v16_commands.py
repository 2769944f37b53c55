"""OCPP 1.6 requests for the version-neutral admin commands.

update-firmware refuses the 2.0.1-only ``request_id`` / ``install_date`` (400); get-log
with a DiagnosticsLog is sent as GetDiagnostics (``log.remote_location`` as the location,
oldest / latest timestamp as start / stop time); a SecurityLog is 400.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ocpp.v16 import call

from csms import command_models as m
from csms import smart_charging
from csms.errors import CommandNotSupported, InvalidInput
from csms.translate import format_timestamp

__all__ = ["build"]

_TRIGGERABLE = {
    "BootNotification",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StatusNotification",
}


def _v16_entry(entry: m.AuthorizationData) -> dict[str, Any]:
    data: dict[str, Any] = {"id_tag": entry.id_token}
    info = entry.id_token_info
    if info is not None:
        data["id_tag_info"] = {
            "status": info.status,
            "expiry_date": None if info.expiry_date is None else format_timestamp(info.expiry_date),
            "parent_id_tag": info.parent_id_tag,
        }
    return data


def _get_diagnostics(
    location: str,
    retries: int | None,
    retry_interval: int | None,
    start_time: datetime | None,
    stop_time: datetime | None,
) -> Any:
    return call.GetDiagnostics(
        location=location,
        retries=retries,
        retry_interval=retry_interval,
        start_time=None if start_time is None else format_timestamp(start_time),
        stop_time=None if stop_time is None else format_timestamp(stop_time),
    )


def _remote_start_profile(body: m.RemoteStart) -> dict[str, Any] | None:
    if not isinstance(body.charging_profile, m.ChargingProfileSpec):
        return None
    assert body.charging_profile_id is not None
    return smart_charging.v16_profile(body.charging_profile, body.charging_profile_id, None)


def build(body: m.CommandBody, transaction_id: str | None = None) -> Any:
    """Return the ``ocpp.v16.call`` request for a command body.

    Raises:
        CommandNotSupported: OCPP 1.6 has no such command.
        InvalidInput: a value 1.6 cannot carry.
    """
    match body:
        case m.RemoteStart():
            if len(body.id_token) > 20:
                raise InvalidInput("an OCPP 1.6 idTag has at most 20 characters", field="id_token")
            return call.RemoteStartTransaction(
                id_tag=body.id_token,
                connector_id=body.connector_id,
                charging_profile=_remote_start_profile(body),
            )
        case m.RemoteStop():
            assert transaction_id is not None
            return call.RemoteStopTransaction(transaction_id=int(transaction_id))
        case m.Reset():
            if body.evse_id is not None:
                raise CommandNotSupported(
                    "OCPP 1.6 resets the whole charger; evse_id is 2.0.1", field="evse_id"
                )
            return call.Reset(type="Soft" if body.type == "soft" else "Hard")
        case m.UnlockConnector():
            return call.UnlockConnector(connector_id=body.connector_id)
        case m.ChangeAvailability():
            return call.ChangeAvailability(
                connector_id=body.connector_id,
                type="Operative" if body.operative else "Inoperative",
            )
        case m.GetConfiguration():
            return call.GetConfiguration(key=body.keys)
        case m.ChangeConfiguration():
            return call.ChangeConfiguration(key=body.key, value=body.value)
        case m.ClearCache():
            return call.ClearCache()
        case m.TriggerMessage():
            if body.message not in _TRIGGERABLE:
                raise InvalidInput(
                    f"OCPP 1.6 can trigger one of {sorted(_TRIGGERABLE)}", field="message"
                )
            return call.TriggerMessage(
                requested_message=body.message, connector_id=body.connector_id
            )
        case m.DataTransfer():
            return call.DataTransfer(
                vendor_id=body.vendor_id, message_id=body.message_id, data=body.data
            )
        case m.ReserveNow():
            assert body.reservation_id is not None
            connector_id = body.connector_id if body.connector_id is not None else body.evse_id
            if connector_id is None:
                raise InvalidInput("OCPP 1.6 ReserveNow needs a connector_id", field="connector_id")
            for name, value in (("id_token", body.id_token), ("parent_id_tag", body.parent_id_tag)):
                if value is not None and len(value) > 20:
                    raise InvalidInput("an OCPP 1.6 idTag has at most 20 characters", field=name)
            return call.ReserveNow(
                connector_id=connector_id,
                expiry_date=format_timestamp(body.expiry_date),
                id_tag=body.id_token,
                reservation_id=body.reservation_id,
                parent_id_tag=body.parent_id_tag,
            )
        case m.CancelReservation():
            return call.CancelReservation(reservation_id=body.reservation_id)
        case m.SendLocalList():
            entries = body.local_authorization_list or []
            for index, entry in enumerate(entries):
                info = entry.id_token_info
                for name, value in (
                    ("id_token", entry.id_token),
                    ("id_token_info.parent_id_tag", info.parent_id_tag if info else None),
                ):
                    if value and len(value) > 20:
                        raise InvalidInput(
                            "an OCPP 1.6 idTag has at most 20 characters",
                            field=f"local_authorization_list.{index}.{name}",
                        )
            # idTag first in each entry, as in the specification's examples.
            return call.SendLocalList(
                list_version=body.list_version,
                update_type=body.update_type,
                local_authorization_list=[_v16_entry(entry) for entry in entries],
            )
        case m.GetLocalListVersion():
            return call.GetLocalListVersion()
        case m.UpdateFirmware():
            for name in ("request_id", "install_date"):
                if getattr(body, name) is not None:
                    raise CommandNotSupported(
                        f"OCPP 1.6 UpdateFirmware has no {name}; it is 2.0.1", field=name
                    )
            return call.UpdateFirmware(
                location=body.location,
                retrieve_date=format_timestamp(body.retrieve_date),
                retries=body.retries,
                retry_interval=body.retry_interval,
            )
        case m.GetDiagnostics():
            return _get_diagnostics(
                body.location, body.retries, body.retry_interval, body.start_time, body.stop_time
            )
        case m.GetLog():
            if body.log_type != "DiagnosticsLog":
                raise CommandNotSupported(
                    "OCPP 1.6 can only upload diagnostics (GetDiagnostics)", field="log_type"
                )
            if body.request_id is not None:
                raise CommandNotSupported(
                    "OCPP 1.6 GetDiagnostics has no request_id; it is 2.0.1", field="request_id"
                )
            return _get_diagnostics(
                body.log.remote_location,
                body.retries,
                body.retry_interval,
                body.log.oldest_timestamp,
                body.log.latest_timestamp,
            )
        case m.SetChargingProfile():
            assert body.profile is not None
            assert body.charging_profile_id is not None
            connector_id = smart_charging.target("1.6", body.connector_id, body.evse_id)
            return call.SetChargingProfile(
                connector_id=connector_id,
                cs_charging_profiles=smart_charging.v16_profile(
                    body.profile, body.charging_profile_id, transaction_id
                ),
            )
        case m.ClearChargingProfile():
            if body.purpose == "ChargingStationMaxProfile":
                raise InvalidInput("OCPP 1.6 calls it ChargePointMaxProfile", field="purpose")
            return call.ClearChargingProfile(
                id=body.charging_profile_id,
                connector_id=smart_charging.target("1.6", body.connector_id, body.evse_id),
                charging_profile_purpose=body.purpose,
                stack_level=body.stack_level,
            )
        case m.GetCompositeSchedule():
            connector_id = smart_charging.target("1.6", body.connector_id, body.evse_id)
            if connector_id is None:
                raise InvalidInput("connector_id is required", field="connector_id")
            return call.GetCompositeSchedule(
                connector_id=connector_id,
                duration=body.duration,
                charging_rate_unit=body.charging_rate_unit,
            )
    raise CommandNotSupported(f"OCPP 1.6 has no {type(body).__name__} command")
