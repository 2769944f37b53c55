"""The outside world of ``csms demo``: drivers with cars linked through the Smartcar
simulator, simulated chargers at five sites, and what each driver does.

- Alice (OCPP 1.6) and Bob (2.0.1, whose charger sends the car's MAC) plug in alone:
  matched through Smartcar, charged to their target SoC, billed, card captured. Bob comes
  back later: his Autocharge tag, learned on the first visit, matches him at once.
- Carol's charger over-reports its meter: the SoC cross-check says METER_HIGH and the
  capture is held for review.
- Dave and Erin plug in at neighbouring chargers at the same moment: the central system
  cannot tell which car is where and does not guess; they start with their RFID cards.
- Frank's car is not linked: no candidate, he starts with his RFID card.

It imports the simulators; only ``csms.demo`` imports it, when the demo runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from simulators.charger import BaseCharger, ChargerConfig, create_charger
from simulators.ev import Coupling, Faults, SimulatedEV

__all__ = ["CHARGERS", "DRIVERS", "Api", "Story"]

Api = Callable[..., Awaitable[Any]]

SITES = {
    "Marienplatz": (48.1374, 11.5755),
    "Schwabing": (48.1590, 11.5755),
    "Haidhausen": (48.1374, 11.6050),
    "Sendling": (48.1160, 11.5755),
    "Laim": (48.1374, 11.5460),
}
# (id, protocol, site, metres north of the site's point, power W)
CHARGERS = [
    ("DEMO-CP-1", "ocpp1.6", "Marienplatz", 0.0, 11_000),
    ("DEMO-CP-2", "ocpp2.0.1", "Marienplatz", 10.0, 11_000),
    ("DEMO-CP-3", "ocpp1.6", "Schwabing", 0.0, 22_000),
    ("DEMO-CP-4", "ocpp2.0.1", "Haidhausen", 0.0, 11_000),
    ("DEMO-CP-5", "ocpp1.6", "Sendling", 0.0, 11_000),
    ("DEMO-CP-6", "ocpp2.0.1", "Laim", 0.0, 11_000),
]


@dataclass(frozen=True)
class DriverSpec:
    name: str
    email: str
    rfid: str
    charger: str
    make: str
    model: str
    capacity_kwh: float
    soc: float
    target: int
    linked: bool = True
    mac: str | None = None
    faults: Faults = field(default_factory=Faults)
    visits: int = 1


DRIVERS = [
    DriverSpec(
        "Alice", "alice@example.com", "RFID-ALICE", "DEMO-CP-3", "Tesla", "Model 3", 57.5, 0.32, 80
    ),
    DriverSpec(
        "Bob",
        "bob@example.com",
        "RFID-BOB",
        "DEMO-CP-4",
        "Volkswagen",
        "ID.3",
        58.0,
        0.41,
        75,
        mac="02A1B2C3D4E5",
        visits=2,
    ),
    DriverSpec(
        "Carol",
        "carol@example.com",
        "RFID-CAROL",
        "DEMO-CP-5",
        "Kia",
        "EV6",
        77.4,
        0.45,
        80,
        faults=Faults(over_report=1.6),
    ),
    DriverSpec(
        "Dave", "dave@example.com", "RFID-DAVE", "DEMO-CP-1", "Renault", "Zoe", 52.0, 0.3, 80
    ),
    DriverSpec("Erin", "erin@example.com", "RFID-ERIN", "DEMO-CP-2", "BMW", "i4", 80.7, 0.4, 80),
    DriverSpec(
        "Frank",
        "frank@example.com",
        "RFID-FRANK",
        "DEMO-CP-6",
        "Fiat",
        "500e",
        37.3,
        0.5,
        80,
        linked=False,
    ),
]
SETTLED = ("charging", "no_match", "declined", "failed", "abandoned", "superseded")
# How long the RFID fallback sessions charge before the driver unplugs (real seconds).
FALLBACK_CHARGE_S = 3.0


def site_of(charge_point_id: str) -> tuple[float, float]:
    _, _, site, north_m, _ = next(c for c in CHARGERS if c[0] == charge_point_id)
    lat, lon = SITES[site]
    return lat + north_m / 111_195.0, lon


@dataclass
class Visit:
    """One driver's session as the demo expects it to end up."""

    driver: DriverSpec
    charge_point_id: str
    account_id: int
    session_id: int | None = None
    matched_by: str = "-"


class Story:
    def __init__(
        self,
        api: Api,
        http: aiohttp.ClientSession,
        *,
        ocpp_url: str,
        smartcar_url: str,
        passwords: dict[str, str],
        time_scale: float,
    ) -> None:
        self._api = api
        self._http = http
        self._ocpp_url = ocpp_url
        self._smartcar_url = smartcar_url
        self._passwords = passwords
        self._time_scale = time_scale
        self.chargers: dict[str, BaseCharger] = {}
        self.accounts: dict[str, int] = {}
        self.cars: dict[str, SimulatedEV] = {}
        self.vehicles: dict[str, dict[str, Any]] = {}  # VIN -> the linked vehicle
        self.visits: list[Visit] = []

    # --- setting the scene ----------------------------------------------------------------

    async def drivers(self) -> None:
        """Accounts with a card and an RFID token; cars at Smartcar, linked by Connect."""
        for spec in DRIVERS:
            account = await self._api(
                "POST",
                "/accounts",
                {"name": spec.name, "email": spec.email, "target_soc_percent": spec.target},
            )
            self.accounts[spec.name] = account["id"]
            await self._api(
                "PATCH",
                f"/accounts/{account['id']}",
                {
                    "payment_customer_id": f"cus_demo_{account['id']}",
                    "payment_method_id": "pm_card_visa",
                },
            )
            await self._api(
                "POST",
                "/id-tokens",
                {"id_token": spec.rfid, "status": "Accepted", "account_id": account["id"]},
            )
            lat, lon = site_of(spec.charger)
            self.cars[spec.name] = await SimulatedEV.create(
                self._smartcar_url,
                self._http,
                owner=spec.email,
                make=spec.make,
                model=spec.model,
                capacity_kwh=spec.capacity_kwh,
                nominal_capacity_kwh=spec.capacity_kwh,
                soc=spec.soc,
                efficiency=0.9,
                latitude=lat + 0.0005,  # parked round the corner before plugging in
                longitude=lon,
            )
            if spec.linked:
                await self._link(account["id"], spec.email)

    async def _link(self, account_id: int, email: str) -> None:
        started = await self._api("POST", f"/accounts/{account_id}/vehicle-links")
        async with self._http.get(
            started["connect_url"],
            params={"sim_user": email},
            headers={"Accept": "application/json"},
        ) as landed:
            body = await landed.json()
            if landed.status != 200:
                raise RuntimeError(f"linking {email} failed: {body}")
        for vehicle in body["vehicles"]:
            self.vehicles[vehicle["vin"]] = vehicle

    async def connect_chargers(self) -> None:
        for charge_point_id, protocol, _, _, power_w in CHARGERS:
            charger = create_charger(
                ChargerConfig(
                    url=self._ocpp_url,
                    charge_point_id=charge_point_id,
                    password=self._passwords[charge_point_id],
                    protocol=protocol,
                    connectors=2,
                    meter_interval_s=0.2,
                    power_w=power_w,
                    ping_interval_s=None,
                ),
                time_scale=self._time_scale,
            )
            await charger.connect()
            self.chargers[charge_point_id] = charger

    async def close(self) -> None:
        for car in self.cars.values():
            if car.coupling is not None:
                await car.coupling.aclose()
        for charger in self.chargers.values():
            await charger.aclose()

    # --- the drivers' visits --------------------------------------------------------------

    async def run(self) -> None:
        await asyncio.gather(*(self._driver(spec) for spec in DRIVERS))

    async def _driver(self, spec: DriverSpec) -> None:
        for visit in range(spec.visits):
            if visit:
                # Driven home and back: by then the last session was billed (and the tag
                # the charger sent was confirmed by the car's SoC gain).
                await self._until_billed(self.visits_of(spec)[-1].session_id)
                await self.cars[spec.name].patch(soc=spec.soc)
            await self._visit(spec)

    def visits_of(self, spec: DriverSpec) -> list[Visit]:
        return [v for v in self.visits if v.driver is spec]

    async def _until_billed(self, session_id: int | None) -> None:
        for _ in range(300):
            try:
                await self._api("GET", f"/sessions/{session_id}/bill")
            except RuntimeError:  # not billed yet
                await asyncio.sleep(0.1)
            else:
                return

    async def _visit(self, spec: DriverSpec) -> None:
        car = self.cars[spec.name]
        charger = self.chargers[spec.charger]
        visit = Visit(spec, spec.charger, self.accounts[spec.name])
        self.visits.append(visit)
        coupling = await car.plug_into(
            charger, 1, location=site_of(spec.charger), faults=spec.faults, autocharge_mac=spec.mac
        )
        attempt = await self._settled(spec.charger)
        if attempt["status"] == "charging":
            visit.session_id = attempt["session_id"]
            visit.matched_by = attempt["method"]
            # The central system stops it at the driver's target; a driver who waited a
            # minute in vain unplugs anyway (the table shows it).
            await self._until_ended(visit.session_id, within_s=60.0, required=False)
        else:
            visit.matched_by = f"RFID ({attempt['outcome'] or attempt['status']})"
            visit.session_id = await self._rfid(spec, coupling)
        await coupling.unplug()
        await self._until_ended(visit.session_id)

    async def _settled(self, charge_point_id: str) -> dict[str, Any]:
        """The connector's newest plug attempt once it is decided and, if matched, started."""
        for _ in range(600):
            page = await self._api(
                "GET", f"/plug-attempts?charge_point_id={charge_point_id}&limit=1"
            )
            items = page["items"]
            if items and items[0]["status"] in SETTLED:
                attempt: dict[str, Any] = items[0]
                return attempt
            await asyncio.sleep(0.1)
        raise RuntimeError(f"no plug-and-charge decision at {charge_point_id}")

    async def _rfid(self, spec: DriverSpec, coupling: Coupling) -> int:
        """The driver starts with the RFID card (through the operator's remote start)."""
        await self._api(
            "POST",
            f"/charge-points/{spec.charger}/commands/remote-start",
            {"connector_id": 1, "id_token": spec.rfid},
        )
        for _ in range(300):
            page = await self._api("GET", f"/sessions?charge_point_id={spec.charger}&status=active")
            mine = [s for s in page["items"] if s["id_token"] == spec.rfid]
            if mine:
                await asyncio.sleep(FALLBACK_CHARGE_S)
                session_id: int = mine[0]["id"]
                return session_id
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{spec.name}'s RFID session did not start")

    async def _until_ended(
        self, session_id: int | None, *, within_s: float = 30.0, required: bool = True
    ) -> None:
        deadline = asyncio.get_running_loop().time() + within_s
        while session_id is not None:
            session = await self._api("GET", f"/sessions/{session_id}")
            if session["status"] != "active":
                return
            if asyncio.get_running_loop().time() > deadline:
                if required:
                    raise RuntimeError(f"session {session_id} did not end")
                return
            await asyncio.sleep(0.1)
