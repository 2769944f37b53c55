"""Smart charging: named charging profiles, what set-charging-profile sends, and what the
central system records of the charger's answers.

A set-charging-profile names a stored profile (``profile_name``: its id is the
chargingProfileId) or carries one inline (the next of the ``charging_profile_id``
sequence). Before anything is sent the profile is checked against its target: a
ChargePointMaxProfile (2.0.1 ChargingStationMaxProfile) only on connector / EVSE 0, a
TxProfile only on a connector / EVSE > 0 with the ``session_id`` of an active session (its
transaction id is sent). Each answer is stored in ``charger_charging_profiles``; an
accepted clear-charging-profile marks the matching accepted ones ``cleared``. A
remote-start may carry a TxProfile (by name or inline; any other purpose is 400): it is
sent as the request's chargingProfile, without a transaction id, and recorded with the
start's answer.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from csms import command_models as m
from csms.errors import InvalidInput, NotFound
from csms.logs import get_logger
from csms.store import Row
from csms.store import charging_profiles as store
from csms.translate import format_timestamp

__all__ = [
    "assign",
    "record_answer",
    "spec_of_row",
    "target",
    "v16_profile",
    "v201_profile",
    "v201_purpose",
]

log = get_logger(__name__)


def spec_of_row(row: Row) -> m.ChargingProfileSpec:
    return m.ChargingProfileSpec.model_validate(
        {name: row[name] for name in store.FIELDS if row[name] is not None}
    )


def target(ocpp_version: str, connector_id: int | None, evse_id: int | None) -> int | None:
    """The connector (1.6) or EVSE (2.0.1) a body names; each stands in for the other."""
    if ocpp_version == "1.6":
        return connector_id if connector_id is not None else evse_id
    return evse_id if evse_id is not None else connector_id


def _field(ocpp_version: str) -> str:
    return "connector_id" if ocpp_version == "1.6" else "evse_id"


async def assign(pool: asyncpg.Pool, ocpp_version: str, body: m.CommandBody) -> m.CommandBody:
    """A set-charging-profile with its profile resolved, checked and given its id.

    Raises:
        InvalidInput: no target, neither or both of profile_name and profile, a purpose
            the target does not allow, a TxProfile without a session.
        NotFound: no stored profile of that name.
    """
    if isinstance(body, m.RemoteStart):
        return await _remote_start_profile(pool, body)
    if not isinstance(body, m.SetChargingProfile):
        return body
    field = _field(ocpp_version)
    number = target(ocpp_version, body.connector_id, body.evse_id)
    if number is None:
        raise InvalidInput(f"{field} is required", field=field)
    if (body.profile_name is None) == (body.profile is None):
        raise InvalidInput("give either profile_name or profile", field="profile_name")
    async with pool.acquire() as conn:
        if body.profile_name is not None:
            row = await store.get(conn, body.profile_name)
            if row is None:
                raise NotFound(
                    f"charging profile {body.profile_name} not found", field="profile_name"
                )
            profile, profile_id = spec_of_row(row), int(row["id"])
        else:
            assert body.profile is not None
            profile, profile_id = body.profile, await store.next_id(conn)
    if profile.purpose == "ChargePointMaxProfile" and number != 0:
        raise InvalidInput(f"a charge point max profile is only for {field} 0", field=field)
    if profile.purpose == "TxProfile":
        if number == 0:
            raise InvalidInput(f"a TxProfile needs a {field} > 0", field=field)
        if body.session_id is None:
            raise InvalidInput(
                "a TxProfile needs the session_id of a transaction", field="session_id"
            )
    return body.model_copy(update={"profile": profile, "charging_profile_id": profile_id})


async def _remote_start_profile(pool: asyncpg.Pool, body: m.RemoteStart) -> m.RemoteStart:
    """A remote-start's charging profile resolved (by name) and given its id."""
    if body.charging_profile is None:
        return body
    async with pool.acquire() as conn:
        if isinstance(body.charging_profile, str):
            row = await store.get(conn, body.charging_profile)
            if row is None:
                raise NotFound(
                    f"charging profile {body.charging_profile} not found",
                    field="charging_profile",
                )
            profile, profile_id = spec_of_row(row), int(row["id"])
        else:
            profile, profile_id = body.charging_profile, await store.next_id(conn)
    if profile.purpose != "TxProfile":
        raise InvalidInput("a remote start carries a TxProfile only", field="charging_profile")
    return body.model_copy(
        update={
            "charging_profile": profile,
            "charging_profile_id": body.charging_profile_id or profile_id,
        }
    )


def _schedule(profile: m.ChargingProfileSpec) -> dict[str, Any]:
    schedule: dict[str, Any] = {
        "charging_rate_unit": profile.charging_rate_unit,
        "charging_schedule_period": [
            {key: value for key, value in period.model_dump().items() if value is not None}
            for period in profile.periods
        ],
    }
    if profile.duration is not None:
        schedule["duration"] = profile.duration
    if profile.start_schedule is not None:
        schedule["start_schedule"] = format_timestamp(profile.start_schedule)
    if profile.min_charging_rate is not None:
        schedule["min_charging_rate"] = profile.min_charging_rate
    return schedule


def _common(profile: m.ChargingProfileSpec) -> dict[str, Any]:
    data: dict[str, Any] = {
        "stack_level": profile.stack_level,
        "charging_profile_kind": profile.kind,
    }
    if profile.recurrency is not None:
        data["recurrency_kind"] = profile.recurrency
    if profile.valid_from is not None:
        data["valid_from"] = format_timestamp(profile.valid_from)
    if profile.valid_to is not None:
        data["valid_to"] = format_timestamp(profile.valid_to)
    return data


def v16_profile(
    profile: m.ChargingProfileSpec, profile_id: int, transaction_id: str | None
) -> dict[str, Any]:
    """1.6 csChargingProfiles (snake_case, as the ocpp library takes it)."""
    data: dict[str, Any] = {
        "charging_profile_id": profile_id,
        "charging_profile_purpose": profile.purpose,
        **_common(profile),
        "charging_schedule": _schedule(profile),
    }
    if transaction_id is not None and profile.purpose == "TxProfile":
        data["transaction_id"] = int(transaction_id)
    return data


def v201_purpose(purpose: str) -> str:
    return "ChargingStationMaxProfile" if purpose == "ChargePointMaxProfile" else purpose


def v201_profile(
    profile: m.ChargingProfileSpec, profile_id: int, transaction_id: str | None
) -> dict[str, Any]:
    """2.0.1 chargingProfile (snake_case): one schedule, with the profile's id."""
    data: dict[str, Any] = {
        "id": profile_id,
        "charging_profile_purpose": v201_purpose(profile.purpose),
        **_common(profile),
        "charging_schedule": [{"id": profile_id, **_schedule(profile)}],
    }
    if transaction_id is not None and profile.purpose == "TxProfile":
        data["transaction_id"] = transaction_id
    return data


async def record_answer(
    pool: asyncpg.Pool,
    charge_point_id: str,
    ocpp_version: str,
    body: m.CommandBody,
    transaction_id: str | None,
    reply: dict[str, Any],
) -> dict[str, Any]:
    """Store what a set / clear-charging-profile did; the reply to give the operator."""
    status = str(reply.get("status", ""))
    if isinstance(body, m.SetChargingProfile):
        assert body.profile is not None
        assert body.charging_profile_id is not None
        number = target(ocpp_version, body.connector_id, body.evse_id)
        assert number is not None
        async with pool.acquire() as conn:
            await store.record_set(
                conn,
                charge_point_id=charge_point_id,
                connector_id=number,
                charging_profile_id=body.charging_profile_id,
                profile_name=body.profile_name,
                purpose=body.profile.purpose,
                stack_level=body.profile.stack_level,
                transaction_id=transaction_id,
                profile=body.profile.model_dump(mode="json"),
                status=status or "Rejected",
            )
        log.info(
            "charging_profile_set",
            charge_point_id=charge_point_id,
            charging_profile_id=body.charging_profile_id,
            status=status,
        )
        return {**reply, "charging_profile_id": body.charging_profile_id}
    if isinstance(body, m.RemoteStart) and isinstance(body.charging_profile, m.ChargingProfileSpec):
        assert body.charging_profile_id is not None
        async with pool.acquire() as conn:
            await store.record_set(
                conn,
                charge_point_id=charge_point_id,
                connector_id=body.connector_id or 0,
                charging_profile_id=body.charging_profile_id,
                profile_name=None,
                purpose=body.charging_profile.purpose,
                stack_level=body.charging_profile.stack_level,
                transaction_id=None,
                profile=body.charging_profile.model_dump(mode="json"),
                status=status or "Rejected",
            )
        return reply
    if isinstance(body, m.ClearChargingProfile) and status == "Accepted":
        purpose = body.purpose
        if purpose == "ChargingStationMaxProfile":
            purpose = "ChargePointMaxProfile"
        async with pool.acquire() as conn:
            await store.mark_cleared(
                conn,
                charge_point_id,
                charging_profile_id=body.charging_profile_id,
                connector_id=target(ocpp_version, body.connector_id, body.evse_id),
                purpose=purpose,
                stack_level=body.stack_level,
            )
    return reply
