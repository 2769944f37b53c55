"""``csms demo``: plug-and-charge end to end on a temporary embedded database.

Starts the Smartcar simulator and the central system on loopback ports, registers the
tariff and chargers through the admin API (over real HTTP), links the drivers' cars
through Smartcar Connect, lets simulated cars plug into simulated OCPP 1.6 and 2.0.1
chargers (real websockets) as told in :mod:`csms.demo_story`, then prints a row per
session: charger, connector, times, VIN, how it was matched, metered kWh, the kWh the
car's SoC gain implies, the cross-check verdict and the amount. Exits 0 when every
session was completed and billed to the right driver.

The demo is the one place in ``csms`` that uses ``simulators`` (imported lazily): it plays
the part of the outside world.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from csms.config import Settings, load_settings
from csms.database import open_database
from csms.logs import configure_logging, get_logger

if TYPE_CHECKING:
    from csms.demo_story import Story

__all__ = ["run_demo"]

log = get_logger(__name__)

# The operator's default tariff (OCPI 2.2.1): a session fee and a price per kWh, with VAT.
TARIFF = {
    "country_code": "DE",
    "party_id": "CPO",
    "id": "DEMO-STANDARD",
    "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "FLAT", "price": 0.50, "vat": 19.0, "step_size": 1}]},
        {"price_components": [{"type": "ENERGY", "price": 0.39, "vat": 19.0, "step_size": 1}]},
    ],
}
SMARTCAR_CLIENT_ID = "csms-demo"
SMARTCAR_CLIENT_SECRET = "csms-demo-secret"  # noqa: S105 - the simulator's, not a real one
# 1200 simulated seconds per real second: a session to the target SoC takes seconds.
TIME_SCALE = 1200.0


class _Api:
    def __init__(self, http: aiohttp.ClientSession, base: str, token: str) -> None:
        self._http = http
        self._base = base
        self._headers = {"Authorization": f"Bearer {token}"}

    async def __call__(self, method: str, path: str, body: Any = None) -> Any:
        async with self._http.request(
            method, self._base + path, json=body, headers=self._headers
        ) as response:
            data = await response.json()
            if response.status >= 400:
                raise RuntimeError(f"{method} {path} -> {response.status}: {data}")
            return data


def _when(value: str | None) -> str:
    if not value:
        return "-"
    return datetime.fromisoformat(value).strftime("%H:%M:%S")


def _kwh(wh: float | None) -> str:
    return "-" if wh is None else f"{wh / 1000:.2f}"


@dataclass
class Row:
    """One session as the table shows it (DESIGN.md section 2)."""

    driver: str
    charger: str
    connector: int | None
    started_at: str | None
    ended_at: str | None
    vin: str | None
    matched_by: str
    metered_wh: int | None
    soc_wh: float | None
    verdict: str | None
    amount: str
    payment: str | None
    calls: str
    correct: bool


def format_table(rows: list[Row]) -> str:
    """The sessions as a fixed-width table, one row per session."""
    header = (
        "charger",
        "conn",
        "start",
        "end",
        "driver",
        "VIN",
        "matched by",
        "meter kWh",
        "SoC kWh",
        "calls",
        "verdict",
        "amount",
        "payment",
    )
    cells = [
        (
            r.charger,
            "-" if r.connector is None else str(r.connector),
            _when(r.started_at),
            _when(r.ended_at),
            r.driver,
            r.vin or "-",
            r.matched_by,
            _kwh(r.metered_wh),
            _kwh(r.soc_wh),
            r.calls,
            r.verdict or "-",
            r.amount,
            r.payment or "-",
        )
        for r in rows
    ]
    widths = [max(len(str(c)) for c in column) for column in zip(header, *cells, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


async def _populate(api: _Api) -> dict[str, str]:
    """The tariff and the chargers (with their sites) through the admin API."""
    from csms.demo_story import CHARGERS, site_of

    await api("POST", "/tariffs", {"tariff": TARIFF, "name": "Standard", "is_default": True})
    passwords = {}
    for charge_point_id, protocol, _, _, _ in CHARGERS:
        passwords[charge_point_id] = secrets.token_urlsafe(16)
        lat, lon = site_of(charge_point_id)
        await api(
            "POST",
            "/charge-points",
            {
                "id": charge_point_id,
                "password": passwords[charge_point_id],
                "protocol": protocol,
                "location": {"latitude": lat, "longitude": lon},
                "time_zone": "Europe/Berlin",
            },
        )
    return passwords


async def _bill(api: _Api, session_id: int) -> dict[str, Any] | None:
    """The session's bill once its payment step ran (the worker bills after the end)."""
    for _ in range(150):
        try:
            bill: dict[str, Any] = await api("GET", f"/sessions/{session_id}/bill")
        except RuntimeError:  # not billed yet
            await asyncio.sleep(0.1)
            continue
        if bill.get("payment_status") not in (None, "pending"):
            return bill
        await asyncio.sleep(0.1)
    return None


def _calls(detail: dict[str, Any] | None) -> str:
    """Smartcar calls spent: matching + the session."""
    if detail is None:
        return "-"
    spent = detail["smartcar_calls"]
    return f"{spent['matching']}+{spent['session']}"


def _soc_wh(detail: dict[str, Any] | None, capacity_kwh: float | None) -> float | None:
    """Energy the car's SoC gain implies: (last - first SoC) x usable capacity."""
    if detail is None or capacity_kwh is None:
        return None
    series = [p["soc_percent"] for p in detail["soc_series"] if p["soc_percent"] is not None]
    if len(series) < 2:
        return None
    gain: float = (series[-1] - series[0]) / 100 * capacity_kwh * 1000
    return gain


async def _rows(api: _Api, story: Story) -> list[Row]:
    rows = []
    for visit in story.visits:
        if visit.session_id is None:
            continue
        session = await api("GET", f"/sessions/{visit.session_id}")
        bill = await _bill(api, visit.session_id)
        pnc = session.get("plug_and_charge")
        vin = None if pnc is None else pnc["vin"]
        vehicle = story.vehicles.get(vin or "")
        rows.append(
            Row(
                driver=visit.driver.name,
                charger=session["charge_point_id"],
                connector=session["connector_id"],
                started_at=session["started_at"],
                ended_at=session["ended_at"],
                vin=vin,
                matched_by=visit.matched_by,
                metered_wh=session["energy_wh"],
                soc_wh=_soc_wh(pnc, None if vehicle is None else vehicle["battery_capacity_kwh"]),
                verdict=None if bill is None else bill["verdict"],
                amount="-" if bill is None else f"{bill['total']} {bill['currency']}",
                payment=None if bill is None else bill["payment_status"],
                calls=_calls(pnc),
                correct=session["account_id"] == visit.account_id and bill is not None,
            )
        )
    return rows


def _smartcar_app(api_port: int) -> Any:
    from simulators.smartcar import SimConfig, create_app

    return create_app(
        SimConfig(
            SMARTCAR_CLIENT_ID,
            SMARTCAR_CLIENT_SECRET,
            [f"http://127.0.0.1:{api_port}/api/v1/smartcar/callback"],
            rate_limit_app_per_s=None,
            rate_limit_vehicle_per_min=None,
        )
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _settings(base: Settings, data_dir: Path, token: str, api_port: int, smartcar: str) -> Settings:
    from smartcar_bridge import TokenCipher

    return load_settings(
        {},
        data_dir=data_dir,
        host="127.0.0.1",
        ocpp_port=0,
        api_port=api_port,
        admin_token=token,
        log_format=base.log_format,
        log_level="warning",
        worker_poll_interval_s=0.05,
        smartcar_client_id=SMARTCAR_CLIENT_ID,
        smartcar_client_secret=SMARTCAR_CLIENT_SECRET,
        smartcar_redirect_uri=f"http://127.0.0.1:{api_port}/api/v1/smartcar/callback",
        smartcar_connect_url=smartcar,
        smartcar_auth_url=smartcar,
        smartcar_api_url=smartcar,
        smartcar_vehicle_api_url=smartcar,
        smartcar_connect_mode="test",
        smartcar_token_key=TokenCipher.generate_key(),
        smartcar_app_requests_per_minute=6000.0,
        smartcar_vehicle_requests_per_minute=6000.0,
        smartcar_vehicle_burst=100.0,
        # A demo minute is short: the second matching poll after 2 s instead of 90 s.
        pnc_repoll_after_s=2.0,
        pnc_first_poll_after_s=0.5,
        pnc_watch_interval_s=0.3,
        pnc_car_check_after_s=0.5,
        pnc_end_retry_s=1.0,
    )


async def run_demo(base: Settings) -> int:
    """Run the demo; return the process exit code."""
    from aiohttp import web

    from csms.app import Ready, serve
    from csms.demo_story import Story

    # The table is the demo's output; keep the server's own logs to warnings and errors.
    configure_logging(log_format=base.log_format, level="warning", ocpp_level="warning")
    token = secrets.token_urlsafe(24)
    api_port, smartcar_port = _free_port(), _free_port()
    smartcar_url = f"http://127.0.0.1:{smartcar_port}"
    runner = web.AppRunner(_smartcar_app(api_port), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", smartcar_port).start()
    with tempfile.TemporaryDirectory(prefix="csms-demo-") as tmp:
        settings = _settings(base, Path(tmp), token, api_port, smartcar_url)
        print(f"Starting an embedded PostgreSQL in {tmp} ...", flush=True)
        async with open_database(dsn=None, data_dir=settings.data_dir) as pool:
            stop = asyncio.Event()
            ready: asyncio.Future[Ready] = asyncio.get_running_loop().create_future()
            server = asyncio.create_task(
                serve(settings, pool, stop=stop, on_ready=ready.set_result)
            )
            try:
                ports = await asyncio.wait_for(asyncio.shield(ready), 30)
                ocpp_url = f"ws://127.0.0.1:{ports.ocpp_port}/ocpp"
                print(
                    f"Central system up: OCPP {ocpp_url}, admin API "
                    f"http://127.0.0.1:{ports.api_port}/api/v1, Smartcar simulator {smartcar_url}",
                    flush=True,
                )
                async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
                    api = _Api(http, f"http://127.0.0.1:{ports.api_port}/api/v1", token)
                    story = Story(
                        api,
                        http,
                        ocpp_url=ocpp_url,
                        smartcar_url=smartcar_url,
                        passwords=await _populate(api),
                        time_scale=TIME_SCALE,
                    )
                    await story.drivers()
                    await story.connect_chargers()
                    print(
                        f"{len(story.chargers)} chargers (OCPP 1.6 and 2.0.1) at five sites, "
                        f"{len(story.accounts)} drivers ({len(story.vehicles)} cars linked "
                        "through Smartcar Connect); the cars plug in ...",
                        flush=True,
                    )
                    try:
                        await story.run()
                        rows = await _rows(api, story)
                    finally:
                        await story.close()
            finally:
                stop.set()
                await asyncio.wait_for(server, 30)
                await runner.cleanup()
    print()
    print(format_table(rows))
    print()
    expected = len(story.visits)
    right = sum(1 for r in rows if r.correct)
    print(
        f"{len(rows)} of {expected} sessions completed; {right} billed to the right driver "
        "(amounts incl. VAT, from the charger's meter; SoC kWh = SoC gain x battery capacity;\n"
        "calls = Smartcar calls spent matching + during the session)."
    )
    return 0 if right == expected == len(rows) else 1
