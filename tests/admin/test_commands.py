from __future__ import annotations

import pytest

from csms.admin.http import csms_error_response
from csms.command_models import COMMAND_BODIES
from csms.errors import ChargerCallError, ChargerTimeout, CommandNotSupported
from tests.admin.conftest import Api, register

COMMANDS = "/api/v1/charge-points/{id}/commands/{command}"


def url(command: str, charge_point_id: str = "CP-1") -> str:
    return COMMANDS.format(id=charge_point_id, command=command)


async def test_command_to_an_offline_charger_is_409(api: Api) -> None:
    await register(api.pool, "CP-1")
    reply = await api.post(url("reset"), {"type": "soft"})
    assert reply.status == 409
    assert reply.body["error"]["code"] == "charger_not_connected"


async def test_command_without_required_fields_accepts_an_empty_body(api: Api) -> None:
    await register(api.pool, "CP-1")
    # The body is valid (clear-cache has no fields), so the charger's state decides.
    reply = await api.call("POST", url("clear-cache"))
    assert reply.status == 409
    assert reply.body["error"]["code"] == "charger_not_connected"


async def test_unknown_command_is_404(api: Api) -> None:
    await register(api.pool, "CP-1")
    reply = await api.post(url("self-destruct"), {})
    assert reply.status == 404
    assert reply.body["error"]["code"] == "unknown_command"
    assert reply.body["error"]["field"] == "command"


async def test_unknown_charge_point_is_404(api: Api) -> None:
    reply = await api.post(url("reset", "ghost"), {"type": "soft"})
    assert reply.status == 404
    assert reply.body["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("command", "body", "field"),
    [
        ("reset", {"type": "warm"}, "type"),
        ("reset", {}, "type"),
        ("remote-start", {"connector_id": 1}, "id_token"),
        ("remote-start", {"id_token": "T", "connector_id": 0}, "connector_id"),
        ("change-availability", {"connector_id": 1}, "operative"),
        ("clear-cache", {"force": True}, "force"),
        ("get-variables", {"get_variable_data": []}, "get_variable_data"),
    ],
)
async def test_bad_command_body_is_400_naming_the_field(
    api: Api, command: str, body: dict[str, object], field: str
) -> None:
    await register(api.pool, "CP-1")
    reply = await api.post(url(command), body)
    assert reply.status == 400, reply.body
    assert reply.body["error"]["code"] == "invalid_input"
    assert reply.body["error"]["field"] == field


async def test_bad_json_command_body(api: Api) -> None:
    await register(api.pool, "CP-1")
    reply = await api.call("POST", url("reset"), data=b"type=soft")
    assert reply.status == 400
    assert reply.body["error"]["code"] == "invalid_json"


async def test_every_command_is_routed(api: Api) -> None:
    await register(api.pool, "CP-1")
    for command in COMMAND_BODIES:
        reply = await api.post(url(command), {})
        # Either the body is incomplete (400) or it is valid and the charger is offline (409).
        assert reply.status in {400, 409}, (command, reply.body)


def test_charger_errors_map_to_their_status_and_body() -> None:
    response = csms_error_response(ChargerCallError("NotSupported", "no such action"))
    assert response.status == 502
    assert response.text is not None
    assert '"ocpp_code": "NotSupported"' in response.text
    assert '"description": "no such action"' in response.text
    assert '"code": "charger_call_error"' in response.text
    assert csms_error_response(ChargerTimeout("slow")).status == 504
    assert csms_error_response(CommandNotSupported("no")).status == 400
