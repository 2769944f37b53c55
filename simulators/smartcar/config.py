"""Configuration of the simulated Smartcar service and the constants of the real one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

# -- facts about the real service (reference sections 2, 5, 6) --------------------------
AUTH_CODE_TTL_S = 600.0  # Connect codes expire after 10 minutes
ACCESS_TOKEN_TTL_S = 7200  # expires_in is always 7200
REFRESH_TOKEN_TTL_S = 60 * 24 * 3600.0  # 60 days; not in the response
APP_TOKEN_TTL_S = 3600  # iam.smartcar.com client_credentials tokens
WEBHOOK_RETRY_DELAYS_S = (25.0, 50.0, 100.0)  # after a failed delivery; then dropped
WEBHOOK_TIMEOUT_S = 15.0  # a 2xx later than this still counts as a failure
WEBHOOK_MAX_BYTES = 50 * 1024

PERMISSIONS = (
    "read_vehicle_info",
    "read_vin",
    "read_battery",
    "read_charge",
    "control_charge",
    "read_location",
    "read_odometer",
    "read_charge_records",
    "read_charge_events",
)

# Signals a webhook sends and the ones whose change fires a VEHICLE_STATE event. The
# reference (section 8) recommends the three charge signals as triggers.
DEFAULT_WEBHOOK_SIGNALS = (
    "tractionbattery-stateofcharge",
    "tractionbattery-range",
    "charge-ischarging",
    "charge-ischargingcableconnected",
    "charge-detailedchargingstatus",
    "charge-chargelimits",
    "location-preciselocation",
)
DEFAULT_WEBHOOK_TRIGGERS = (
    "charge-ischarging",
    "charge-ischargingcableconnected",
    "charge-detailedchargingstatus",
)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SimConfig:
    """How the simulated Smartcar application and service behave.

    One application (``client_id``/``client_secret``) with its registered redirect URIs,
    ``vehicles`` simulated cars created at start (each owned by its own user), and at most
    one webhook (``webhook_url``) signed with ``application_management_token``.
    """

    client_id: str
    client_secret: str
    redirect_uris: list[str]
    vehicles: int = 0
    webhook_url: str | None = None
    application_management_token: str = "amt-test"  # noqa: S105 - a documented test default
    # App-level token bucket: ``rate_limit_app_burst`` requests, refilled at
    # ``rate_limit_app_per_s`` (the docs: 120, refilling 2 per minute). None disables it.
    rate_limit_app_per_s: float | None = 2 / 60
    rate_limit_app_burst: int = 120
    # Per-vehicle limit. Smartcar does not publish it (UNCONFIRMED); we use a sliding
    # 60 s window of this many calls that reach the car. None disables it.
    rate_limit_vehicle_per_min: int | None = 30
    # Calls per vehicle per calendar month before 430 BILLING:VEHICLE_REQUEST_LIMIT;
    # the plan decides it (the docs' example is 500). None: unlimited.
    monthly_requests_per_vehicle: int | None = None
    # Seconds a command (POST /charge, /charge/limit, v3 commands) takes to reach the car.
    command_delay_s: float = 0.0
    # v3 commands slower than this answer 202 at once and stream the outcome in the body.
    v3_command_sync_s: float = 5.0
    seed: int = 0
    clock: Callable[[], datetime] = field(default=utc_now)
    # A used refresh token keeps working this long (the docs say 1 or 10 minutes; the
    # simulator docs say use invalidates it). 0: single use.
    refresh_grace_s: float = 0.0
    # Scopes granted when the authorize request has no ``scope`` (the Dashboard's choice).
    default_scopes: tuple[str, ...] = PERMISSIONS
    # POST /charge STOP on an idle car: "error" (409 NOT_CHARGING) or "success".
    stop_when_idle: str = "error"
    # Redirect after Connect also carries ``user_id`` (apps using v3 API Authentication).
    redirect_user_id: bool = False
    # Webhook: delays are WEBHOOK_RETRY_DELAYS_S x webhook_retry_scale (tests: tiny).
    webhook_id: str | None = None  # None: derived from ``seed``
    webhook_name: str = "Simulator Webhook"
    webhook_retry_scale: float = 1.0
    webhook_timeout_s: float = WEBHOOK_TIMEOUT_S
    webhook_signals: tuple[str, ...] = DEFAULT_WEBHOOK_SIGNALS
    webhook_triggers: tuple[str, ...] = DEFAULT_WEBHOOK_TRIGGERS
    webhook_verify_on_start: bool = True
    # Subscribe every newly connected vehicle (the Dashboard's auto-enrollment).
    webhook_auto_enroll: bool = True
    # Whether VERIFY requests carry SC-Signature is UNCONFIRMED; one source says they
    # do not, so by default they do not.
    webhook_sign_verify: bool = False
    version: str = "2.0"  # in the User-Agent of webhook deliveries: Smartcar/<version>

    def __post_init__(self) -> None:
        if not self.redirect_uris:
            raise ValueError("at least one redirect URI is required")
        if self.stop_when_idle not in ("error", "success"):
            raise ValueError("stop_when_idle must be 'error' or 'success'")
        unknown = set(self.default_scopes) - set(PERMISSIONS)
        if unknown:
            raise ValueError(f"unknown permissions in default_scopes: {sorted(unknown)}")
