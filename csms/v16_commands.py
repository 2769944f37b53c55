"""OCPP 1.6 requests for the version-neutral admin commands."""

from __future__ import annotations

from typing import Any

from ocpp.v16 import call

from csms import command_models as m
from csms.errors import CommandNotSupported, InvalidInput

__all__ = ["build"]

_TRIGGERABLE = {
    "BootNotification",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StatusNotification",
}


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
            return call.RemoteStartTransaction(id_tag=body.id_token, connector_id=body.connector_id)
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
    raise CommandNotSupported(f"OCPP 1.6 has no {type(body).__name__} command")
