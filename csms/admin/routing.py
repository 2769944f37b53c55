"""The route table: one entry per operation registers the route and documents it.

:func:`csms.admin.app.create_app` adds every entry to the router and
:mod:`csms.admin.openapi` builds the document from the same entries, so the two cannot
drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel

__all__ = ["Handler", "Param", "Route", "path_parameters"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_PATH_PARAM = re.compile(r"{([^{}:]+)}")


@dataclass(frozen=True)
class Param:
    """A query parameter (or the type of a path parameter) for the document."""

    name: str
    description: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    response: str
    """Description of the success response."""
    status: int = 200
    body: tuple[type[BaseModel], ...] = ()
    """Request body model(s); several are documented as ``oneOf``."""
    query: tuple[Param, ...] = ()
    path_params: tuple[Param, ...] = ()
    """Descriptions of path parameters; ones not listed are documented as strings."""
    public: bool = False
    """Served without the bearer token."""
    tag: str = "admin"
    content_type: str = "application/json"


def path_parameters(path: str) -> list[str]:
    """Names of the ``{placeholders}`` of a route path, in order."""
    return _PATH_PARAM.findall(path)


LIST_QUERY = (
    Param(
        "limit",
        "Page size (1..500, default 50).",
        {"type": "integer", "minimum": 1, "maximum": 500},
    ),
    Param("cursor", "The `next` value of the previous page."),
)
