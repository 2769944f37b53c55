"""Bodies of the admin API's charger commands, version-neutral.

A body's fields are the OCPP request's fields in snake_case; enumerations keep OCPP's
spelling. Each protocol adapter turns them into its own requests.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["COMMAND_BODIES", "CommandBody"]


class CommandBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RemoteStart(CommandBody):
    connector_id: int | None = Field(default=None, ge=1)
    id_token: str = Field(min_length=1, max_length=36)  # 1.6 idTag: at most 20


class RemoteStop(CommandBody):
    session_id: int = Field(ge=1)


class Reset(CommandBody):
    type: Literal["soft", "hard"]
    evse_id: int | None = Field(default=None, ge=1)


class UnlockConnector(CommandBody):
    connector_id: int = Field(ge=1)
    evse_id: int | None = Field(default=None, ge=1)


class ChangeAvailability(CommandBody):
    connector_id: int = Field(ge=0)
    operative: bool


class GetConfiguration(CommandBody):
    keys: list[str] | None = None


class ChangeConfiguration(CommandBody):
    key: str = Field(min_length=1, max_length=50)
    value: str = Field(max_length=500)


class ClearCache(CommandBody):
    pass


class TriggerMessage(CommandBody):
    message: str = Field(min_length=1)
    connector_id: int | None = Field(default=None, ge=0)


class DataTransfer(CommandBody):
    vendor_id: str = Field(min_length=1, max_length=255)
    message_id: str | None = Field(default=None, max_length=50)
    data: str | None = None


class GetVariables(CommandBody):
    get_variable_data: list[dict[str, Any]] = Field(min_length=1)


class SetVariables(CommandBody):
    set_variable_data: list[dict[str, Any]] = Field(min_length=1)


class GetBaseReport(CommandBody):
    request_id: int
    report_base: str


class ReserveNow(CommandBody):
    """1.6: ``connector_id`` (0 = any connector, if the charger supports it); 2.0.1:
    ``evse_id`` (``connector_id`` is taken as the EVSE when ``evse_id`` is absent; neither:
    any EVSE). ``reservation_id`` absent: the next id of the central system's sequence.
    ``expiry_date`` without a time zone is UTC."""

    connector_id: int | None = Field(default=None, ge=0)
    evse_id: int | None = Field(default=None, ge=0)
    id_token: str = Field(min_length=1, max_length=36)  # 1.6 idTag: at most 20
    expiry_date: datetime
    reservation_id: int | None = Field(default=None, ge=0, le=2**31 - 1)
    parent_id_tag: str | None = Field(default=None, min_length=1, max_length=36)

    @field_validator("expiry_date")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class CancelReservation(CommandBody):
    reservation_id: int = Field(ge=0, le=2**31 - 1)


class IdTokenInfo(CommandBody):
    status: Literal["Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"]
    expiry_date: datetime | None = None
    parent_id_tag: str | None = Field(default=None, min_length=1, max_length=36)

    @field_validator("expiry_date")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class AuthorizationData(CommandBody):
    """One entry of a local list; without ``id_token_info`` a differential update removes
    the id token from the list."""

    id_token: str = Field(min_length=1, max_length=36)  # 1.6 idTag: at most 20
    id_token_info: IdTokenInfo | None = None


class SendLocalList(CommandBody):
    """``local_authorization_list`` absent: every id token of the id_tokens table with
    its status, expiry and parent."""

    list_version: int = Field(ge=1, le=2**31 - 1)
    update_type: Literal["Full", "Differential"]
    local_authorization_list: list[AuthorizationData] | None = None


class GetLocalListVersion(CommandBody):
    pass


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class UpdateFirmware(CommandBody):
    """Neutral body for both versions: 1.6 UpdateFirmware takes ``location``,
    ``retrieve_date``, ``retries``, ``retry_interval``; 2.0.1 puts ``location``,
    ``retrieve_date`` and ``install_date`` into ``firmware`` (retrieveDateTime,
    installDateTime) and needs a ``request_id`` (the next of the central system's sequence
    when absent). ``request_id`` and ``install_date`` are 2.0.1 only. Times without a time
    zone are UTC."""

    location: str = Field(min_length=1, max_length=512)
    retrieve_date: datetime
    retries: int | None = Field(default=None, ge=0)
    retry_interval: int | None = Field(default=None, ge=0)
    request_id: int | None = Field(default=None, ge=0, le=2**31 - 1)
    install_date: datetime | None = None

    @field_validator("retrieve_date", "install_date")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return _utc(value)


class GetDiagnostics(CommandBody):
    """1.6 GetDiagnostics; on 2.0.1 sent as GetLog (DiagnosticsLog) with ``location`` as
    the remoteLocation and ``start_time`` / ``stop_time`` as oldest / latest timestamp."""

    location: str = Field(min_length=1, max_length=512)
    retries: int | None = Field(default=None, ge=0)
    retry_interval: int | None = Field(default=None, ge=0)
    start_time: datetime | None = None
    stop_time: datetime | None = None

    @field_validator("start_time", "stop_time")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return _utc(value)


class LogParameters(CommandBody):
    remote_location: str = Field(min_length=1, max_length=512)
    oldest_timestamp: datetime | None = None
    latest_timestamp: datetime | None = None

    @field_validator("oldest_timestamp", "latest_timestamp")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return _utc(value)


class GetLog(CommandBody):
    """2.0.1 GetLog (``request_id`` absent: the next of the central system's sequence); on
    1.6 a DiagnosticsLog is sent as GetDiagnostics (a SecurityLog is 400: 1.6 has none)."""

    log_type: Literal["DiagnosticsLog", "SecurityLog"]
    request_id: int | None = Field(default=None, ge=0, le=2**31 - 1)
    log: LogParameters
    retries: int | None = Field(default=None, ge=0)
    retry_interval: int | None = Field(default=None, ge=0)


COMMAND_BODIES: dict[str, type[CommandBody]] = {
    "remote-start": RemoteStart,
    "remote-stop": RemoteStop,
    "reset": Reset,
    "unlock-connector": UnlockConnector,
    "change-availability": ChangeAvailability,
    "get-configuration": GetConfiguration,
    "change-configuration": ChangeConfiguration,
    "clear-cache": ClearCache,
    "trigger-message": TriggerMessage,
    "data-transfer": DataTransfer,
    "get-variables": GetVariables,
    "set-variables": SetVariables,
    "get-base-report": GetBaseReport,
    "reserve-now": ReserveNow,
    "cancel-reservation": CancelReservation,
    "send-local-list": SendLocalList,
    "get-local-list-version": GetLocalListVersion,
    "update-firmware": UpdateFirmware,
    "get-diagnostics": GetDiagnostics,
    "get-log": GetLog,
}
