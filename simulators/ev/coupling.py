"""The coupling of a simulated car to a simulated charger's connector.

Plugging in (``attach``) marks the car plugged in at the charger's location and plugs the
cable into the charger (``charger.plug_in``: Preparing / Occupied, no authorization).
While plugged in, the coupling reads the car from the Smartcar simulator every
``car_poll_s`` and limits the connector's power to what the car takes
(``ConnectorState.ev_power_w``: 0 when the car does not want charge, e.g. after a STOP
command, on a departure timer, or full; else its ``max_power_kw``). Every rise of the
connector's energy register is forwarded to the car, which raises its SoC by
``wh x efficiency / capacity``; the car reports CHARGING while energy flows into it and
NOT_CHARGING otherwise. Unplugging ends the charger's session (EVDisconnected).

Faults: the meter over-reports (the car gets ``metered / over_report``), the car is
asleep (its Smartcar reads fail; it still charges), the car is unplugged mid-session
(after ``unplug_after_wh`` metered Wh), a second car parks nearby, not plugged in, the
car waits for a START command (``departure_timer``), or the energy goes to another car
(``diverted``: the meter rises at full power, this car gets none and reports
NOT_CHARGING).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simulators.charger import BaseCharger
from simulators.charger.model import ConnectorState, SessionResult

if TYPE_CHECKING:
    from simulators.ev.car import SimulatedEV

EV_DISCONNECTED = "EVDisconnected"
CHARGING, NOT_CHARGING = "CHARGING", "NOT_CHARGING"


@dataclass(frozen=True)
class Faults:
    """What goes wrong (or differs from a plain plug-and-charge) for one plugged-in car."""

    over_report: float = 1.0  # the meter counts this many times what the car receives
    asleep: bool = False
    unplug_after_wh: float | None = None  # metered Wh after which the driver unplugs
    neighbour: SimulatedEV | None = None  # parked near the charger, not plugged in
    neighbour_offset_m: float = 15.0
    departure_timer: bool = False  # takes no energy after plug-in until a START command
    diverted: bool = False  # the meter rises but the energy reaches another car

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
        car_poll_s: float = 0.05,
        autocharge_mac: str | None = None,
        emaid: str | None = None,
    ) -> None:
        if evse_id not in charger.connectors:
            raise ValueError(f"charger has no connector/EVSE {evse_id}")
        self.ev, self.charger, self.evse_id = ev, charger, evse_id
        self.location = location
        self.faults = faults or Faults()
        self.poll_interval_s = poll_interval_s  # how often the meter is followed
        self.car_poll_s = car_poll_s  # how often the car's wish is read
        self.autocharge_mac, self.emaid = autocharge_mac, emaid
        self.metered_mwh = 0  # what left the charger while the car was plugged in
        self.delivered_wh = 0.0  # what the coupling sent to the car
        self.accepted_wh = 0.0  # what the car took (less when full or not charging)
        self.plugged_in = False
        self.result: SessionResult | None = None  # the charger's, when unplugged
        self._last_mwh = self.connector.meter.register_mwh
        self._car: dict[str, Any] = {}  # the car's state as last read
        self._next_read = 0.0
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
        """Plug the car in: plug state, location and faults set, the cable plugged into
        the charger (no authorization), power limited to the car's, meter followed."""
        fields: dict[str, object] = {"plugged_in": True}
        if self.location is not None:
            fields["latitude"], fields["longitude"] = self.location
        if self.faults.asleep:
            fields["asleep"] = True
        if self.faults.departure_timer:
            fields["wants_charge"] = False
        self._apply(await self.ev.patch(**fields))
        neighbour = self.faults.neighbour
        if neighbour is not None and self.location is not None:
            await neighbour.park_near(*self.location, metres=self.faults.neighbour_offset_m)
        self._last_mwh = self.connector.meter.register_mwh
        try:
            await self.charger.plug_in(
                self.evse_id, autocharge_mac=self.autocharge_mac, emaid=self.emaid
            )
        except BaseException:
            self.connector.ev_power_w = None
            await self.ev.patch(plugged_in=False)
            raise
        self.plugged_in = True
        self.ev.coupling = self
        self._next_read = asyncio.get_running_loop().time() + self.car_poll_s
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
        """Run the charger's own session on this connector (the driver presents
        ``id_tag``, it charges until a limit or a stop), then unplug the car."""
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

    async def unplug(self) -> SessionResult | None:
        """Unplug: the charger's session (if any) stops with EVDisconnected, the last
        metered energy reaches the car, then the car reports unplugged. The charger's
        result of the transaction of this plug-in, if there was one."""
        async with self._unplug_lock:
            if self.plugged_in:
                await self._unplug()
            return self.result

    async def _unplug(self) -> None:
        await self._stop_following()  # no car read may race the last meter step
        self.result = await self.charger.unplug(self.evse_id)
        await self.sync()
        self.plugged_in = False
        self.connector.ev_power_w = None
        if self.ev.coupling is self:
            self.ev.coupling = None
        await self.ev.patch(plugged_in=False)

    async def aclose(self) -> None:
        await self._stop_following()

    async def _stop_following(self) -> None:
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            async with self._lock:  # never in the middle of forwarding energy
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _follow(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self.sync()
            if loop.time() >= self._next_read:
                self._next_read = loop.time() + self.car_poll_s
                await self.refresh()
            limit = self.faults.unplug_after_wh
            if limit is not None and self.metered_wh >= limit:
                self._task = None  # unplug() must not cancel the task running it
                await self.unplug()
                return
            await asyncio.sleep(self.poll_interval_s)

    def _apply(self, car: dict[str, Any]) -> None:
        """Limit the connector to what the car (as just read) takes."""
        self._car = car
        if self.faults.diverted:
            self.connector.ev_power_w = None  # flows at full power, to someone else
        elif car.get("takes_energy"):
            self.connector.ev_power_w = float(car["max_power_kw"]) * 1000.0
        else:
            self.connector.ev_power_w = 0.0

    async def refresh(self) -> None:
        """Read the car, limit the connector's power and align its charge state."""
        async with self._lock:
            if not self.plugged_in:
                return
            self._apply(await self.ev.state())
            flowing = self.connector.offered_power_w(1.0) > 0 and not self.faults.diverted
            if not flowing and self._car.get("charge_state") == CHARGING:
                self._apply(await self.ev.patch(charge_state=NOT_CHARGING))

    async def sync(self) -> None:
        """Forward the meter's rise since the last sync to the car."""
        async with self._lock:
            conn = self.connector
            now_mwh = conn.meter.register_mwh
            delta = now_mwh - self._last_mwh
            self._last_mwh = now_mwh
            if delta <= 0 or not self.plugged_in:
                return
            self.metered_mwh += delta
            if self.faults.diverted:
                return  # none of it reaches this car
            if self._car.get("charge_state") != CHARGING and self._car.get("takes_energy"):
                self._car = await self.ev.patch(charge_state=CHARGING)
            wh = delta / 1000 / self.faults.over_report
            self.delivered_wh += wh
            accepted = await self.ev.add_energy(wh)
            if accepted == 0 and wh > 0:
                accepted = await self._late_energy(wh)
            self.accepted_wh += accepted

    async def _late_energy(self, wh: float) -> float:
        """Energy metered before the charger learned the car stopped (a STOP command, a
        departure timer): the car drew it, so it still gets it, then reports idle."""
        car = await self.ev.state()
        if not car["plugged_in"] or car["charge_state"] != NOT_CHARGING:
            return 0.0  # unplugged or full: the car takes no more
        await self.ev.patch(charge_state=CHARGING)
        accepted = await self.ev.add_energy(wh)
        self._car = await self.ev.state()
        if not self._car.get("takes_energy") and self._car["charge_state"] == CHARGING:
            self._car = await self.ev.patch(charge_state=NOT_CHARGING)
        return accepted
