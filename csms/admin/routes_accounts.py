"""Driver accounts: who stands behind id tokens and sessions."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from csms.admin.deps import deps_of
from csms.admin.http import json_response, listing, no_content, page_params, parse_body, path_int
from csms.admin.routing import LIST_QUERY, Param, Route
from csms.errors import NotFound
from csms.store import Row
from csms.store import accounts as store

__all__ = ["ROUTES", "AccountCreate", "AccountPatch", "account_view"]

AccountStatus = Literal["active", "suspended", "closed"]
_EMAIL = Field(default=None, min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
# The card saved at the payment provider (Stripe customer ``cus_...`` and payment method
# ``pm_...``), used for off-session charges; null clears it.
_PROVIDER_REF = Field(default=None, min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_\-]+$")
# Plug-and-charge: the state of charge a session stops at, and the most one session may
# cost (minor units of the tariff's currency; null means no cap).
_TARGET_SOC = Field(default=None, ge=1, le=100, strict=True)
_SPENDING_CAP = Field(default=None, gt=0, le=2**63 - 1, strict=True)


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    email: str | None = _EMAIL
    status: AccountStatus = "active"
    target_soc_percent: int | None = _TARGET_SOC
    """Omitted: the default (80)."""
    spending_cap_minor: int | None = _SPENDING_CAP


class AccountPatch(BaseModel):
    """Fields to change; ``email: null`` clears the address. ``payment_customer_id`` and
    ``payment_method_id`` are the card saved at the payment provider (Stripe ``cus_...``
    and ``pm_...``) that sessions are charged to."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = _EMAIL
    status: AccountStatus | None = None
    payment_customer_id: str | None = _PROVIDER_REF
    payment_method_id: str | None = _PROVIDER_REF
    target_soc_percent: int | None = _TARGET_SOC
    spending_cap_minor: int | None = _SPENDING_CAP

    @field_validator("name", "status", "target_soc_percent")
    @classmethod
    def _not_null(cls, value: str | int | None) -> str | int | None:
        if value is None:
            raise ValueError("may not be null")
        return value


def account_view(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "email": row["email"],
        "status": row["status"],
        "payment_customer_id": row.get("payment_customer_id"),
        "payment_method_id": row.get("payment_method_id"),
        "target_soc_percent": row["target_soc_percent"],
        "spending_cap_minor": row["spending_cap_minor"],
        "pnc_id_token": row["pnc_id_token"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


async def create_account(request: web.Request) -> web.Response:
    body = await parse_body(request, AccountCreate)
    async with deps_of(request).pool.acquire() as conn:
        row = await store.insert(
            conn,
            name=body.name,
            email=body.email,
            status=body.status,
            target_soc_percent=body.target_soc_percent,
            spending_cap_minor=body.spending_cap_minor,
        )
    location = request.app.router["get_account"].url_for(id=str(row["id"]))
    return json_response(account_view(row), status=201, headers={"Location": str(location)})


async def list_accounts(request: web.Request) -> web.Response:
    page = page_params(request)
    async with deps_of(request).pool.acquire() as conn:
        rows, next_cursor = page.split(
            await store.page(conn, after=page.int_cursor(), limit=page.fetch_limit),
            lambda row: row["id"],
        )
    return listing([account_view(row) for row in rows], next_cursor)


async def get_account(request: web.Request) -> web.Response:
    account_id = path_int(request, "id", "account")
    async with deps_of(request).pool.acquire() as conn:
        row = await store.get(conn, account_id)
    if row is None:
        raise NotFound(f"account {account_id} not found")
    return json_response(account_view(row))


async def patch_account(request: web.Request) -> web.Response:
    account_id = path_int(request, "id", "account")
    body = await parse_body(request, AccountPatch)
    fields = {name: getattr(body, name) for name in sorted(body.model_fields_set)}
    async with deps_of(request).pool.acquire() as conn:
        row = await store.update(conn, account_id, fields)
    if row is None:
        raise NotFound(f"account {account_id} not found")
    return json_response(account_view(row))


async def delete_account(request: web.Request) -> web.Response:
    account_id = path_int(request, "id", "account")
    async with deps_of(request).pool.acquire() as conn:
        deleted = await store.delete(conn, account_id)
    if not deleted:
        raise NotFound(f"account {account_id} not found")
    return no_content()


_ID = (Param("id", "Account id.", {"type": "integer", "minimum": 1}),)
PATH = "/api/v1/accounts/{id}"

ROUTES = [
    Route(
        "POST",
        "/api/v1/accounts",
        create_account,
        "Open an account",
        "The account (201).",
        status=201,
        body=(AccountCreate,),
        tag="accounts",
    ),
    Route(
        "GET",
        "/api/v1/accounts",
        list_accounts,
        "List accounts",
        "A page of accounts ordered by id.",
        query=LIST_QUERY,
        tag="accounts",
    ),
    Route(
        "GET", PATH, get_account, "Show an account", "The account.", path_params=_ID, tag="accounts"
    ),
    Route(
        "PATCH",
        PATH,
        patch_account,
        "Change an account",
        "The updated account.",
        body=(AccountPatch,),
        path_params=_ID,
        tag="accounts",
    ),
    Route(
        "DELETE",
        PATH,
        delete_account,
        "Remove an account",
        "Removed (204); its id tokens and sessions keep existing without an account.",
        status=204,
        path_params=_ID,
        tag="accounts",
    ),
]
