"""Local authorisation lists: what the central system records around SendLocalList and
GetLocalListVersion.

A send-local-list without ``local_authorization_list`` sends every id token of the
id_tokens table (status, expiry, parent). Per charger the ``local_auth_lists`` table keeps
the version last sent with the charger's answer, the version the charger holds as far as
we know (the last Accepted update) and the version it last reported.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from csms import command_models as m
from csms.logs import get_logger
from csms.store import local_auth_lists as store

__all__ = ["record_answer", "resolve", "token_types"]

log = get_logger(__name__)


async def resolve(pool: asyncpg.Pool, body: m.CommandBody) -> m.CommandBody:
    """A send-local-list without a list gets one built from the id_tokens table."""
    if not isinstance(body, m.SendLocalList) or body.local_authorization_list is not None:
        return body
    async with pool.acquire() as conn:
        tokens = await store.all_tokens(conn)
    entries = [
        m.AuthorizationData(
            id_token=row["id_token"],
            id_token_info=m.IdTokenInfo(
                status=row["status"],
                expiry_date=row["expiry"],
                parent_id_tag=row["parent_id_token"],
            ),
        )
        for row in tokens
    ]
    return body.model_copy(update={"local_authorization_list": entries})


async def token_types(pool: asyncpg.Pool, body: m.CommandBody) -> dict[str, str]:
    """Types of the list's id tokens known to the id_tokens table (2.0.1 IdTokenType)."""
    if not isinstance(body, m.SendLocalList) or not body.local_authorization_list:
        return {}
    async with pool.acquire() as conn:
        return await store.token_types(
            conn, [entry.id_token for entry in body.local_authorization_list]
        )


async def record_answer(
    pool: asyncpg.Pool, charge_point_id: str, body: m.CommandBody, result: dict[str, Any]
) -> None:
    if isinstance(body, m.SendLocalList):
        status = str(result.get("status", ""))
        async with pool.acquire() as conn:
            await store.record_sent(
                conn,
                charge_point_id,
                version=body.list_version,
                update_type=body.update_type,
                entries=len(body.local_authorization_list or ()),
                status=status,
            )
        log.info("local_list_answered", list_version=body.list_version, status=status)
    elif isinstance(body, m.GetLocalListVersion):
        version = result.get("list_version", result.get("version_number"))
        if isinstance(version, int):
            async with pool.acquire() as conn:
                await store.record_reported(conn, charge_point_id, version)
