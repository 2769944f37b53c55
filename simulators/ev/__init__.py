"""A simulated EV that couples the charger simulator and the Smartcar simulator.

A car plugged into a simulated charger draws power from it: the charger's meter counts
what leaves the charger, the Smartcar simulator's SoC rises by that energy times the
car's efficiency, and the car's plug state, charge state and location follow. Faults can
be injected on either side (:class:`Faults`).

Imports only ``simulators.charger`` (in process) and talks to the Smartcar simulator
over HTTP (its ``/_sim/`` control API).
"""

from simulators.ev.car import EVSimError, SimulatedEV, offset_north
from simulators.ev.coupling import EV_DISCONNECTED, Coupling, Faults

__all__ = ["EV_DISCONNECTED", "Coupling", "EVSimError", "Faults", "SimulatedEV", "offset_north"]
