"""Simulated OCPP charge point (client side), for tests, demos and load.

``create_charger(config)`` returns the implementation for ``config.protocol``: OCPP 1.6J
(:class:`SimulatedCharger`) or OCPP 2.0.1 (:class:`SimulatedCharger201`).
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
from simulators.charger.v201 import SimulatedCharger201

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
    "SimulatedCharger201",
    "StartResult",
    "create_charger",
]


def create_charger(config: ChargerConfig, *, time_scale: float = 1.0) -> BaseCharger:
    """The simulated charger for ``config.protocol``."""
    if config.protocol == OCPP16:
        return SimulatedCharger(config, time_scale=time_scale)
    if config.protocol == OCPP201:
        return SimulatedCharger201(config, time_scale=time_scale)
    raise ValueError(f"unsupported protocol {config.protocol!r} (supported: {OCPP16}, {OCPP201})")
