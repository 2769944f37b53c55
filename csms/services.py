"""The services a protocol adapter calls, bundled once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from csms.chargers import ChargerService
from csms.clock import Clock
from csms.device_model import DeviceModelService
from csms.reservations import ReservationService
from csms.sessions import SessionService
from csms.transaction_events import TransactionEventService

__all__ = ["Services"]


@dataclass(frozen=True)
class Services:
    chargers: ChargerService
    sessions: SessionService
    transactions: TransactionEventService
    device_model: DeviceModelService
    reservations: ReservationService
    clock: Clock
    heartbeat_interval_s: int
    boot_status: str = "Accepted"
