"""Tokens at rest and their refresh: encrypted, refreshed before expiry, a refresh token
spent once however many workers race for it, invalid_grant marks re-authorisation."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest

from csms.database import create_pool
from smartcar_bridge import TokenCipher, session_scope
from smartcar_bridge.bridge import ConnectResult, SmartcarBridge
from smartcar_bridge.errors import ReauthorizationRequired
from smartcar_bridge.store import call_counts
from smartcar_bridge.tokens import UnreadableToken
from tests.smartcar_bridge.conftest import SimHandle


async def _linked(sim: SimHandle, bridge: SmartcarBridge, **fields: object) -> ConnectResult:
    vehicle = await sim.vehicle(**fields)
    url = await bridge.start_link("1")
    state = parse_qs(urlsplit(url).query)["state"][0]
    query = await sim.connect_code(bridge.client.config, state, login=vehicle["owner_id"])
    result = await bridge.finish_link({k: v[0] for k, v in query.items()})
    async with bridge.vault._pool.acquire() as conn, conn.transaction():
        await bridge.save_link(conn, result)
    return result


def test_cipher_round_trip_and_tamper() -> None:
    cipher = TokenCipher.from_text(TokenCipher.generate_key())
    sealed = cipher.encrypt("secret-token", "refresh_token")
    assert b"secret-token" not in sealed
    assert cipher.decrypt(sealed, "refresh_token") == "secret-token"
    assert cipher.encrypt("secret-token", "refresh_token") != sealed  # fresh nonce
    with pytest.raises(UnreadableToken):
        cipher.decrypt(sealed, "access_token")  # bound to its column
    with pytest.raises(UnreadableToken):
        cipher.decrypt(sealed[:-1] + bytes([sealed[-1] ^ 1]), "refresh_token")
    with pytest.raises(UnreadableToken):
        TokenCipher.from_text(TokenCipher.generate_key()).decrypt(sealed, "refresh_token")
    with pytest.raises(ValueError, match="32 bytes"):
        TokenCipher(b"short")


async def test_tokens_are_not_readable_in_the_database_without_the_key(
    sim: SimHandle, pool: asyncpg.Pool
) -> None:
    bridge = sim.bridge(pool)
    result = await _linked(sim, bridge)
    async with pool.acquire() as conn:
        dump = await conn.fetch("SELECT * FROM smartcar_grants")
        text = str([dict(r) for r in dump])
    assert len(dump) == 1
    for secret in (result.tokens.access_token, result.tokens.refresh_token):
        assert secret not in text
        assert secret.encode() not in dump[0]["access_token"]
        assert secret.encode() not in dump[0]["refresh_token"]
    # Another key reads nothing; the right key reads the token.
    other = sim.bridge(pool, key=TokenCipher.generate_key())
    with pytest.raises(UnreadableToken):
        await other.vault.auth(result.vehicles[0].vehicle_id)
    assert (await bridge.vault.auth(result.vehicles[0].vehicle_id)).access_token == (
        result.tokens.access_token
    )


async def test_refreshed_before_expiry_and_rotated_token_persisted(
    sim: SimHandle, pool: asyncpg.Pool
) -> None:
    bridge = sim.bridge(pool)
    result = await _linked(sim, bridge, soc=0.3)
    vehicle_id = result.vehicles[0].vehicle_id
    sim.clock.advance(7200 - 200)  # inside the 300 s refresh margin
    battery = await bridge.battery(vehicle_id)
    assert battery.percent_remaining == pytest.approx(0.3)
    assert bridge.vault.refreshes == 1
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT refresh_count, access_expires_at, refresh_expires_at FROM smartcar_grants"
        )
    assert row["refresh_count"] == 1
    assert row["access_expires_at"] == sim.clock.now + timedelta(seconds=7200)
    # The new refresh token was stored: the next refresh works (the old one would not).
    sim.clock.advance(7200)
    assert (await bridge.vin(vehicle_id)).vin == result.vehicles[0].vin
    assert bridge.vault.refreshes == 2


async def test_concurrent_refresh_spends_the_refresh_token_once(
    sim: SimHandle, pool: asyncpg.Pool, database_url: str
) -> None:
    # Two "processes": separate pools and vaults over one database. The simulator's
    # refresh tokens work exactly once, so a second spend would come back invalid_grant.
    first = sim.bridge(pool)
    result = await _linked(sim, first)
    vehicle_id = result.vehicles[0].vehicle_id
    other_pool = await create_pool(database_url, min_size=1, max_size=5)
    try:
        second = sim.bridge(other_pool)
        sim.clock.advance(7200)  # expired: everyone must refresh first
        reads = [b.battery(vehicle_id) for b in (first, second) for _ in range(5)]
        batteries = await asyncio.gather(*reads)
    finally:
        await other_pool.close()
    assert len(batteries) == 10
    assert first.vault.refreshes + second.vault.refreshes == 1
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT status, refresh_count FROM smartcar_grants")
    assert (row["status"], row["refresh_count"]) == ("active", 1)
    spent = [r for r in await sim.requests() if r["path"] == "/oauth/token"]
    assert len(spent) == 2  # the code exchange and one refresh


async def test_invalid_grant_marks_reauthorisation(sim: SimHandle, pool: asyncpg.Pool) -> None:
    bridge = sim.bridge(pool)
    result = await _linked(sim, bridge)
    vehicle_id = result.vehicles[0].vehicle_id
    # Someone else spends our refresh token (a leaked copy, an old backup...).
    await bridge.oauth.refresh(result.tokens.refresh_token)
    sim.clock.advance(7200)
    with pytest.raises(ReauthorizationRequired) as caught:
        await bridge.battery(vehicle_id)
    assert caught.value.code == "invalid_grant"
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT status, status_reason FROM smartcar_grants")
    assert row["status"] == "reauth_required"
    assert "Invalid refresh_token" in row["status_reason"]
    # No further refresh attempts until the driver connects again.
    before = len(await sim.requests())
    with pytest.raises(ReauthorizationRequired):
        await bridge.battery(vehicle_id)
    assert len(await sim.requests()) == before


async def test_reconnecting_clears_the_mark(sim: SimHandle, pool: asyncpg.Pool) -> None:
    bridge = sim.bridge(pool)
    result = await _linked(sim, bridge)
    vehicle_id = result.vehicles[0].vehicle_id
    await bridge.vault.mark_reauth_required(vehicle_id, "test")
    with pytest.raises(ReauthorizationRequired):
        await bridge.vin(vehicle_id)
    url = await bridge.start_link("1")
    state = parse_qs(urlsplit(url).query)["state"][0]
    query = await sim.connect_code(bridge.client.config, state, login=result.user_id)
    again = await bridge.finish_link({k: v[0] for k, v in query.items()})
    async with pool.acquire() as conn, conn.transaction():
        await bridge.save_link(conn, again)
    assert (await bridge.vin(vehicle_id)).vin == result.vehicles[0].vin


async def test_a_401_refreshes_once_and_retries(sim: SimHandle, pool: asyncpg.Pool) -> None:
    bridge = sim.bridge(pool)
    result = await _linked(sim, bridge)
    vehicle_id = result.vehicles[0].vehicle_id
    # We believe the token is good for hours, but Smartcar no longer takes it.
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE smartcar_grants SET access_expires_at = $1",
            sim.clock.now + timedelta(days=1),
        )
    await sim.control("DELETE", "/requests")
    sim.clock.advance(7300)
    assert (await bridge.vin(vehicle_id)).vin == result.vehicles[0].vin
    assert bridge.vault.refreshes == 1
    statuses = [r["status"] for r in await sim.requests() if r["path"].endswith("/vin")]
    assert statuses == [401, 200]


async def test_calls_are_counted_per_vehicle_and_session(
    sim: SimHandle, pool: asyncpg.Pool
) -> None:
    bridge = sim.bridge(pool)
    result = await _linked(sim, bridge, plugged_in=True)
    vehicle_id = result.vehicles[0].vehicle_id
    linking_calls = bridge.client.metrics.by_vehicle[vehicle_id]
    with session_scope("session-17"):
        await bridge.battery(vehicle_id)
        await bridge.start_charge(vehicle_id)
        await bridge.snapshot(vehicle_id)  # a batch of two paths counts two
    metrics = bridge.client.metrics
    assert metrics.by_session["session-17"] == 4
    assert metrics.by_vehicle[vehicle_id] == linking_calls + 4
    async with pool.acquire() as conn:
        assert await call_counts(conn, session_ref="session-17") == 4
        assert await call_counts(conn, vehicle_id=vehicle_id) == linking_calls + 4
    text = metrics.exposition()
    assert 'smartcar_session_requests_total{session="session-17"} 4' in text
    assert f'smartcar_vehicle_requests_total{{vehicle="{vehicle_id}"}} {linking_calls + 4}' in text


async def test_forgetting_the_last_vehicle_deletes_the_tokens(
    sim: SimHandle, pool: asyncpg.Pool
) -> None:
    bridge = sim.bridge(pool)
    result = await _linked(sim, bridge)
    vehicle_id = result.vehicles[0].vehicle_id
    await bridge.revoke(vehicle_id)
    async with pool.acquire() as conn:
        assert await bridge.forget(conn, vehicle_id) is True
        assert await conn.fetchval("SELECT count(*) FROM smartcar_grants") == 0
    assert sim.sim.connections == {}
    with pytest.raises(ReauthorizationRequired):
        await bridge.vin(vehicle_id)
