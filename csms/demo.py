"""``csms demo``: the whole system on a temporary embedded database, end to end.

Starts the central system on loopback ports, registers chargers, accounts and RFID cards
through the admin API (over real HTTP), runs simulated OCPP 1.6 chargers through complete
RFID sessions over real websockets, then prints the sessions as stored and exits.

The demo is the one place in ``csms`` that uses ``simulators`` (imported lazily): it plays
the part of the outside world.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from csms.config import Settings, load_settings
from csms.database import open_database
from csms.logs import configure_logging, get_logger

__all__ = ["run_demo"]

log = get_logger(__name__)

DRIVERS = [
    ("Alice Example", "RFID-ALICE-01"),
    ("Bob Example", "RFID-BOB-02"),
    ("Carol Example", "RFID-CAROL-03"),
]
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
# (id, protocol, latitude, longitude, power in W): a network mixes 1.6 and 2.0.1 chargers.
CHARGERS = [
    ("DEMO-CP-1", "ocpp1.6", 48.1374, 11.5755, 11_000),
    ("DEMO-CP-2", "ocpp1.6", 48.1380, 11.5760, 7_400),
    ("DEMO-CP-3", "ocpp2.0.1", 48.1391, 11.5771, 22_000),
]


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


def _amount(bill: dict[str, Any] | None) -> str:
    if not bill:
        return "-"
    return f"{bill['total']} {bill['currency']}"


def format_table(sessions: list[dict[str, Any]]) -> str:
    """The sessions as a fixed-width table, one row per session."""
    header = (
        "charger",
        "protocol",
        "conn",
        "transaction",
        "id tag",
        "status",
        "start (UTC)",
        "stop (UTC)",
        "Wh",
        "verdict",
        "amount",
        "payment",
    )
    rows = [
        (
            s["charge_point_id"],
            s["protocol"],
            str(s["connector_id"]),
            s["transaction_id"][:12],
            s["id_token"] or "-",
            s["status"],
            _when(s["started_at"]),
            _when(s["ended_at"]),
            "-" if s["energy_wh"] is None else f"{s['energy_wh']:,}",
            (s.get("bill") or {}).get("verdict") or "-",
            _amount(s.get("bill")),
            (s.get("bill") or {}).get("payment_status") or "-",
        )
        for s in sessions
    ]
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


async def _populate(api: _Api) -> dict[str, str]:
    """Accounts, RFID cards and chargers through the admin API; return charger passwords."""
    for name, id_tag in DRIVERS:
        account = await api("POST", "/accounts", {"name": name})
        await api(
            "POST",
            "/id-tokens",
            {"id_token": id_tag, "status": "Accepted", "account_id": account["id"]},
        )
    passwords = {}
    await api("POST", "/tariffs", {"tariff": TARIFF, "name": "Standard", "is_default": True})
    for charge_point_id, protocol, lat, lon, _ in CHARGERS:
        passwords[charge_point_id] = secrets.token_urlsafe(16)
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
    """The session's bill, once the worker has made it (it runs after the session ends)."""
    for _ in range(100):
        try:
            bill: dict[str, Any] = await api("GET", f"/sessions/{session_id}/bill")
        except RuntimeError:  # not billed yet
            await asyncio.sleep(0.1)
            continue
        if bill.get("payment_status") not in (None, "pending"):
            return bill
        await asyncio.sleep(0.1)
    return None


async def _drive(ocpp_url: str, index: int, password: str, sessions: int) -> None:
    """One simulated charger: connect, run RFID sessions on connector 1, disconnect."""
    from simulators.charger import ChargerConfig, create_charger

    charge_point_id, protocol, _, _, power_w = CHARGERS[index]
    config = ChargerConfig(
        url=ocpp_url,
        charge_point_id=charge_point_id,
        password=password,
        protocol=protocol,
        connectors=2,
        meter_interval_s=0.2,
        power_w=power_w,
    )
    # 300 simulated seconds per real second: each session is a few minutes of charging.
    async with create_charger(config, time_scale=300) as charger:
        for _ in range(sessions):
            await charger.run_session(1, DRIVERS[index][1], meter_samples=5)


async def run_demo(base: Settings, *, sessions_per_charger: int = 1) -> int:
    """Run the demo; return the process exit code."""
    from csms.app import Ready, serve

    # The table is the demo's output; keep the server's own logs to warnings and errors.
    configure_logging(log_format=base.log_format, level="warning", ocpp_level="warning")
    token = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="csms-demo-") as tmp:
        settings = load_settings(
            {},
            data_dir=Path(tmp),
            host="127.0.0.1",
            ocpp_port=0,
            api_port=0,
            admin_token=token,
            log_format=base.log_format,
            log_level="warning",
        )
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
                    f"http://127.0.0.1:{ports.api_port}/api/v1",
                    flush=True,
                )
                async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
                    api = _Api(http, f"http://127.0.0.1:{ports.api_port}/api/v1", token)
                    passwords = await _populate(api)
                    print(
                        f"Registered {len(CHARGERS)} chargers (OCPP 1.6 and 2.0.1) and "
                        f"{len(DRIVERS)} RFID cards; running sessions ...",
                        flush=True,
                    )
                    await asyncio.gather(
                        *(
                            _drive(ocpp_url, i, passwords[CHARGERS[i][0]], sessions_per_charger)
                            for i in range(len(CHARGERS))
                        )
                    )
                    listing = await api("GET", "/sessions?limit=100")
                    for session in listing["items"]:
                        session["bill"] = await _bill(api, session["id"])
            finally:
                stop.set()
                await asyncio.wait_for(server, 30)
    sessions = list(reversed(listing["items"]))
    print()
    print(format_table(sessions))
    print()
    completed = sum(1 for s in sessions if s["status"] == "completed")
    expected = len(CHARGERS) * sessions_per_charger
    billed = sum(1 for s in sessions if s.get("bill"))
    print(
        f"{completed} of {expected} sessions completed and stored; {billed} billed "
        "(amounts incl. VAT, from the charger's meter)."
    )
    return 0 if completed == expected else 1
