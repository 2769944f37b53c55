"""Local authorisation lists end to end, OCPP 1.6 and 2.0.1: send-local-list (Full built
from the id_tokens table, then Differential), get-local-list-version, the version tracked
per charger, and the request as it left the server (frame log)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from simulators.charger import BaseCharger, ChargerConfig, create_charger
from tests.csms.conftest import PASSWORD, System

pytestmark = pytest.mark.slow

CP = "CP-L"


@pytest.fixture(params=["ocpp1.6", "ocpp2.0.1"])
async def charger(request: pytest.FixtureRequest, system: System) -> AsyncIterator[BaseCharger]:
    await system.register(CP)
    await system.token("TAG-A")
    await system.token("TAG-B", status="Blocked", expiry="2030-01-01T00:00:00Z")
    await system.token("TAG-C", type="Central")
    config = ChargerConfig(
        url=system.ocpp_url,
        charge_point_id=CP,
        password=PASSWORD,
        protocol=request.param,
        connectors=1,
    )
    async with create_charger(config) as cp:
        yield cp


async def command(system: System, name: str, body: Any = None) -> Any:
    return await system.api("POST", f"/charge-points/{CP}/commands/{name}", body, expect=200)


async def sent_payloads(system: System) -> list[dict[str, Any]]:
    await system.settle()
    rows = await system.fetch(
        "SELECT frame FROM message_log WHERE charge_point_id = $1 AND direction = 'out' "
        "AND action = 'SendLocalList' ORDER BY id",
        CP,
    )
    return [json.loads(r["frame"])[3] for r in rows]  # json keeps the key order


async def test_full_then_differential(system: System, charger: BaseCharger) -> None:
    v16 = charger.config.protocol == "ocpp1.6"
    tracked = await system.api("GET", f"/charge-points/{CP}/local-list", expect=200)
    assert tracked["list_version"] is None and tracked["reported_version"] is None
    assert await command(system, "get-local-list-version") == (
        {"list_version": 0} if v16 else {"version_number": 0}
    )

    # Full, built from the id_tokens table.
    full = await command(system, "send-local-list", {"list_version": 1, "update_type": "Full"})
    assert full == {"status": "Accepted"}
    assert charger.local_list.version == 1
    assert sorted(charger.local_list.entries) == ["TAG-A", "TAG-B", "TAG-C"]
    assert charger.local_list.entries["TAG-B"]["status"] == "Blocked"

    # Differential: one added, one removed (no token info).
    diff = {
        "list_version": 2,
        "update_type": "Differential",
        "local_authorization_list": [
            {"id_token": "TAG-D", "id_token_info": {"status": "Accepted"}},
            {"id_token": "TAG-B"},
        ],
    }
    assert await command(system, "send-local-list", diff) == {"status": "Accepted"}
    assert charger.local_list.version == 2
    assert sorted(charger.local_list.entries) == ["TAG-A", "TAG-C", "TAG-D"]
    # The same version again: the charger refuses it, the version held stays.
    assert await command(system, "send-local-list", diff) == {"status": "VersionMismatch"}

    tracked = await system.api("GET", f"/charge-points/{CP}/local-list", expect=200)
    assert tracked["list_version"] == 2
    assert (tracked["sent_version"], tracked["sent_status"]) == (2, "VersionMismatch")
    assert (tracked["sent_update_type"], tracked["sent_entries"]) == ("Differential", 2)
    assert await command(system, "get-local-list-version") == (
        {"list_version": 2} if v16 else {"version_number": 2}
    )
    tracked = await system.api("GET", f"/charge-points/{CP}/local-list", expect=200)
    assert tracked["reported_version"] == 2 and tracked["reported_at"] is not None

    first, second, _ = await sent_payloads(system)
    if v16:
        # listVersion before the list, idTag first in each entry.
        assert list(first).index("listVersion") < list(first).index("localAuthorizationList")
        assert all(next(iter(entry)) == "idTag" for entry in first["localAuthorizationList"])
        assert first["localAuthorizationList"] == [
            {"idTag": "TAG-A", "idTagInfo": {"status": "Accepted"}},
            {
                "idTag": "TAG-B",
                "idTagInfo": {"status": "Blocked", "expiryDate": "2030-01-01T00:00:00Z"},
            },
            {"idTag": "TAG-C", "idTagInfo": {"status": "Accepted"}},
        ]
        assert second == {
            "listVersion": 2,
            "updateType": "Differential",
            "localAuthorizationList": [
                {"idTag": "TAG-D", "idTagInfo": {"status": "Accepted"}},
                {"idTag": "TAG-B"},
            ],
        }
    else:
        assert first["versionNumber"] == 1 and first["updateType"] == "Full"
        assert first["localAuthorizationList"][1] == {
            "idToken": {"idToken": "TAG-B", "type": "ISO14443"},
            "idTokenInfo": {"status": "Blocked", "cacheExpiryDateTime": "2030-01-01T00:00:00Z"},
        }
        assert first["localAuthorizationList"][2]["idToken"] == {
            "idToken": "TAG-C",
            "type": "Central",
        }
        assert second["localAuthorizationList"][1] == {
            "idToken": {"idToken": "TAG-B", "type": "ISO14443"}
        }


async def test_bad_lists_are_refused_before_sending(system: System, charger: BaseCharger) -> None:
    url = f"/charge-points/{CP}/commands/send-local-list"
    await system.api("POST", url, {"list_version": 1, "update_type": "Partial"}, expect=400)
    await system.api("POST", url, {"list_version": 0, "update_type": "Full"}, expect=400)
    if charger.config.protocol == "ocpp1.6":
        error = await system.api(
            "POST",
            url,
            {
                "list_version": 1,
                "update_type": "Full",
                "local_authorization_list": [{"id_token": "X" * 21}],
            },
            expect=400,
        )
        assert error["error"]["field"] == "local_authorization_list.0.id_token"
    assert await sent_payloads(system) == []
