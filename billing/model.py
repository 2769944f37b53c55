"""Value types of a session to price: meter readings, SoC polls, connector status changes.

Everything is immutable and timezone-aware. Numbers are ``Decimal`` (never float). The
edges (the OCPP adapters, the preview) build these from what chargers and Smartcar send;
the billing core never parses protocol payloads itself.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from enum import StrEnum

from billing.errors import SessionError

__all__ = [
    "ConnectorStatusChange",
    "CurrentType",
    "Flag",
    "MeterReading",
    "SessionInput",
    "SocPoll",
    "at_offset",
    "elapsed_seconds",
]

_MICROSECOND = timedelta(microseconds=1)


class CurrentType(StrEnum):
    AC = "AC"
    DC = "DC"


class Flag(StrEnum):
    """A named correction or decision recorded on a priced session."""

    # Start and stop values.
    USED_METER_START = "used_meterStart"
    USED_METER_STOP = "used_meterStop"
    METER_START_MISMATCH = "meterStart_mismatch"
    METER_STOP_MISMATCH = "meterStop_mismatch"
    NO_START_VALUE = "no_start_value"
    NO_STOP_VALUE = "no_stop_value"
    STOP_LT_LAST = "stop_lt_last"
    NO_METER_DATA = "no_meter_data"
    # Register walk.
    REGISTER_RESET = "register_reset"
    REGISTER_ROLLOVER = "register_rollover"
    JITTER_IGNORED = "jitter_ignored"
    SPIKE_DROPPED = "spike_dropped"
    UNIT_SUSPECT = "unit_suspect"
    # Sample selection.
    IGNORED_SIGNED = "ignored_signed"
    IGNORED_LOCATION = "ignored_location"
    IGNORED_CONTEXT = "ignored_context"
    UNIT_UNKNOWN = "unit_unknown"
    UNPARSEABLE_VALUE = "unparseable_value"
    NEGATIVE_REGISTER = "negative_register"
    PHASE_SUM = "phase_sum"
    DUPLICATE_SAMPLE = "duplicate_sample"
    CONFLICTING_DUPLICATE = "conflicting_duplicate"
    REPEATED_BEGIN = "repeated_begin"
    REPEATED_END = "repeated_end"
    OUT_OF_ORDER = "out_of_order"
    OUTSIDE_SESSION = "outside_session"
    # Pricing.
    NO_ENERGY_NO_FLAT = "no_energy_no_flat"
    NO_ENERGY_NO_MIN_PRICE = "no_energy_no_min_price"
    CURRENT_UNKNOWN = "current_unknown"
    MIN_PRICE_APPLIED = "min_price_applied"
    MAX_PRICE_APPLIED = "max_price_applied"
    VAT_UNKNOWN = "vat_unknown"


def elapsed_seconds(since: datetime, until: datetime) -> Decimal:
    """Exact seconds from ``since`` to ``until`` (negative when ``until`` is earlier)."""
    return Decimal((until - since) // _MICROSECOND).scaleb(-6)


def at_offset(origin: datetime, seconds: Decimal) -> datetime:
    """The instant ``seconds`` after ``origin`` (to the microsecond)."""
    return origin + _MICROSECOND * int(seconds.scaleb(6).to_integral_value())


def _require_aware(moment: datetime, path: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise SessionError("must be a timezone-aware date-time", path=path)


@dataclass(frozen=True, slots=True)
class MeterReading:
    """One sampled value as the charger sent it, with OCPP's omitted fields left ``None``.

    ``value`` is the numeric value (``None`` when the text is not a number, e.g. a signed
    blob); ``text`` keeps the value verbatim for receipts and transparency checks.
    Omitted fields mean: measurand Energy.Active.Import.Register, context Sample.Periodic,
    format Raw, location Outlet, unit Wh (for energy), no phase.
    """

    at: datetime
    value: Decimal | None
    _: KW_ONLY
    measurand: str | None = None
    phase: str | None = None
    location: str | None = None
    context: str | None = None
    format: str | None = None
    unit: str | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class SocPoll:
    """One state-of-charge reading from the car (Smartcar ``/battery`` + ``/charge``).

    ``percent_remaining`` is a 0..1 fraction. ``data_age`` is when the car recorded the
    value (``SC-Data-Age``), ``at`` when we fetched it. ``distance_m`` is the car's
    distance from the charger; ``odometer_km`` proves a car idle between two polls.
    """

    at: datetime
    percent_remaining: Decimal | None
    _: KW_ONLY
    data_age: datetime | None = None
    is_plugged_in: bool | None = None
    state: str | None = None
    distance_m: Decimal | None = None
    odometer_km: Decimal | None = None

    @property
    def recorded_at(self) -> datetime:
        """When the value was true: the data age when known, else the fetch time."""
        return self.data_age if self.data_age is not None else self.at


@dataclass(frozen=True, slots=True)
class ConnectorStatusChange:
    """The connector entered ``status`` (OCPP spelling: Charging, SuspendedEV, ...)."""

    at: datetime
    status: str


@dataclass(frozen=True, slots=True)
class SessionInput:
    """Everything needed to price one session; nothing is looked up elsewhere.

    ``time_zone`` is the charger's zone (local-time tariff restrictions use it).
    ``max_power_kw`` is the connector's rated power, used to reject impossible register
    jumps; ``None`` turns that check off.
    """

    start: datetime
    end: datetime
    time_zone: tzinfo
    current_type: CurrentType
    _: KW_ONLY
    readings: tuple[MeterReading, ...] = ()
    meter_start_wh: int | None = None
    meter_stop_wh: int | None = None
    connector_status: tuple[ConnectorStatusChange, ...] = ()
    soc_polls: tuple[SocPoll, ...] = ()
    battery_capacity_kwh: Decimal | None = None
    capacity_source: str | None = None
    max_power_kw: Decimal | None = None
    # Set when a check during the session found the car we bill was not the one charging
    # (the mid-session guard, ref 3.4): the cross-check says VEHICLE_MISMATCH.
    vehicle_mismatch: str | None = None

    def __post_init__(self) -> None:
        _require_aware(self.start, "start")
        _require_aware(self.end, "end")
        if self.end < self.start:
            raise SessionError("is before start", path="end")
        for i, reading in enumerate(self.readings):
            _require_aware(reading.at, f"readings[{i}].at")
        for i, change in enumerate(self.connector_status):
            _require_aware(change.at, f"connector_status[{i}].at")
        for i, poll in enumerate(self.soc_polls):
            _require_aware(poll.at, f"soc_polls[{i}].at")
            if poll.data_age is not None:
                _require_aware(poll.data_age, f"soc_polls[{i}].data_age")
            value = poll.percent_remaining
            if value is not None and not Decimal(0) <= value <= Decimal(1):
                raise SessionError(
                    "must be a fraction 0..1", path=f"soc_polls[{i}].percent_remaining"
                )
        if self.battery_capacity_kwh is not None and self.battery_capacity_kwh <= 0:
            raise SessionError("must be positive", path="battery_capacity_kwh")
        if self.max_power_kw is not None and self.max_power_kw <= 0:
            raise SessionError("must be positive", path="max_power_kw")
