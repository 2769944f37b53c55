from __future__ import annotations

from typing import Any

from aiohttp import web

from csms.admin import create_app
from csms.admin.routing import path_parameters
from csms.command_models import COMMAND_BODIES
from tests.admin.conftest import Api, make_deps
from tests.conftest import FakeClock

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def registered_routes(app: web.Application) -> set[tuple[str, str]]:
    routes = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        resource = route.resource
        assert resource is not None
        routes.add((route.method, resource.canonical))
    return routes


def documented_routes(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in METHODS
    }


async def test_document_matches_the_registered_routes(api: Api, clock: FakeClock) -> None:
    reply = await api.get("/api/v1/openapi.json", token=None)
    assert reply.status == 200
    document = reply.body
    assert document["openapi"].startswith("3.1")

    app = create_app(make_deps(api.pool, clock))
    registered = registered_routes(app)
    assert registered == documented_routes(document)
    # The ones the contract names are all there.
    assert {
        ("POST", "/api/v1/charge-points"),
        ("GET", "/api/v1/charge-points"),
        ("GET", "/api/v1/charge-points/{id}"),
        ("PATCH", "/api/v1/charge-points/{id}"),
        ("DELETE", "/api/v1/charge-points/{id}"),
        ("GET", "/api/v1/charge-points/{id}/messages"),
        ("POST", "/api/v1/charge-points/{id}/commands/{command}"),
        ("POST", "/api/v1/id-tokens"),
        ("GET", "/api/v1/id-tokens/{id_token}"),
        ("PATCH", "/api/v1/id-tokens/{id_token}"),
        ("DELETE", "/api/v1/id-tokens/{id_token}"),
        ("GET", "/api/v1/sessions"),
        ("GET", "/api/v1/sessions/{id}"),
        ("POST", "/api/v1/accounts"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/api/v1/openapi.json"),
    } <= registered


def all_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in all_refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in all_refs(value)]
    return []


async def test_document_is_self_consistent(api: Api) -> None:
    document = (await api.get("/api/v1/openapi.json")).body
    schemas = document["components"]["schemas"]
    for ref in all_refs(document):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in schemas, ref

    operation_ids = []
    for path, operations in document["paths"].items():
        for operation in operations.values():
            operation_ids.append(operation["operationId"])
            path_params = [p["name"] for p in operation["parameters"] if p["in"] == "path"]
            assert path_params == path_parameters(path)
            assert operation["responses"]
    assert len(operation_ids) == len(set(operation_ids))

    create = document["paths"]["/api/v1/charge-points"]["post"]
    body_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = schemas[body_ref.rsplit("/", 1)[1]]
    assert set(body["required"]) == {"id", "password"}
    assert body["additionalProperties"] is False

    command = document["paths"]["/api/v1/charge-points/{id}/commands/{command}"]["post"]
    variants = command["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert len(variants) == len(COMMAND_BODIES)
    [command_param] = [p for p in command["parameters"] if p["name"] == "command"]
    assert set(command_param["schema"]["enum"]) == set(COMMAND_BODIES)

    health = document["paths"]["/healthz"]["get"]
    assert health["security"] == []
    assert "security" not in document["paths"]["/api/v1/sessions"]["get"]
    assert document["security"] == [{"bearer": []}]
