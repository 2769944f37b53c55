"""The OpenAPI 3.1 document, built from the route table that also registers the routes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiohttp import web
from pydantic import BaseModel

import csms
from csms.admin.http import json_response
from csms.admin.routing import Param, Route, path_parameters

__all__ = ["OPENAPI", "ROUTES", "build_document"]

OPENAPI = web.AppKey("csms_admin_openapi", dict[str, Any])

_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "Stable machine-readable code."},
                "message": {"type": "string"},
                "field": {"type": "string", "description": "Dotted location of the bad input."},
                "ocpp_code": {"type": "string", "description": "A charger's CALLERROR code."},
                "description": {"type": "string", "description": "A charger's CALLERROR text."},
            },
        }
    },
}
_ERROR = {"$ref": "#/components/schemas/Error"}


class _Components:
    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {"Error": _ERROR_SCHEMA}

    def add(self, name: str, schema: dict[str, Any]) -> None:
        if self.schemas.setdefault(name, schema) != schema:
            raise RuntimeError(f"two different schemas are both named {name!r}")

    def ref(self, model: type[BaseModel]) -> dict[str, Any]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in schema.pop("$defs", {}).items():
            self.add(name, definition)
        self.add(model.__name__, schema)
        return {"$ref": f"#/components/schemas/{model.__name__}"}


def _parameter(param: Param, where: str) -> dict[str, Any]:
    return {
        "name": param.name,
        "in": where,
        "required": True if where == "path" else param.required,
        "description": param.description,
        "schema": dict(param.schema),
    }


def _operation(route: Route, components: _Components) -> dict[str, Any]:
    declared = {p.name: p for p in route.path_params}
    parameters = [
        _parameter(declared.get(name, Param(name, name)), "path")
        for name in path_parameters(route.path)
    ]
    parameters += [_parameter(p, "query") for p in route.query]
    success: dict[str, Any] = {"description": route.response}
    if route.status != 204:
        success["content"] = {route.content_type: {}}
    responses: dict[str, Any] = {str(route.status): success}
    if not route.public:
        responses["401"] = {
            "description": "Missing or wrong bearer token.",
            "content": {"application/json": {"schema": _ERROR}},
        }
    responses["default"] = {
        "description": "Error.",
        "content": {"application/json": {"schema": _ERROR}},
    }
    operation: dict[str, Any] = {
        "operationId": route.handler.__name__,
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": parameters,
        "responses": responses,
    }
    if route.body:
        refs = [components.ref(model) for model in route.body]
        schema = refs[0] if len(refs) == 1 else {"oneOf": refs}
        operation["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": schema}},
        }
    if route.public:
        operation["security"] = []
    return operation


def build_document(routes: Iterable[Route]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes``."""
    components = _Components()
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        methods = paths.setdefault(route.path, {})
        method = route.method.lower()
        if method in methods:
            raise RuntimeError(f"route {route.method} {route.path} is declared twice")
        methods[method] = _operation(route, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "CSMS admin API",
            "version": csms.__version__,
            "description": (
                "Operator API of the OCPP central system. Lists are "
                '`{"items": [...], "next": cursor-or-null}` (pass `next` as `?cursor=`); '
                'errors are `{"error": {"code", "message", "field"?}}`.'
            ),
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.schemas.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


async def openapi_document(request: web.Request) -> web.Response:
    return json_response(request.app[OPENAPI])


ROUTES = [
    Route(
        "GET",
        "/api/v1/openapi.json",
        openapi_document,
        "This document",
        "The OpenAPI 3.1 document of the admin API.",
        public=True,
        tag="meta",
    ),
]
