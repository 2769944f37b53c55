"""Bodies of the admin API's charger commands, version-neutral.

A body's fields are the OCPP request's fields in snake_case; enumerations keep OCPP's
spelling. Each protocol adapter turns them into its own requests.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

__all__ = ["COMMAND_BODIES", "CommandBody"]


class CommandBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


class SchedulePeriod(CommandBody):
    start_period: int = Field(ge=0)
    limit: float = Field(gt=0)
    number_phases: int | None = Field(default=None, ge=1, le=3)


class ChargingProfileSpec(CommandBody):
    """A charging profile, version-neutral. ``purpose`` takes the 1.6 names or the 2.0.1
    ChargingStationMaxProfile (stored as ChargePointMaxProfile). Periods start at 0 and
    strictly increase; a Recurring profile needs ``recurrency`` and ``start_schedule``.
    Times without a time zone are UTC."""

    purpose: Literal[
        "ChargePointMaxProfile", "ChargingStationMaxProfile", "TxDefaultProfile", "TxProfile"
    ]
    stack_level: int = Field(ge=0, le=2**31 - 1)
    kind: Literal["Absolute", "Recurring", "Relative"]
    recurrency: Literal["Daily", "Weekly"] | None = Field(default=None, validate_default=True)
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    charging_rate_unit: Literal["W", "A"]
    duration: int | None = Field(default=None, ge=1)
    start_schedule: datetime | None = Field(default=None, validate_default=True)
    min_charging_rate: float | None = Field(default=None, ge=0)
    periods: list[SchedulePeriod] = Field(min_length=1)

    @field_validator("valid_from")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return _utc(value)

    @field_validator("purpose")
    @classmethod
    def _neutral_purpose(cls, value: str) -> str:
        return "ChargePointMaxProfile" if value == "ChargingStationMaxProfile" else value

    @field_validator("periods")
    @classmethod
    def _ordered(cls, value: list[SchedulePeriod]) -> list[SchedulePeriod]:
        if value[0].start_period != 0:
            raise ValueError("the first period must start at 0")
        for before, after in itertools.pairwise(value):
            if after.start_period <= before.start_period:
                raise ValueError("start_period must strictly increase")
        return value

    @field_validator("recurrency", mode="after")
    @classmethod
    def _recurrency(cls, value: str | None, info: ValidationInfo) -> str | None:
        recurring = info.data.get("kind") == "Recurring"
        if recurring and value is None:
            raise ValueError("a Recurring profile needs a recurrency")
        if not recurring and value is not None:
            raise ValueError("only a Recurring profile has a recurrency")
        return value

    @field_validator("start_schedule", mode="after")
    @classmethod
    def _start(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        if info.data.get("kind") == "Recurring" and value is None:
            raise ValueError("a Recurring profile needs a start_schedule")
        return _utc(value)

    @field_validator("valid_to", mode="after")
    @classmethod
    def _valid_to(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        value = _utc(value)
        start = info.data.get("valid_from")
        if value is not None and start is not None and value <= start:
            raise ValueError("valid_to must be after valid_from")
        return value


class RemoteStart(CommandBody):
    """``charging_profile``: a stored profile's name or an inline profile, a TxProfile
    either way (sent as the request's chargingProfile; ``charging_profile_id`` is filled
    in by the central system when absent)."""

    connector_id: int | None = Field(default=None, ge=1)
    id_token: str = Field(min_length=1, max_length=36)  # 1.6 idTag: at most 20
    charging_profile: str | ChargingProfileSpec | None = None
    charging_profile_id: int | None = Field(default=None, ge=1, le=2**31 - 1)

    @field_validator("charging_profile", mode="before")
    @classmethod
    def _profile(cls, value: Any) -> Any:
        if isinstance(value, dict):
            try:
                return ChargingProfileSpec.model_validate(value)
            except ValidationError as exc:
                first = exc.errors(include_url=False)[0]
                where = ".".join(str(part) for part in first["loc"])
                raise ValueError(f"{where}: {first['msg']}") from None
        if isinstance(value, str) and not 1 <= len(value) <= 100:
            raise ValueError("a profile name has 1 to 100 characters")
        return value


class SetChargingProfile(CommandBody):
    """``connector_id`` (1.6) or ``evse_id`` (2.0.1; each is taken for the other when
    absent); the profile by ``profile_name`` (stored) or inline ``profile``; a TxProfile
    needs ``session_id`` (an active session of the charger: its transaction id is sent)."""

    connector_id: int | None = Field(default=None, ge=0)
    evse_id: int | None = Field(default=None, ge=0)
    profile_name: str | None = Field(default=None, min_length=1, max_length=100)
    profile: ChargingProfileSpec | None = None
    session_id: int | None = Field(default=None, ge=1)
    charging_profile_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    """Filled in by the central system (the stored profile's id or the next of the
    sequence)."""


class ClearChargingProfile(CommandBody):
    charging_profile_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    connector_id: int | None = Field(default=None, ge=0)
    evse_id: int | None = Field(default=None, ge=0)
    purpose: (
        Literal[
            "ChargePointMaxProfile",
            "ChargingStationMaxProfile",
            "TxDefaultProfile",
            "TxProfile",
        ]
        | None
    ) = None
    stack_level: int | None = Field(default=None, ge=0)


class GetCompositeSchedule(CommandBody):
    connector_id: int | None = Field(default=None, ge=0)
    evse_id: int | None = Field(default=None, ge=0)
    duration: int = Field(ge=1)
    charging_rate_unit: Literal["W", "A"] | None = None


class ChargingProfileCriterion(CommandBody):
    charging_profile_purpose: (
        Literal[
            "ChargePointMaxProfile",
            "ChargingStationMaxProfile",
            "ChargingStationExternalConstraints",
            "TxDefaultProfile",
            "TxProfile",
        ]
        | None
    ) = None
    stack_level: int | None = Field(default=None, ge=0)
    charging_profile_id: list[int] | None = Field(default=None, min_length=1)
    charging_limit_source: list[Literal["EMS", "Other", "SO", "CSO"]] | None = Field(
        default=None, min_length=1, max_length=4
    )


class GetChargingProfiles(CommandBody):
    """2.0.1 only. ``request_id``: the body's, or the next of the ``ocpp_request_id``
    sequence; the charger reports the matching profiles in ReportChargingProfiles
    (stored as ChargingProfileReport events)."""

    request_id: int | None = Field(default=None, ge=0, le=2**31 - 1)
    evse_id: int | None = Field(default=None, ge=0)
    charging_profile: ChargingProfileCriterion


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
    "set-charging-profile": SetChargingProfile,
    "clear-charging-profile": ClearChargingProfile,
    "get-composite-schedule": GetCompositeSchedule,
    "get-charging-profiles": GetChargingProfiles,
}
