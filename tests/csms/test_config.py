from __future__ import annotations

import pytest
from pydantic import ValidationError

from csms.config import Settings, load_settings


def test_environment_is_read_from_the_given_mapping() -> None:
    settings = load_settings(
        {
            "CSMS_OCPP_PORT": "9100",
            "DATABASE_URL": "postgresql://db/x",
            "CSMS_AUTO_REGISTER_CHARGE_POINTS": "true",
            "UNRELATED": "ignored",
        }
    )
    assert settings.ocpp_port == 9100
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == "postgresql://db/x"
    assert settings.auto_register_charge_points is True
    assert settings.api_port == 8080  # default


def test_csms_prefixed_url_and_explicit_overrides_win() -> None:
    settings = load_settings(
        {"CSMS_DATABASE_URL": "postgresql://a/b", "CSMS_API_PORT": "1"}, api_port=0
    )
    assert settings.api_port == 0
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == "postgresql://a/b"


def test_malformed_value_names_the_variable() -> None:
    with pytest.raises(ValidationError, match="ocpp_port"):
        load_settings({"CSMS_OCPP_PORT": "not-a-port"})


def test_constructing_settings_ignores_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CSMS_OCPP_PORT", "1234")
    assert Settings().ocpp_port == 9000
    assert load_settings().ocpp_port == 1234


def test_stripe_needs_a_secret_key() -> None:
    with pytest.raises(ValidationError, match="CSMS_STRIPE_SECRET_KEY"):
        load_settings({"CSMS_PAYMENT_PROVIDER": "stripe"})
    settings = load_settings(
        {"CSMS_PAYMENT_PROVIDER": "stripe", "CSMS_STRIPE_SECRET_KEY": "sk_test_1"}
    )
    assert settings.stripe_secret_key is not None
    assert "sk_test_1" not in repr(settings)
    assert load_settings({}).payment_provider == "simulated"
