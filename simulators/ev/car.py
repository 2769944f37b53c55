"""A simulated car as the Smartcar simulator knows it, driven through its ``/_sim/`` API.

The car's battery, plug state and location live in the Smartcar simulator (a separate
process or app); this class only talks to its control API over HTTP, so the coupling
works against any running simulator.
"""

from __future__ import annotations

import math
from typing import Any

import aiohttp

from simulators.charger import BaseCharger
from simulators.charger.model import SessionResult
from simulators.ev.coupling import Coupling, Faults

EARTH_RADIUS_M = 6_371_008.8


class EVSimError(RuntimeError):
    """The Smartcar simulator's control API refused a request."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"Smartcar simulator answered {status}: {body}")
        self.status, self.body = status, body


def offset_north(latitude: float, metres: float) -> float:
    """The latitude ``metres`` north of ``latitude`` (same longitude)."""
    return latitude + math.degrees(metres / EARTH_RADIUS_M)


class SimulatedEV:
    """One vehicle of the Smartcar simulator at ``base_url`` (its id is ``vehicle_id``)."""

    def __init__(self, base_url: str, vehicle_id: str, http: aiohttp.ClientSession) -> None:
        self.base_url = base_url.rstrip("/")
        self.vehicle_id = vehicle_id
        self.http = http
        self.coupling: Coupling | None = None

    @classmethod
    async def create(cls, base_url: str, http: aiohttp.ClientSession, **fields: Any) -> SimulatedEV:
        """A new vehicle (``POST /_sim/vehicles``; fields as that endpoint takes them)."""
        url = base_url.rstrip("/") + "/_sim/vehicles"
        async with http.post(url, json=fields) as response:
            body = await response.json()
            if response.status != 201:
                raise EVSimError(response.status, body)
        return cls(base_url, str(body["id"]), http)

    @property
    def _url(self) -> str:
        return f"{self.base_url}/_sim/vehicles/{self.vehicle_id}"

    async def _request(self, method: str, path: str = "", body: Any = None) -> tuple[int, Any]:
        async with self.http.request(method, self._url + path, json=body) as response:
            return response.status, await response.json()

    async def state(self) -> dict[str, Any]:
        """The simulator's view of the car: soc, plugged_in, charge_state, location, ..."""
        status, body = await self._request("GET")
        if status != 200:
            raise EVSimError(status, body)
        return dict(body)

    async def patch(self, **fields: Any) -> dict[str, Any]:
        """Change state: plugged_in, charge_state, soc, latitude/longitude, asleep, ..."""
        status, body = await self._request("PATCH", body=fields)
        if status != 200:
            raise EVSimError(status, body)
        return dict(body)

    async def move_to(self, latitude: float, longitude: float) -> None:
        await self.patch(latitude=latitude, longitude=longitude)

    async def park_near(self, latitude: float, longitude: float, metres: float = 15.0) -> None:
        """Parked ``metres`` north of a point, not plugged in (the wrong car nearby)."""
        await self.patch(
            plugged_in=False, latitude=offset_north(latitude, metres), longitude=longitude
        )

    async def add_energy(self, wh: float, duration_s: float | None = None) -> float:
        """Energy into the car; the Wh it accepted (0 when it takes none: 409)."""
        body: dict[str, Any] = {"wh": wh}
        if duration_s is not None:
            body["duration_s"] = duration_s
        status, answer = await self._request("POST", "/energy", body)
        if status == 409:
            return 0.0
        if status != 200:
            raise EVSimError(status, answer)
        return float(answer["accepted_wh"])

    async def plug_into(
        self,
        charger: BaseCharger,
        evse_id: int,
        *,
        location: tuple[float, float] | None = None,
        faults: Faults | None = None,
        poll_interval_s: float = 0.01,
        car_poll_s: float = 0.05,
        autocharge_mac: str | None = None,
        emaid: str | None = None,
    ) -> Coupling:
        """Plug into ``charger``'s connector (1.6) or EVSE (2.0.1) without authorizing
        (``charger.plug_in``, with the car's Autocharge MAC / eMAID if given); the
        running coupling. The charger then waits for a remote start (or ``run_session``)."""
        if self.coupling is not None:
            raise RuntimeError(f"vehicle {self.vehicle_id} is already plugged in")
        coupling = Coupling(
            self,
            charger,
            evse_id,
            location=location,
            faults=faults,
            poll_interval_s=poll_interval_s,
            car_poll_s=car_poll_s,
            autocharge_mac=autocharge_mac,
            emaid=emaid,
        )
        await coupling.attach()
        return coupling

    async def unplug(self) -> SessionResult | None:
        """Unplug from the charger it is coupled to (ends a running session there); the
        charger's result of the transaction of that plug-in, if there was one."""
        if self.coupling is not None:
            return await self.coupling.unplug()
        return None
