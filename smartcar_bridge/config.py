"""What the bridge needs to know, as one frozen value: endpoints, credentials, version,
timeouts, retry policy and rate limits.

The bridge never reads the environment: ``csms`` builds a :class:`BridgeConfig` from its
settings, and tests build one pointing at the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "DEFAULT_SCOPES",
    "ApiVersion",
    "BridgeConfig",
    "ConnectMode",
    "LimitConfig",
    "RetryConfig",
    "TimeoutConfig",
]

ApiVersion = Literal["2.0", "3"]
ConnectMode = Literal["live", "simulated", "test"]

DEFAULT_SCOPES: tuple[str, ...] = (
    "required:read_vin",
    "required:read_battery",
    "required:read_charge",
    "required:control_charge",
    "read_location",
    "read_vehicle_info",
)
"""What plug-and-charge needs: VIN for matching, battery and charge state, start/stop.
Location and vehicle info help but are not required from the driver."""


@dataclass(frozen=True)
class TimeoutConfig:
    """Seconds per HTTP attempt. Commands are slow: the official SDKs wait 310 s."""

    read_s: float = 30.0
    command_s: float = 310.0
    token_s: float = 30.0
    connect_s: float = 10.0


@dataclass(frozen=True)
class RetryConfig:
    """Retries of retryable errors, with exponential backoff that honours Retry-After."""

    max_attempts: int = 3
    backoff_base_s: float = 1.0
    backoff_max_s: float = 30.0
    max_retry_after_s: float = 60.0
    """A Retry-After longer than this is not slept through: the error surfaces with it."""


@dataclass(frozen=True)
class LimitConfig:
    """Client-side limits that keep us under Smartcar's, so we never pay for a 429.

    App level: Smartcar documents a token bucket of 120 requests refilling at 2 per
    minute. Per vehicle: not published (it varies by OEM); these defaults are a guess on
    the safe side and are settings. A bucket lets through at most
    ``capacity + refill x T`` calls in any window of T seconds: size it against the
    limit it has to stay under.
    """

    app_capacity: float = 120.0
    app_refill_per_s: float = 2.0 / 60.0
    vehicle_capacity: float = 10.0
    vehicle_refill_per_s: float = 1.0 / 30.0
    max_wait_s: float = 30.0
    """A call that would have to wait longer fails at once with a local RateLimitError."""
    upstream_pause_s: float = 1800.0
    """How long to leave a vehicle alone after 502 UPSTREAM:RATE_LIMIT (the OEM's limit)."""


@dataclass(frozen=True)
class BridgeConfig:
    """Everything the bridge is configured with.

    URLs are origins without a trailing slash; the client appends the real paths
    (``/oauth/authorize`` on ``connect_url``, ``/oauth/token`` on ``auth_url``,
    ``/v2.0/...`` on ``api_url``, ``/v3/...`` on ``vehicle_api_url``), so one simulator
    origin can stand in for all four hosts.
    """

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    connect_url: str = "https://connect.smartcar.com"
    auth_url: str = "https://auth.smartcar.com"
    api_url: str = "https://api.smartcar.com"
    vehicle_api_url: str = "https://vehicle.api.smartcar.com"
    api_version: ApiVersion = "2.0"
    connect_mode: ConnectMode = "live"
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    unit_system: Literal["metric", "imperial"] = "metric"
    user_agent: str = "csms-smartcar-bridge/0.1 (python; aiohttp)"
    timeouts: TimeoutConfig = field(default_factory=TimeoutConfig)
    retry: RetryConfig = field(default_factory=RetryConfig)
    limits: LimitConfig = field(default_factory=LimitConfig)
    refresh_margin_s: float = 300.0
    """Refresh an access token this long before it expires."""
    state_ttl_s: float = 600.0
    """Lifetime of a Connect ``state``; Smartcar's codes expire after 10 minutes too."""

    def __post_init__(self) -> None:
        for name in ("connect_url", "auth_url", "api_url", "vehicle_api_url"):
            value = getattr(self, name)
            if not value.startswith(("http://", "https://")):
                raise ValueError(f"{name} must be an http(s) URL, not {value!r}")
            object.__setattr__(self, name, value.rstrip("/"))
        if self.retry.max_attempts < 1:
            raise ValueError("retry.max_attempts must be at least 1")
