"""The coupling of a simulated car to a simulated charger's connector.

While the car is plugged in, every rise of the connector's energy register (read from the
charger simulator's own meter, no hook needed) is forwarded to the Smartcar simulator as
energy into the car, which raises its SoC by ``wh x efficiency / capacity``. The car's
charge state follows the connector (CHARGING while the charger charges), its location is
the charger's, and unplugging ends the charger's session (stop reason EVDisconnected).

Faults: the meter over-reports (the car gets ``metered / over_report``), the car is
asleep (its Smartcar reads fail; it still charges), the car is unplugged mid-session
(after ``unplug_after_wh`` metered Wh), and a second car parks nearby, not plugged in.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from simulators.charger import BaseCharger
from simulators.charger.model import ConnectorState, SessionResult

if TYPE_CHECKING:
    from simulators.ev.car import SimulatedEV

EV_DISCONNECTED = "EVDisconnected"


@dataclass(frozen=True)
class Faults:
    over_report: float = 1.0  # the meter counts this many times what the car receives
    asleep: bool = False
    unplug_after_wh: float | None = None  # metered Wh after which the driver unplugs
    neighbour: SimulatedEV | None = None  # parked near the charger, not plugged in
    neighbour_offset_m: float = 15.0

    def __post_init__(self) -> None:
        if self.over_report < 1.0:
            raise ValueError("over_report must be at least 1 (the meter never under-reports)")


class Coupling:
    """Keeps one car (Smartcar simulator) and one connector (charger simulator) in step."""

    def __init__(
        self,
        ev: SimulatedEV,
        charger: BaseCharger,
        evse_id: int,
        *,
        location: tuple[float, float] | None = None,
        faults: Faults | None = None,
        poll_interval_s: float = 0.01,
    ) -> None:
        if evse_id not in charger.connectors:
            raise ValueError(f"charger has no connector/EVSE {evse_id}")
        self.ev, self.charger, self.evse_id = ev, charger, evse_id
        self.location = location
        self.faults = faults or Faults()
        self.poll_interval_s = poll_interval_s
        self.metered_mwh = 0  # what left the charger while the car was plugged in
        self.delivered_wh = 0.0  # what the coupling sent to the car
        self.accepted_wh = 0.0  # what the car took (less when full or not charging)
        self.plugged_in = False
        self._last_mwh = self.connector.meter.register_mwh
        self._car_charging = False
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._unplug_lock = asyncio.Lock()

    @property
    def connector(self) -> ConnectorState:
        return self.charger.connectors[self.evse_id]

    @property
    def metered_wh(self) -> float:
        return self.metered_mwh / 1000

    async def attach(self) -> None:
        """Plug the car in: plug state, location and faults set, meter followed."""
        fields: dict[str, object] = {"plugged_in": True}
        if self.location is not None:
            fields["latitude"], fields["longitude"] = self.location
        if self.faults.asleep:
            fields["asleep"] = True
        await self.ev.patch(**fields)
        neighbour = self.faults.neighbour
        if neighbour is not None and self.location is not None:
            await neighbour.park_near(*self.location, metres=self.faults.neighbour_offset_m)
        self._last_mwh = self.connector.meter.register_mwh
        self.plugged_in = True
        self.ev.coupling = self
        self._task = asyncio.get_running_loop().create_task(self._follow())

    async def run_session(
        self,
        id_tag: str,
        *,
        duration_s: float | None = None,
        energy_wh: int | None = None,
        meter_samples: int | None = None,
        authorize: bool = True,
    ) -> SessionResult:
        """Run the charger's own session on this connector (plug in, authorize, charge
        until a limit or a stop, unplug), then unplug the car."""
        if not self.plugged_in:
            await self.attach()
        try:
            return await self.charger.run_session(
                self.evse_id,
                id_tag,
                duration_s=duration_s,
                energy_wh=energy_wh,
                meter_samples=meter_samples,
                authorize=authorize,
            )
        finally:
            await self.unplug()

    async def unplug(self) -> None:
        """Unplug: the charger's session (if any) stops with EVDisconnected, the last
        metered energy reaches the car, then the car reports unplugged."""
        async with self._unplug_lock:
            if self.plugged_in:
                await self._unplug()

    async def _unplug(self) -> None:
        conn = self.connector
        if conn.session is not None:
            conn.session.request_stop(EV_DISCONNECTED)
            for _ in range(500):  # the charge loop ends within one step
                if not conn.charging:
                    break
                await asyncio.sleep(0.01)
        await self._stop_following()
        await self.sync()
        self.plugged_in = False
        self._car_charging = False
        if self.ev.coupling is self:
            self.ev.coupling = None
        await self.ev.patch(plugged_in=False)

    async def aclose(self) -> None:
        await self._stop_following()

    async def _stop_following(self) -> None:
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _follow(self) -> None:
        while True:
            await self.sync()
            limit = self.faults.unplug_after_wh
            if limit is not None and self.metered_wh >= limit:
                self._task = None  # unplug() must not cancel the task running it
                await self.unplug()
                return
            await asyncio.sleep(self.poll_interval_s)

    async def sync(self) -> None:
        """Forward the meter's rise since the last sync; align the car's charge state."""
        async with self._lock:
            conn = self.connector
            now_mwh = conn.meter.register_mwh
            delta = now_mwh - self._last_mwh
            self._last_mwh = now_mwh
            if delta > 0 and self.plugged_in:
                self.metered_mwh += delta
                await self._set_charging(True)
                wh = delta / 1000 / self.faults.over_report
                self.delivered_wh += wh
                self.accepted_wh += await self.ev.add_energy(wh)
            if self.plugged_in and self._car_charging != conn.charging:
                await self._set_charging(conn.charging)

    async def _set_charging(self, charging: bool) -> None:
        if self._car_charging == charging:
            return
        self._car_charging = charging
        state = (await self.ev.state())["charge_state"]
        if charging and state == "NOT_CHARGING":
            await self.ev.patch(charge_state="CHARGING")
        elif not charging and state == "CHARGING":
            await self.ev.patch(charge_state="NOT_CHARGING")
