"""OCPP 2.0.1 requests for the version-neutral admin commands.

Mapping of the neutral bodies: ``connector_id`` of remote-start and change-availability is
the EVSE id (0 = the whole station); unlock-connector takes ``evse_id`` and
``connector_id``, or just ``connector_id`` as the EVSE with its first connector; reset
``soft``/``hard`` become OnIdle/Immediate, optionally for one EVSE.
"""

from __future__ import annotations

from typing import Any

from ocpp.v201 import call

from csms import command_models as m
from csms.errors import CommandNotSupported, InvalidInput

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


def build(
    body: m.CommandBody, *, transaction_id: str | None = None, remote_start_id: int | None = None
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
    raise CommandNotSupported(
        f"OCPP 2.0.1 has no {type(body).__name__} command; use get-variables/set-variables"
    )
