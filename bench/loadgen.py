"""Load generator: N simulated chargers over loopback websockets, closed loop or paced.

Frames are built once per charger and only their message id and timestamp change, so the
client stays cheap next to the server it measures. Every charger boots, opens a
transaction (for the meter and transaction mixes), then sends its mix. Latency is the
time from sending a CALL to receiving its CALLRESULT; a CALLERROR, a timeout or a dropped
connection counts as a failure.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect

MIXES = ("meter", "heartbeat", "status", "transaction")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class LoadSpec:
    url: str  # ws://host:port/ocpp
    protocol: str = "ocpp1.6"
    chargers: int = 100
    mix: str = "meter"
    rate_per_charger: float | None = None  # None: closed loop
    duration_s: float = 10.0
    warmup_s: float = 2.0
    password: str | None = None
    id_prefix: str = "BENCH"
    connect_concurrency: int = 200
    call_timeout_s: float = 10.0


@dataclass
class LoadResult:
    ok: int = 0
    failed: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    measured_s: float = 0.0
    connected: int = 0
    acked: list[tuple[str, str]] = field(default_factory=list)  # (charger, timestamp) acked

    @property
    def rps(self) -> float:
        return self.ok / self.measured_s if self.measured_s else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _meter_values_16(tx: int, register: int, at: str) -> dict[str, Any]:
    sampled = [
        {
            "value": str(register),
            "context": "Sample.Periodic",
            "measurand": "Energy.Active.Import.Register",
            "unit": "Wh",
        },
        {"value": "11040", "measurand": "Power.Active.Import", "unit": "W"},
        *(
            {"value": "16.0", "measurand": "Current.Import", "phase": p, "unit": "A"}
            for p in ("L1", "L2", "L3")
        ),
        {"value": "230.1", "measurand": "Voltage", "phase": "L1-N", "unit": "V"},
    ]
    return {
        "connectorId": 1,
        "transactionId": tx,
        "meterValue": [{"timestamp": at, "sampledValue": sampled}],
    }


def _meter_values_201(tx: str, register: int, at: str, seq: int) -> dict[str, Any]:
    sampled = [
        {
            "value": register,
            "context": "Sample.Periodic",
            "measurand": "Energy.Active.Import.Register",
            "unitOfMeasure": {"unit": "Wh"},
        },
        {"value": 11040, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W"}},
        *(
            {
                "value": 16.0,
                "measurand": "Current.Import",
                "phase": p,
                "unitOfMeasure": {"unit": "A"},
            }
            for p in ("L1", "L2", "L3")
        ),
        {"value": 230.1, "measurand": "Voltage", "phase": "L1-N", "unitOfMeasure": {"unit": "V"}},
    ]
    return {
        "eventType": "Updated",
        "timestamp": at,
        "triggerReason": "MeterValuePeriodic",
        "seqNo": seq,
        "transactionInfo": {"transactionId": tx, "chargingState": "Charging"},
        "meterValue": [{"timestamp": at, "sampledValue": sampled}],
    }


class _Charger:
    def __init__(self, spec: LoadSpec, index: int, result: LoadResult) -> None:
        self.spec = spec
        self.id = f"{spec.id_prefix}-{index:05d}"
        self.result = result
        self.ws: ClientConnection | None = None
        self.ids = itertools.count(1)
        self.clock = itertools.count(1)  # one simulated second per message: unique samples
        self.register = 100_000
        self.tx: Any = None
        self.seq = 0

    async def open(self) -> None:
        headers = {}
        if self.spec.password is not None:
            raw = base64.b64encode(f"{self.id}:{self.spec.password}".encode()).decode()
            headers["Authorization"] = f"Basic {raw}"
        self.ws = await connect(
            f"{self.spec.url}/{self.id}",
            subprotocols=[self.spec.protocol],  # type: ignore[list-item]
            additional_headers=headers,
            open_timeout=60,
            ping_interval=None,
            compression=None,
            max_queue=4,
        )

    async def call(self, action: str, payload: dict[str, Any]) -> Any:
        assert self.ws is not None
        unique_id = str(next(self.ids))
        await self.ws.send(orjson.dumps([2, unique_id, action, payload]).decode())
        while True:
            reply = orjson.loads(await asyncio.wait_for(self.ws.recv(), self.spec.call_timeout_s))
            if reply[1] == unique_id and reply[0] in (3, 4):
                if reply[0] == 4:
                    raise RuntimeError(f"{action}: {reply[2]} {reply[3]}")
                return reply[2]
            if reply[0] == 2:  # a call from the server: answer it empty
                await self.ws.send(orjson.dumps([3, reply[1], {}]).decode())

    def now(self) -> str:
        return _iso(T0 + timedelta(seconds=next(self.clock)))

    async def prepare(self) -> None:
        v201 = self.spec.protocol == "ocpp2.0.1"
        if v201:
            await self.call(
                "BootNotification",
                {"chargingStation": {"vendorName": "Bench", "model": "Load"}, "reason": "PowerUp"},
            )
        else:
            await self.call(
                "BootNotification", {"chargePointVendor": "Bench", "chargePointModel": "Load"}
            )
        if self.spec.mix in ("meter", "transaction"):
            await self._start()

    async def _start(self) -> None:
        if self.spec.protocol == "ocpp2.0.1":
            self.tx = f"{self.id}-{next(self.ids)}"
            self.seq += 1
            await self.call(
                "TransactionEvent",
                {
                    "eventType": "Started",
                    "timestamp": self.now(),
                    "triggerReason": "Authorized",
                    "seqNo": self.seq,
                    "transactionInfo": {"transactionId": self.tx},
                    "evse": {"id": 1, "connectorId": 1},
                    "idToken": {"idToken": "BENCH", "type": "Central"},
                },
            )
        else:
            reply = await self.call(
                "StartTransaction",
                {
                    "connectorId": 1,
                    "idTag": "BENCH",
                    "meterStart": self.register,
                    "timestamp": self.now(),
                },
            )
            self.tx = reply.get("transactionId", 1)  # the echo ceiling answers {}

    async def one(self) -> str:
        """Send one unit of the mix; return the timestamp it carried."""
        at = self.now()
        v201 = self.spec.protocol == "ocpp2.0.1"
        mix = self.spec.mix
        if mix == "heartbeat":
            await self.call("Heartbeat", {})
        elif mix == "status":
            if v201:
                await self.call(
                    "StatusNotification",
                    {
                        "timestamp": at,
                        "connectorStatus": "Available",
                        "evseId": 1,
                        "connectorId": 1,
                    },
                )
            else:
                await self.call(
                    "StatusNotification",
                    {
                        "connectorId": 1,
                        "errorCode": "NoError",
                        "status": "Available",
                        "timestamp": at,
                    },
                )
        elif mix == "meter":
            self.register += 37
            if v201:
                self.seq += 1
                await self.call(
                    "TransactionEvent", _meter_values_201(self.tx, self.register, at, self.seq)
                )
            else:
                await self.call("MeterValues", _meter_values_16(self.tx, self.register, at))
        else:  # a full transaction cycle per unit
            await self._start()
            self.register += 500
            if v201:
                self.seq += 1
                await self.call(
                    "TransactionEvent",
                    {
                        "eventType": "Ended",
                        "timestamp": self.now(),
                        "triggerReason": "StopAuthorized",
                        "seqNo": self.seq,
                        "transactionInfo": {"transactionId": self.tx, "stoppedReason": "Local"},
                    },
                )
            else:
                await self.call(
                    "StopTransaction",
                    {"transactionId": self.tx, "meterStop": self.register, "timestamp": self.now()},
                )
        return at


async def run_load(spec: LoadSpec, on_window: Callable[[str], None] | None = None) -> LoadResult:
    """Connect, prepare, then run the mix for warm-up plus duration; return the figures.

    ``on_window`` is called with ``"start"`` and ``"end"`` of the measured window (after
    the warm-up), so the caller can sample the server's CPU time exactly there.
    """
    result = LoadResult()
    chargers = [_Charger(spec, i, result) for i in range(spec.chargers)]
    gate = asyncio.Semaphore(spec.connect_concurrency)

    async def open_one(charger: _Charger) -> None:
        async with gate:
            await charger.open()
            await charger.prepare()

    opened = await asyncio.gather(*(open_one(c) for c in chargers), return_exceptions=True)
    live = [c for c, outcome in zip(chargers, opened, strict=True) if outcome is None]
    result.connected = len(live)
    result.failed += len(chargers) - len(live)
    loop = asyncio.get_running_loop()
    start = loop.time()
    measure_from = start + spec.warmup_s
    stop_at = measure_from + spec.duration_s

    async def drive(charger: _Charger, offset: float) -> None:
        next_send = start + offset
        while True:
            now = loop.time()
            if now >= stop_at:
                return
            if spec.rate_per_charger:
                if next_send > now:
                    await asyncio.sleep(next_send - now)
                next_send += 1 / spec.rate_per_charger
            sent = time.perf_counter()
            try:
                at = await charger.one()
            except Exception:
                if loop.time() >= measure_from:
                    result.failed += 1
                return
            if loop.time() >= measure_from:
                result.ok += 1
                result.latencies_ms.append((time.perf_counter() - sent) * 1000)
            result.acked.append((charger.id, at))

    async def window() -> None:
        if on_window is None:
            return
        await asyncio.sleep(max(0.0, measure_from - loop.time()))
        on_window("start")
        await asyncio.sleep(max(0.0, stop_at - loop.time()))
        on_window("end")

    spread = 1 / spec.rate_per_charger if spec.rate_per_charger else 0.0
    await asyncio.gather(
        window(), *(drive(c, spread * i / max(1, len(live))) for i, c in enumerate(live))
    )
    result.measured_s = max(0.001, min(loop.time(), stop_at) - measure_from)
    await asyncio.gather(*(c.ws.close() for c in live if c.ws is not None), return_exceptions=True)
    return result
