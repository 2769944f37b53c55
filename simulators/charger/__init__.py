"""Simulated OCPP charge point (client side), for tests, demos and load.

``create_charger(config)`` returns the implementation for ``config.protocol``; today
that is OCPP 1.6J (:class:`SimulatedCharger`).
"""

from simulators.charger.base import BaseCharger
from simulators.charger.model import (
    OCPP16,
    OCPP201,
    ChargerConfig,
    ChargerOffline,
    EnergyMeter,
    OfflineQueue,
    QueuedMessage,
    SessionResult,
    StartResult,
)
from simulators.charger.v16 import SimulatedCharger

__all__ = [
    "OCPP16",
    "OCPP201",
    "BaseCharger",
    "ChargerConfig",
    "ChargerOffline",
    "EnergyMeter",
    "OfflineQueue",
    "QueuedMessage",
    "SessionResult",
    "SimulatedCharger",
    "StartResult",
    "create_charger",
]


def create_charger(config: ChargerConfig, *, time_scale: float = 1.0) -> BaseCharger:
    """The simulated charger for ``config.protocol``."""
    if config.protocol == OCPP16:
        return SimulatedCharger(config, time_scale=time_scale)
    raise ValueError(f"unsupported protocol {config.protocol!r} (supported: {OCPP16})")
