"""JSON in and out: responses, the error body, request bodies, query values and paging.

Every datetime leaves as ISO 8601 UTC with a ``Z`` suffix. Errors are
``{"error": {"code", "message", "field"?}}``; a :class:`~csms.errors.ChargerCallError`
also carries the charger's ``ocpp_code`` and ``description``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from functools import partial
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from csms.errors import ChargerCallError, CsmsError, InvalidInput, NotFound

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "InvalidJson",
    "Page",
    "csms_error_response",
    "error_body",
    "invalid_input",
    "iso",
    "json_response",
    "listing",
    "no_content",
    "page_params",
    "parse_body",
    "path_int",
    "query_choice",
    "query_datetime",
    "query_int",
]

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_BIGINT_MAX = 2**63 - 1

ModelT = TypeVar("ModelT", bound=BaseModel)
RowT = TypeVar("RowT")


class InvalidJson(InvalidInput):
    code = "invalid_json"


def iso(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix (naive values are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


_dumps = partial(json.dumps, default=_default, ensure_ascii=False)


def json_response(
    data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.json_response(data, status=status, headers=headers, dumps=_dumps)


def no_content() -> web.Response:
    return web.Response(status=204)


def error_body(
    code: str, message: str, *, field: str | None = None, **extra: Any
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    error.update(extra)
    return {"error": error}


def csms_error_response(exc: CsmsError) -> web.Response:
    """The JSON response for one of our errors, with its HTTP status."""
    extra: dict[str, Any] = {}
    if isinstance(exc, ChargerCallError):
        extra = {"ocpp_code": exc.ocpp_code, "description": exc.description}
    headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
    return json_response(
        error_body(exc.code, exc.message, field=exc.field, **extra),
        status=exc.http_status,
        headers=headers,
    )


# --- request bodies ---------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def invalid_input(error: ValidationError) -> InvalidInput:
    """The first validation error as an InvalidInput naming its dotted location."""
    first = error.errors(include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    message = first["msg"] if field is None else f"{field}: {first['msg']}"
    return InvalidInput(message, field=field)


async def parse_body(request: web.Request, model: type[ModelT]) -> ModelT:
    """Parse the request's JSON body into ``model``; an empty body counts as ``{}``.

    Raises:
        InvalidJson: the body is not JSON.
        InvalidInput: it does not fit the model (``field`` names the first bad location).
    """
    raw = await request.read()
    data: Any = {}
    if raw.strip():
        try:
            data = json.loads(raw, parse_constant=_reject_constant)
        except ValueError as exc:
            raise InvalidJson(f"request body is not valid JSON: {exc}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_input(exc) from None


# --- path and query values ----------------------------------------------------------------


def path_int(request: web.Request, name: str, what: str) -> int:
    """An integer id from the path; anything else is a 404 (no such resource)."""
    raw = request.match_info[name]
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= _BIGINT_MAX:
        raise NotFound(f"{what} {raw} not found")
    return int(raw)


def query_int(
    request: web.Request, name: str, *, minimum: int = 1, maximum: int = _BIGINT_MAX
) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer", field=name) from None
    if not minimum <= value <= maximum:
        raise InvalidInput(f"{name} must be between {minimum} and {maximum}", field=name)
    return value


def query_datetime(request: web.Request, name: str) -> datetime | None:
    """An ISO 8601 date or datetime; one without a time zone is taken as UTC."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(
            f"{name} must be an ISO 8601 datetime such as 2026-01-15T12:00:00Z", field=name
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def query_choice(request: web.Request, name: str, choices: Sequence[str]) -> str | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if raw not in choices:
        raise InvalidInput(f"{name} must be one of {', '.join(choices)}", field=name)
    return raw


# --- paging ---------------------------------------------------------------------------------


class Page:
    """``?limit=`` and ``?cursor=`` of a list request.

    Handlers fetch ``fetch_limit`` rows (one more than asked) and :meth:`split` them, so
    a full last page is not followed by an empty one.
    """

    def __init__(self, limit: int, cursor: str | None) -> None:
        self.limit = limit
        self.cursor = cursor

    @property
    def fetch_limit(self) -> int:
        return self.limit + 1

    def int_cursor(self) -> int | None:
        """The cursor of a list keyed by an integer id."""
        if self.cursor is None:
            return None
        if not self.cursor.isascii() or not self.cursor.isdigit():
            raise InvalidInput("cursor must be the next value of a previous page", field="cursor")
        value = int(self.cursor)
        if value > _BIGINT_MAX:
            raise InvalidInput("cursor is out of range", field="cursor")
        return value

    def split(
        self, rows: Sequence[RowT], cursor_of: Callable[[RowT], object]
    ) -> tuple[Sequence[RowT], str | None]:
        """The rows to show and the next cursor (None on the last page)."""
        shown = rows[: self.limit]
        more = len(rows) > self.limit and len(shown) > 0
        return shown, (str(cursor_of(shown[-1])) if more else None)


def page_params(request: web.Request) -> Page:
    limit = query_int(request, "limit", maximum=MAX_LIMIT)
    cursor = request.query.get("cursor") or None
    return Page(DEFAULT_LIMIT if limit is None else limit, cursor)


def listing(items: Sequence[Any], next_cursor: str | None) -> web.Response:
    """The list shape: ``{"items": [...], "next": cursor-or-null}``."""
    return json_response({"items": list(items), "next": next_cursor})
