"""Smartcar Connect: the URL, the state (unguessable, single use, expiring, bound to its
owner), the callback and the code exchange, against the simulator."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest

from smartcar_bridge.config import DEFAULT_SCOPES, ApiVersion
from smartcar_bridge.errors import ConnectError, InvalidGrant, StateError
from smartcar_bridge.oauth import connect_url, parse_callback
from tests.smartcar_bridge.conftest import CLIENT_ID, REDIRECT_URI, SimHandle


def _flat(query: dict[str, list[str]]) -> dict[str, str]:
    return {key: values[0] for key, values in query.items()}


def test_connect_url_carries_what_connect_needs(sim: SimHandle) -> None:
    config = sim.config()
    url = connect_url(config, "st4te", make="TESLA")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{sim.url}/oauth/authorize"
    query = _flat(parse_qs(parts.query))
    assert query == {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": " ".join(DEFAULT_SCOPES),
        "state": "st4te",
        "approval_prompt": "auto",
        "mode": "test",
        "make": "TESLA",
    }
    for scope in (
        "read_vin",
        "read_battery",
        "read_charge",
        "control_charge",
        "read_location",
        "read_vehicle_info",
    ):
        assert scope in query["scope"]
    single = _flat(parse_qs(urlsplit(connect_url(config, "s", single_select_vin="VIN1")).query))
    assert (single["single_select"], single["single_select_vin"]) == ("true", "VIN1")


@pytest.mark.parametrize("version", ["2.0", "3"])
async def test_linking_reads_what_the_driver_linked(
    sim: SimHandle, pool: asyncpg.Pool, version: ApiVersion
) -> None:
    first = await sim.vehicle(
        make="TESLA", model="Model 3", year=2022, vin="5YJ3E1EA7KF000001", capacity_kwh=57.5
    )
    await sim.vehicle(owner=first["owner_id"], make="KIA", model="EV6", year=2023)
    bridge = sim.bridge(pool, version)

    url = await bridge.start_link("42")
    state = _flat(parse_qs(urlsplit(url).query))["state"]
    assert len(state) >= 43  # 256 random bits
    query = await sim.connect_code(bridge.client.config, state, login=first["owner_id"])
    result = await bridge.finish_link(_flat(query))

    assert result.owner == "42"
    assert result.user_id == first["owner_id"]
    assert (result.tokens.expires_at - sim.clock.now).total_seconds() == 7200
    assert (result.tokens.refresh_expires_at - sim.clock.now).days == 60
    linked = {v.vehicle_id: v for v in result.vehicles}
    assert set(linked) == {v.id for v in sim.sim.vehicles_of(first["owner_id"])}
    assert len(linked) == 2
    tesla = linked[first["id"]]
    assert (tesla.vin, tesla.make, tesla.model, tesla.year) == (
        "5YJ3E1EA7KF000001",
        "TESLA",
        "Model 3",
        2022,
    )
    assert tesla.capacity_kwh == 57.5 and tesla.capacity_source == "SMARTCAR"
    assert tesla.errors == {}


async def test_state_is_single_use(sim: SimHandle, pool: asyncpg.Pool) -> None:
    vehicle = await sim.vehicle()
    bridge = sim.bridge(pool)
    state = _flat(parse_qs(urlsplit(await bridge.start_link("7")).query))["state"]
    query = _flat(await sim.connect_code(bridge.client.config, state, login=vehicle["owner_id"]))
    await bridge.finish_link(query)
    with pytest.raises(StateError, match="already used"):
        await bridge.finish_link(query)


async def test_expired_state_is_refused(sim: SimHandle, pool: asyncpg.Pool) -> None:
    vehicle = await sim.vehicle()
    bridge = sim.bridge(pool)
    state = _flat(parse_qs(urlsplit(await bridge.start_link("7")).query))["state"]
    query = _flat(await sim.connect_code(bridge.client.config, state, login=vehicle["owner_id"]))
    sim.clock.advance(601)
    with pytest.raises(StateError, match="expired"):
        await bridge.finish_link(query)


async def test_forged_state_is_refused(sim: SimHandle, pool: asyncpg.Pool) -> None:
    vehicle = await sim.vehicle()
    bridge = sim.bridge(pool)
    await bridge.start_link("7")  # a real one exists, but the attacker does not know it
    query = _flat(await sim.connect_code(bridge.client.config, "forged", login=vehicle["owner_id"]))
    with pytest.raises(StateError):
        await bridge.finish_link(query)
    with pytest.raises(StateError):
        await bridge.finish_link({**query, "state": ""})


async def test_state_is_bound_to_its_owner(sim: SimHandle, pool: asyncpg.Pool) -> None:
    bridge = sim.bridge(pool)
    one = _flat(parse_qs(urlsplit(await bridge.start_link("1")).query))["state"]
    two = _flat(parse_qs(urlsplit(await bridge.start_link("2")).query))["state"]
    assert one != two
    assert await bridge.states.consume(two) == "2"
    assert await bridge.states.consume(one) == "1"
    # Only digests are stored.
    async with pool.acquire() as conn:
        await bridge.states.issue("3")
        stored = await conn.fetch("SELECT state_sha256, owner FROM smartcar_connect_states")
    assert [r["owner"] for r in stored] == ["3"] and len(stored[0]["state_sha256"]) == 32


async def test_declined_connect_is_a_connect_error(sim: SimHandle, pool: asyncpg.Pool) -> None:
    await sim.vehicle()
    bridge = sim.bridge(pool)
    state = _flat(parse_qs(urlsplit(await bridge.start_link("7")).query))["state"]
    query = _flat(await sim.connect_code(bridge.client.config, state, sim_decision="deny"))
    with pytest.raises(ConnectError) as caught:
        await bridge.finish_link(query)
    assert caught.value.code == "access_denied"
    incompatible = _flat(
        await sim.connect_code(
            bridge.client.config, state, login="smartcar@vehicle-incompatible.com"
        )
    )
    with pytest.raises(ConnectError) as caught:
        parse_callback(incompatible)
    assert caught.value.code == "vehicle_incompatible"
    assert caught.value.detail is not None and caught.value.detail["make"] == "VOLKSWAGEN"


async def test_a_code_works_once(sim: SimHandle) -> None:
    vehicle = await sim.vehicle()
    client = sim.client()
    from smartcar_bridge.oauth import OAuthClient

    oauth = OAuthClient(client.transport, client.config)
    query = _flat(await sim.connect_code(client.config, "s", login=vehicle["owner_id"]))
    tokens = await oauth.exchange_code(query["code"])
    assert tokens.access_token != tokens.refresh_token
    with pytest.raises(InvalidGrant) as caught:
        await oauth.exchange_code(query["code"])
    assert caught.value.status == 400 and caught.value.code == "invalid_grant"
