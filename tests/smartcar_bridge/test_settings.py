"""Smartcar settings: read from the environment, turned into the bridge's configuration,
and the token key generated once into the data directory when none is configured."""

from __future__ import annotations

import stat
from pathlib import Path

import asyncpg

from csms.config import load_settings
from csms.vehicles import KEY_FILE, VehicleService, bridge_config, load_token_key
from smartcar_bridge import TokenCipher
from tests.conftest import FakeClock


def test_defaults_leave_smartcar_off_and_point_at_the_real_hosts() -> None:
    settings = load_settings({})
    assert settings.smartcar_client_id is None
    assert settings.smartcar_api_version == "2.0"
    assert settings.smartcar_connect_url == "https://connect.smartcar.com"
    assert settings.smartcar_auth_url == "https://auth.smartcar.com"
    assert settings.smartcar_api_url == "https://api.smartcar.com"
    assert settings.smartcar_vehicle_api_url == "https://vehicle.api.smartcar.com"


def test_environment_builds_the_bridge_config() -> None:
    settings = load_settings(
        {
            "CSMS_SMARTCAR_CLIENT_ID": "id",
            "CSMS_SMARTCAR_CLIENT_SECRET": "s3cr3t-value",
            "CSMS_SMARTCAR_API_URL": "http://127.0.0.1:8090/",
            "CSMS_SMARTCAR_API_VERSION": "3",
            "CSMS_SMARTCAR_COMMAND_TIMEOUT_S": "120",
            "CSMS_SMARTCAR_VEHICLE_REQUESTS_PER_MINUTE": "6",
        }
    )
    config = bridge_config(settings)
    assert (config.client_id, config.client_secret) == ("id", "s3cr3t-value")
    assert config.api_url == "http://127.0.0.1:8090"  # trailing slash dropped
    assert config.api_version == "3"
    assert config.timeouts.command_s == 120
    assert config.limits.vehicle_refill_per_s == 0.1
    assert "s3cr3t-value" not in repr(settings)


def test_token_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    settings = load_settings({"CSMS_DATA_DIR": str(tmp_path / "data")})
    key = load_token_key(settings)
    path = tmp_path / "data" / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_token_key(settings) == key  # reused on the next start
    TokenCipher.from_text(key)  # a valid key
    configured = TokenCipher.generate_key()
    explicit = load_settings(
        {"CSMS_DATA_DIR": str(tmp_path / "data"), "CSMS_SMARTCAR_TOKEN_KEY": configured}
    )
    assert load_token_key(explicit) == configured


async def test_service_from_settings(tmp_path: Path, pool: asyncpg.Pool, clock: FakeClock) -> None:
    assert VehicleService.from_settings(load_settings({}), pool, clock) is None
    settings = load_settings(
        {
            "CSMS_DATA_DIR": str(tmp_path),
            "CSMS_SMARTCAR_CLIENT_ID": "id",
            "CSMS_SMARTCAR_CLIENT_SECRET": "secret",
            "CSMS_SMARTCAR_WEBHOOK_SECRET": "amt",
        }
    )
    service = VehicleService.from_settings(settings, pool, clock)
    assert service is not None
    try:
        assert service.receiver is not None
        assert service.bridge.client.config.client_id == "id"
        assert "smartcar_api_requests_total" in service.metrics_text()
    finally:
        await service.close()
