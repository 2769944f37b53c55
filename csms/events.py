"""Version-neutral values that both protocol adapters produce and the services consume.

Pure: standard library only. Energy is integer Wh, times are timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

__all__ = [
    "AuthorizationStatus",
    "ChargerBooted",
    "ConnectorStatus",
    "IdTokenInfo",
    "MeterSample",
    "StatusChanged",
    "TransactionEnded",
    "TransactionEventReceived",
    "TransactionStarted",
]


class ConnectorStatus(StrEnum):
    """Normalised connector status (1.6 statuses, plus 2.0.1's Occupied)."""

    AVAILABLE = "Available"
    OCCUPIED = "Occupied"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EV = "SuspendedEV"
    SUSPENDED_EVSE = "SuspendedEVSE"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"


class AuthorizationStatus(StrEnum):
    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"


@dataclass(frozen=True, slots=True)
class IdTokenInfo:
    """The answer to an id token: its status, and when known its expiry and parent."""

    status: AuthorizationStatus
    expiry: datetime | None = None
    parent_id_token: str | None = None
    # False when we have no record of the token (2.0.1 answers Unknown, 1.6 Invalid).
    known: bool = True


@dataclass(frozen=True, slots=True)
class ChargerBooted:
    vendor: str
    model: str
    serial_number: str | None
    firmware_version: str | None
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StatusChanged:
    evse_id: int
    connector_id: int
    status: ConnectorStatus
    raw_status: str
    error_code: str | None
    info: str | None
    vendor_id: str | None
    vendor_error_code: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class MeterSample:
    """One sampled value. ``energy_wh`` is set for energy measurands with a numeric value."""

    sampled_at: datetime
    measurand: str
    phase: str
    location: str
    context: str
    format: str
    unit: str | None
    value: str
    value_numeric: Decimal | None
    energy_wh: int | None


@dataclass(frozen=True, slots=True)
class TransactionStarted:
    evse_id: int
    connector_id: int
    id_token: str
    meter_start_wh: int
    started_at: datetime
    reservation_id: int | None = None


@dataclass(frozen=True, slots=True)
class TransactionEnded:
    transaction_id: str
    meter_stop_wh: int
    ended_at: datetime
    reason: str | None
    id_token: str | None
    samples: tuple[MeterSample, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class TransactionEventReceived:
    """An OCPP 2.0.1 TransactionEvent: the charger owns the transaction id."""

    event_type: str
    transaction_id: str
    seq_no: int
    trigger_reason: str
    occurred_at: datetime
    evse_id: int | None
    connector_id: int | None
    id_token: str | None
    id_token_type: str | None
    charging_state: str | None
    stopped_reason: str | None
    remote_start_id: int | None
    offline: bool
    samples: tuple[MeterSample, ...] = field(default_factory=tuple)
    reservation_id: int | None = None
