"""The one typed settings object, read once from an injected environment.

Every value has a default that makes ``csms serve`` work out of the box. Nothing else in
the project reads ``os.environ``: :func:`load_settings` is called by the CLI and the
resulting :class:`Settings` is passed down explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

__all__ = ["Settings", "load_settings"]


class Settings(BaseSettings):
    """Configuration of the central system; environment variables use the ``CSMS_`` prefix."""

    model_config = SettingsConfigDict(env_prefix="CSMS_", frozen=True, extra="ignore")

    database_url: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("CSMS_DATABASE_URL", "DATABASE_URL"),
        description="PostgreSQL DSN; unset starts an embedded PostgreSQL in data_dir.",
    )
    data_dir: Path = Field(default=Path("./.csms"), description="Embedded database and state.")
    host: str = "0.0.0.0"  # noqa: S104 - a server listens on all interfaces by default
    ocpp_port: int = Field(default=9000, ge=0, le=65535)
    api_port: int = Field(default=8080, ge=0, le=65535)
    admin_token: SecretStr | None = Field(
        default=None, description="Admin API bearer token; unset: generated on first start."
    )
    log_format: Literal["json", "console"] | None = Field(
        default=None, description="Unset: console on a terminal, JSON otherwise."
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    ocpp_log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="warning",
        description="The ocpp library logs whole frames (id tags included) at INFO.",
    )

    heartbeat_interval_s: int = Field(default=300, ge=1, description="Sent in BootNotification.")
    boot_registration_status: Literal["Accepted", "Pending"] = Field(
        default="Accepted",
        description="BootNotification answer; Pending holds chargers back (commissioning).",
    )
    auto_register_charge_points: bool = Field(
        default=False,
        description="Development only: accept unknown chargers and register them on connect.",
    )
    call_timeout_s: float = Field(default=30.0, gt=0, description="Wait for a charger's reply.")
    ws_ping_interval_s: float = Field(default=60.0, ge=0, description="0 disables pings.")
    ws_ping_timeout_s: float = Field(default=60.0, ge=0)
    ws_max_message_bytes: int = Field(default=1024 * 1024, ge=1024)
    ws_open_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="Time a charger has to complete the handshake; generous for reconnect "
        "storms after a site-wide power cut.",
    )
    ws_compression: bool = Field(
        default=False, description="permessage-deflate; triples memory per connection."
    )

    db_pool_min: int = Field(default=2, ge=1)
    db_pool_max: int = Field(default=10, ge=1)
    db_command_timeout_s: float = Field(default=10.0, gt=0)

    workers: int | None = Field(
        default=None, ge=1, description="Server processes sharing the ports; unset: one per core."
    )
    reuse_port: bool = Field(
        default=False, description="SO_REUSEPORT on both ports (set for worker processes)."
    )
    group_commit_writers: int = Field(
        default=2, ge=1, description="Connections that commit batched OCPP writes in turn."
    )
    message_log_flush_ms: int = Field(default=50, ge=1)
    message_log_max_frame_chars: int = Field(
        default=64 * 1024, ge=256, description="Longer frames are stored truncated."
    )
    worker_poll_interval_s: float = Field(default=1.0, gt=0)
    shutdown_timeout_s: float = Field(default=10.0, gt=0)

    # --- Smartcar (smartcar_bridge; built by csms.vehicles.VehicleService.from_settings) ---
    # Unset client id: Smartcar is off and its routes answer 503. Base URLs are origins;
    # the real paths are appended, so tests and the demo point all four at the simulator.
    smartcar_client_id: str | None = Field(default=None, description="Unset: Smartcar off.")
    smartcar_client_secret: SecretStr | None = None
    smartcar_redirect_uri: str = Field(
        default="http://localhost:8080/api/v1/smartcar/callback",
        description="Registered in the Smartcar Dashboard; served by the admin API.",
    )
    smartcar_connect_url: str = "https://connect.smartcar.com"
    smartcar_auth_url: str = "https://auth.smartcar.com"
    smartcar_api_url: str = "https://api.smartcar.com"
    smartcar_vehicle_api_url: str = Field(
        default="https://vehicle.api.smartcar.com", description="Vehicle API v3."
    )
    smartcar_api_version: Literal["2.0", "3"] = "2.0"
    smartcar_connect_mode: Literal["live", "simulated", "test"] = "live"
    smartcar_token_key: SecretStr | None = Field(
        default=None,
        description=(
            "URL-safe base64 of 32 bytes; encrypts tokens at rest. Unset: generated on first"
            " start into <data_dir>/smartcar-token.key (set it when several instances share"
            " one database)."
        ),
    )
    smartcar_webhook_secret: SecretStr | None = Field(
        default=None,
        description="Application management token: verifies webhooks. Unset: webhooks off.",
    )
    smartcar_webhook_unsigned_verify: Literal["never", "window", "always"] = Field(
        default="window",
        description="Unsigned VERIFY answered never, in an operator-opened window, or always.",
    )
    smartcar_read_timeout_s: float = Field(default=30.0, gt=0)
    smartcar_command_timeout_s: float = Field(default=310.0, gt=0)
    smartcar_token_timeout_s: float = Field(default=30.0, gt=0)
    smartcar_max_attempts: int = Field(default=3, ge=1, le=10)
    smartcar_app_requests_per_minute: float = Field(default=2.0, gt=0)
    smartcar_app_burst: float = Field(default=120.0, ge=1)
    smartcar_vehicle_requests_per_minute: float = Field(default=2.0, gt=0)
    smartcar_vehicle_burst: float = Field(default=10.0, ge=1)
    # --- end Smartcar ---------------------------------------------------------------------

    # --- Billing and payments (csms.invoicing, csms.settlement, csms.payments) ------------
    payment_provider: Literal["simulated", "stripe"] = Field(
        default="simulated", description="simulated: in-process, no real money (default)."
    )
    stripe_api_url: str = Field(
        default="https://api.stripe.com", description="Origin; /v1/... paths are appended."
    )
    stripe_secret_key: SecretStr | None = Field(
        default=None, description="Required with payment_provider=stripe."
    )
    stripe_timeout_s: float = Field(default=20.0, gt=0)
    stripe_idempotency_prefix: str = Field(
        default="",
        max_length=64,
        description="Prepended to every idempotency key: set it per database when several "
        "share one Stripe account (session ids repeat across databases).",
    )
    billing_currency: str = Field(
        default="EUR",
        pattern=r"^[A-Z]{3}$",
        description="Currency of sessions no tariff applied to (unpriced invoices).",
    )
    payment_minimum_charge_minor: int = Field(
        default=50,
        ge=0,
        description="Totals below this (minor units) are waived, not charged (Stripe's "
        "minimum charge is 0.50 EUR/USD).",
    )
    payment_max_attempts: int = Field(
        default=40, ge=1, description="Tries of a payment job before it is left failed."
    )
    # --- end billing ----------------------------------------------------------------------

    # --- Plug-and-charge (csms.plugcharge; on when Smartcar is configured) ---------------
    pnc_enabled: bool = Field(
        default=True, description="Match plugged-in cars through Smartcar (needs Smartcar)."
    )
    pnc_repoll_after_s: float = Field(
        default=90.0, gt=0, description="Second matching poll after the plug event (ref 4.2)."
    )
    pnc_max_rounds: int = Field(default=2, ge=1, le=5, description="Matching polls per plug.")
    pnc_first_poll_after_s: float = Field(
        default=2.0,
        ge=0,
        description="The first matching poll waits this long after the plug event: a "
        "charger's Autocharge Authorize follows its plug status, and a tag decides without "
        "a call.",
    )
    pnc_webhook_grace_s: float = Field(
        default=10.0,
        ge=0,
        description="With Smartcar webhooks configured, the first matching poll waits this "
        "long for the cars' own plug-in deliveries, which decide without a call.",
    )
    pnc_poll_budget_calls: int = Field(
        default=30, ge=0, description="Smartcar calls one plug event's matching may spend."
    )
    pnc_poll_unknown_positions: bool = Field(
        default=True,
        description="Also poll linked cars whose position is unknown (after the near ones, "
        "within the budget); off: only cars last seen within 1 km of the charger.",
    )
    pnc_session_call_budget: int = Field(
        default=12,
        ge=2,
        description="Smartcar calls one session may spend after its match (SoC at start, "
        "mid-session guard, target check, end; START/STOP commands).",
    )
    pnc_guard_after_s: float = Field(
        default=600.0, gt=0, description="Mid-session guard after this long ..."
    )
    pnc_guard_wh: int = Field(default=1000, ge=1, description="... or this much energy.")
    pnc_watch_interval_s: float = Field(
        default=30.0, gt=0, description="How often a running session is checked (no calls)."
    )
    pnc_car_check_after_s: float = Field(
        default=20.0, ge=0, description="After the start: is the car charging? (START if not)"
    )
    pnc_start_timeout_s: float = Field(
        default=180.0, gt=0, description="Give up when the charger has not started by then."
    )
    pnc_end_retry_s: float = Field(
        default=30.0, gt=0, description="Retry delay of the final SoC reading."
    )
    pnc_end_tries: int = Field(default=3, ge=1, description="Final SoC reading tries.")
    pnc_tag_confirmations: int = Field(
        default=1,
        ge=1,
        description="Sessions confirmed by the car's SoC before a learned Autocharge tag "
        "binds at once (the reference suggests 2 plus the driver's consent).",
    )
    pnc_charging_efficiency: float = Field(
        default=0.88, gt=0, le=1, description="Meter to battery, to estimate SoC between polls."
    )
    # --- end plug-and-charge --------------------------------------------------------------

    @model_validator(mode="after")
    def _stripe_needs_a_key(self) -> Settings:
        if self.payment_provider == "stripe" and self.stripe_secret_key is None:
            raise ValueError("CSMS_STRIPE_SECRET_KEY is required with CSMS_PAYMENT_PROVIDER=stripe")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only explicit values: ``load_settings`` reads the (injected) environment itself,
        # so constructing Settings never touches os.environ, .env files or secrets dirs.
        return (init_settings,)


class _InjectedEnvironment(EnvSettingsSource):
    """An environment source that reads a given mapping instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {key.lower(): value for key, value in self._environ.items()}


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build the settings from an environment mapping (default: the process environment).

    Args:
        environ: variables to read; ``CSMS_*`` plus ``DATABASE_URL``.
        overrides: explicit values that win over the environment (tests, the demo).

    Raises:
        pydantic.ValidationError: a variable has a malformed value; the message names it.
    """
    env = dict(os.environ if environ is None else environ)
    from_environment = _InjectedEnvironment(Settings, env)()
    return Settings(**{**from_environment, **overrides})
