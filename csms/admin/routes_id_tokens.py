"""Id tokens (RFID cards, remote-start tokens): the local authorization list."""

from __future__ import annotations

from typing import Any, Literal

import asyncpg
from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from csms.admin.deps import deps_of
from csms.admin.http import (
    json_response,
    listing,
    no_content,
    page_params,
    parse_body,
    query_int,
)
from csms.admin.routing import LIST_QUERY, Param, Route
from csms.errors import Conflict, InvalidInput, NotFound
from csms.store import Row
from csms.store import accounts as account_store
from csms.store import id_tokens as store

__all__ = ["ROUTES", "IdTokenCreate", "IdTokenPatch", "id_token_view"]

IdTokenType = Literal[
    "Central",
    "eMAID",
    "ISO14443",
    "ISO15693",
    "KeyCode",
    "Local",
    "MacAddress",
    "NoAuthorization",
]
IdTokenStatus = Literal["Accepted", "Blocked", "Expired", "Invalid"]
# OCPP 2.0.1 idToken is identifierString[0..36] (1.6 idTag: CiString20).
_TOKEN = Field(min_length=1, max_length=36)


class IdTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_token: str = _TOKEN
    type: IdTokenType = "ISO14443"
    status: IdTokenStatus
    expiry: AwareDatetime | None = None
    parent_id_token: str | None = Field(default=None, min_length=1, max_length=36)
    account_id: int | None = Field(default=None, ge=1, le=2**63 - 1)


class IdTokenPatch(BaseModel):
    """Fields to change; ``null`` clears expiry, parent_id_token and account_id."""

    model_config = ConfigDict(extra="forbid")

    type: IdTokenType | None = None
    status: IdTokenStatus | None = None
    expiry: AwareDatetime | None = None
    parent_id_token: str | None = Field(default=None, min_length=1, max_length=36)
    account_id: int | None = Field(default=None, ge=1, le=2**63 - 1)

    @field_validator("type", "status")
    @classmethod
    def _not_null(cls, value: str | None) -> str | None:
        if value is None:
            raise ValueError("may not be null")
        return value


def id_token_view(row: Row) -> dict[str, Any]:
    return {
        "id_token": row["id_token"],
        "type": row["type"],
        "status": row["status"],
        "expiry": row["expiry"],
        "parent_id_token": row["parent_id_token"],
        "account_id": row["account_id"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _no_account(account_id: object) -> InvalidInput:
    return InvalidInput(f"account {account_id} does not exist", field="account_id")


async def _check_account(conn: asyncpg.Connection, account_id: int | None) -> None:
    if account_id is not None and not await account_store.exists(conn, account_id):
        raise _no_account(account_id)


async def create_id_token(request: web.Request) -> web.Response:
    body = await parse_body(request, IdTokenCreate)
    async with deps_of(request).pool.acquire() as conn:
        await _check_account(conn, body.account_id)
        try:
            row = await store.insert(conn, body.model_dump())
        except asyncpg.ForeignKeyViolationError:  # the account went away meanwhile
            raise _no_account(body.account_id) from None
    if row is None:
        raise Conflict(f"id token {body.id_token} exists already", field="id_token")
    location = request.app.router["get_id_token"].url_for(id_token=body.id_token)
    return json_response(id_token_view(row), status=201, headers={"Location": str(location)})


async def list_id_tokens(request: web.Request) -> web.Response:
    page = page_params(request)
    account_id = query_int(request, "account_id")
    async with deps_of(request).pool.acquire() as conn:
        rows, next_cursor = page.split(
            await store.page(
                conn, after=page.cursor, limit=page.fetch_limit, account_id=account_id
            ),
            lambda row: row["id_token"],
        )
    return listing([id_token_view(row) for row in rows], next_cursor)


async def get_id_token(request: web.Request) -> web.Response:
    id_token = request.match_info["id_token"]
    async with deps_of(request).pool.acquire() as conn:
        row = await store.get(conn, id_token)
    if row is None:
        raise NotFound(f"id token {id_token} not found")
    return json_response(id_token_view(row))


async def patch_id_token(request: web.Request) -> web.Response:
    id_token = request.match_info["id_token"]
    body = await parse_body(request, IdTokenPatch)
    fields = {name: getattr(body, name) for name in sorted(body.model_fields_set)}
    async with deps_of(request).pool.acquire() as conn:
        await _check_account(conn, fields.get("account_id"))
        try:
            row = await store.update(conn, id_token, fields)
        except asyncpg.ForeignKeyViolationError:
            raise _no_account(body.account_id) from None
    if row is None:
        raise NotFound(f"id token {id_token} not found")
    return json_response(id_token_view(row))


async def delete_id_token(request: web.Request) -> web.Response:
    id_token = request.match_info["id_token"]
    async with deps_of(request).pool.acquire() as conn:
        deleted = await store.delete(conn, id_token)
    if not deleted:
        raise NotFound(f"id token {id_token} not found")
    return no_content()


_ID = (Param("id_token", "The token's value."),)
PATH = "/api/v1/id-tokens/{id_token}"

ROUTES = [
    Route(
        "POST",
        "/api/v1/id-tokens",
        create_id_token,
        "Add an id token",
        "The id token (201); 409 when it exists; 400 (field account_id) for an unknown account.",
        status=201,
        body=(IdTokenCreate,),
        tag="id tokens",
    ),
    Route(
        "GET",
        "/api/v1/id-tokens",
        list_id_tokens,
        "List id tokens",
        "A page of id tokens ordered by value.",
        query=(
            *LIST_QUERY,
            Param("account_id", "Only this account's tokens.", {"type": "integer", "minimum": 1}),
        ),
        tag="id tokens",
    ),
    Route(
        "GET",
        PATH,
        get_id_token,
        "Show an id token",
        "The id token.",
        path_params=_ID,
        tag="id tokens",
    ),
    Route(
        "PATCH",
        PATH,
        patch_id_token,
        "Change an id token",
        "The updated id token.",
        body=(IdTokenPatch,),
        path_params=_ID,
        tag="id tokens",
    ),
    Route(
        "DELETE",
        PATH,
        delete_id_token,
        "Remove an id token",
        "Removed (204).",
        status=204,
        path_params=_ID,
        tag="id tokens",
    ),
]
