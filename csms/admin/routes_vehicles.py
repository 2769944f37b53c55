"""Cars linked through Smartcar: start linking (the Connect URL), the Connect callback,
list and unlink an account's vehicles, and the Smartcar webhook endpoint.

The callback and the webhook are public: Smartcar Connect sends the driver's browser to
the first, Smartcar's servers post to the second (which checks their signature).
"""

from __future__ import annotations

import html

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from csms.admin.deps import deps_of
from csms.admin.http import (
    csms_error_response,
    error_body,
    iso,
    json_response,
    listing,
    no_content,
    page_params,
    parse_body,
    path_int,
)
from csms.admin.routing import LIST_QUERY, Param, Route
from csms.errors import CsmsError
from csms.vehicles import (
    LinkRefused,
    SmartcarNotConfigured,
    VehicleService,
    vehicle_view,
)

__all__ = ["ROUTES", "VehicleLinkCreate", "VerifyWindowOpen"]


class VehicleLinkCreate(BaseModel):
    """Optional Connect preferences."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    make: str | None = Field(
        default=None,
        min_length=1,
        max_length=40,
        pattern=r"^[A-Za-z][A-Za-z0-9_-]*$",
        description="Skip Connect's brand selector, e.g. TESLA.",
    )


class VerifyWindowOpen(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: int = Field(default=900, ge=30, le=3600)


def _service(request: web.Request) -> VehicleService:
    service = deps_of(request).vehicles
    if service is None:
        raise SmartcarNotConfigured("Smartcar is not configured (CSMS_SMARTCAR_CLIENT_ID)")
    return service


async def start_vehicle_link(request: web.Request) -> web.Response:
    account_id = path_int(request, "id", "account")
    body = await parse_body(request, VehicleLinkCreate)
    url = await _service(request).start_linking(account_id, make=body.make)
    return json_response({"connect_url": url}, status=201)


async def list_account_vehicles(request: web.Request) -> web.Response:
    account_id = path_int(request, "id", "account")
    page = page_params(request)
    rows, next_cursor = page.split(
        await _service(request).list_vehicles(
            account_id, after=page.int_cursor(), limit=page.fetch_limit
        ),
        lambda row: row["id"],
    )
    return listing([vehicle_view(row) for row in rows], next_cursor)


async def unlink_vehicle(request: web.Request) -> web.Response:
    account_id = path_int(request, "id", "account")
    vehicle_id = path_int(request, "vehicle_id", "vehicle")
    await _service(request).unlink(account_id, vehicle_id)
    return no_content()


def _wants_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def _page(title: str, lines: list[str], status: int) -> web.Response:
    items = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    text = (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1>{items}</body></html>"
    )
    return web.Response(text=text, status=status, content_type="text/html")


async def smartcar_callback(request: web.Request) -> web.Response:
    """Where Connect sends the driver back: link the chosen cars and say so plainly."""
    try:
        outcome = await _service(request).complete_linking(request.query)
    except LinkRefused as exc:
        if _wants_json(request):
            body = error_body(exc.code, exc.message, reason=exc.reason)
            return json_response(body, status=exc.http_status)
        return _page("Your car was not linked", [exc.message, f"({exc.reason})"], 400)
    except CsmsError as exc:
        if _wants_json(request):
            return csms_error_response(exc)
        return _page(
            "Your car was not linked", [exc.message, "Please try again later."], exc.http_status
        )
    views = [vehicle_view(row) for row in outcome.vehicles]
    if _wants_json(request):
        return json_response({"account_id": outcome.account_id, "vehicles": views})
    lines = [
        " ".join(str(part) for part in (v["make"], v["model"], v["year"], v["vin"]) if part)
        for v in views
    ]
    return _page("Your car is linked", lines or ["No vehicles were shared."], 200)


async def smartcar_webhook(request: web.Request) -> web.Response:
    body = await request.read()
    reply = await _service(request).receive_webhook(body, request.headers.get("SC-Signature"))
    return json_response(reply)


async def open_webhook_verification(request: web.Request) -> web.Response:
    body = await parse_body(request, VerifyWindowOpen)
    until = _service(request).open_verify_window(body.seconds)
    return json_response({"open_until": iso(until)})


_ACCOUNT = Param("id", "Account id.", {"type": "integer", "minimum": 1})
_VEHICLE = Param("vehicle_id", "Vehicle id (ours).", {"type": "integer", "minimum": 1})
VEHICLES = "/api/v1/accounts/{id}/vehicles"

ROUTES = [
    Route(
        "POST",
        "/api/v1/accounts/{id}/vehicle-links",
        start_vehicle_link,
        "Start linking a car",
        'The Smartcar Connect URL to send the driver to: `{"connect_url"}` (201). It is '
        "single use and expires after 10 minutes.",
        status=201,
        body=(VehicleLinkCreate,),
        path_params=(_ACCOUNT,),
        tag="vehicles",
    ),
    Route(
        "GET",
        VEHICLES,
        list_account_vehicles,
        "List an account's cars",
        "A page of linked cars with their status (linked, reauth_required) and last state.",
        query=LIST_QUERY,
        path_params=(_ACCOUNT,),
        tag="vehicles",
    ),
    Route(
        "DELETE",
        VEHICLES + "/{vehicle_id}",
        unlink_vehicle,
        "Unlink a car",
        "Access revoked at Smartcar and tokens deleted (204); 502 if Smartcar could not be "
        "reached (nothing changed).",
        status=204,
        path_params=(_ACCOUNT, _VEHICLE),
        tag="vehicles",
    ),
    Route(
        "GET",
        "/api/v1/smartcar/callback",
        smartcar_callback,
        "Smartcar Connect callback",
        "Links the cars the driver chose (`code` and `state` from Connect). HTML for the "
        "browser; JSON when the client accepts only application/json.",
        query=(
            Param("code", "Authorization code from Connect."),
            Param("state", "The state the Connect URL carried."),
            Param("error", "Connect's error code when the driver declined or it failed."),
            Param("error_description", "Connect's error text."),
        ),
        public=True,
        tag="smartcar",
        content_type="text/html",
    ),
    Route(
        "POST",
        "/api/v1/smartcar/webhooks",
        smartcar_webhook,
        "Smartcar webhook",
        'Answers VERIFY with `{"challenge"}`; accepts events signed with `SC-Signature` '
        "(401 otherwise; nothing is stored).",
        public=True,
        tag="smartcar",
    ),
    Route(
        "POST",
        "/api/v1/smartcar/webhook-verification",
        open_webhook_verification,
        "Allow unsigned webhook VERIFY",
        "Opens a window in which unsigned VERIFY challenges are answered (Smartcar may not "
        'sign them): `{"open_until"}`.',
        body=(VerifyWindowOpen,),
        tag="smartcar",
    ),
]
