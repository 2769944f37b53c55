"""Firmware updates and log / diagnostics uploads: the requestId the central system
gives a 2.0.1 UpdateFirmware or GetLog when the operator names none, and the reply that
tells the operator which id to look for in the firmware history.

The charger's progress (1.6 FirmwareStatusNotification / DiagnosticsStatusNotification,
2.0.1 FirmwareStatusNotification / LogStatusNotification) is stored in
charge_point_events by the protocol handlers and read back by
``GET /api/v1/charge-points/{id}/firmware-history``.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from csms import command_models as m

__all__ = ["KINDS", "annotate_reply", "assign_request_id", "next_request_id"]

# charge_point_events kinds of the firmware history.
KINDS = ("FirmwareStatus", "DiagnosticsStatus", "LogStatus")


async def next_request_id(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        value: int = await conn.fetchval("SELECT nextval('ocpp_request_id')::integer")
    return value


async def assign_request_id(
    pool: asyncpg.Pool, ocpp_version: str, body: m.CommandBody
) -> m.CommandBody:
    """A 2.0.1 update-firmware, get-log or get-charging-profiles without a request id
    gets the next one."""
    if ocpp_version == "1.6" or not isinstance(
        body, m.UpdateFirmware | m.GetLog | m.GetChargingProfiles
    ):
        return body
    if body.request_id is not None:
        return body
    return body.model_copy(update={"request_id": await next_request_id(pool)})


def annotate_reply(body: m.CommandBody, request: Any, reply: dict[str, Any]) -> dict[str, Any]:
    """The charger's reply plus the request id sent (2.0.1), to find in the history."""
    if not isinstance(body, m.UpdateFirmware | m.GetLog | m.GetDiagnostics | m.GetChargingProfiles):
        return reply
    request_id = getattr(request, "request_id", None)
    if request_id is None:
        return reply
    return {**reply, "request_id": request_id}
