"""Bodies of the admin API's charger commands, version-neutral.

A body's fields are the OCPP request's fields in snake_case; enumerations keep OCPP's
spelling. Each protocol adapter turns them into its own requests.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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
}
