"""A tiny OCPP 1.6 central system and the Smartcar simulator, both on loopback."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import aiohttp
import pytest
from aiohttp import web
from ocpp.routing import on as _untyped_on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from simulators.charger import OCPP201, BaseCharger, ChargerConfig, SimulatedCharger, create_charger
from simulators.ev import SimulatedEV
from simulators.smartcar import SimConfig, create_app

_F = TypeVar("_F", bound=Callable[..., Any])
CHARGER_AT = (52.5200, 13.4050)


def on(action: str) -> Callable[[_F], _F]:
    return cast(Callable[[_F], _F], _untyped_on(action))


class MiniCSMS:
    """Accepts everything and records each CALL's payload by action."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.server: Server | None = None
        self.next_tx = 100

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"ws://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/ocpp"

    def payloads(self, action: str) -> list[dict[str, Any]]:
        return [payload for name, payload in self.calls if name == action]

    async def _handle(self, ws: ServerConnection) -> None:
        cp_id = ws.request.path.rsplit("/", 1)[-1] if ws.request else "?"
        side = _CentralSide201 if ws.subprotocol == OCPP201 else _CentralSide
        with contextlib.suppress(ConnectionClosed):
            await side(cp_id, ws, self).start()


def _record(csms: MiniCSMS, raw: str) -> None:
    data = json.loads(raw)
    if isinstance(data, list) and len(data) == 4 and data[0] == 2:
        csms.calls.append((str(data[2]), dict(data[3])))


class _CentralSide(ChargePoint):  # type: ignore[misc]
    def __init__(self, cp_id: str, ws: ServerConnection, csms: MiniCSMS) -> None:
        super().__init__(cp_id, ws, response_timeout=5)
        self.csms = csms

    async def route_message(self, raw_msg: str) -> None:
        _record(self.csms, raw_msg)
        await super().route_message(raw_msg)

    @on("BootNotification")
    def on_boot(self, **_: Any) -> Any:
        now = datetime.now(UTC).isoformat()
        return call_result.BootNotification(current_time=now, interval=300, status="Accepted")

    @on("Heartbeat")
    def on_heartbeat(self, **_: Any) -> Any:
        return call_result.Heartbeat(current_time=datetime.now(UTC).isoformat())

    @on("StatusNotification")
    def on_status(self, **_: Any) -> Any:
        return call_result.StatusNotification()

    @on("Authorize")
    def on_authorize(self, **_: Any) -> Any:
        return call_result.Authorize(id_tag_info={"status": "Accepted"})

    @on("StartTransaction")
    def on_start(self, **_: Any) -> Any:
        self.csms.next_tx += 1
        return call_result.StartTransaction(
            transaction_id=self.csms.next_tx, id_tag_info={"status": "Accepted"}
        )

    @on("MeterValues")
    def on_meter_values(self, **_: Any) -> Any:
        return call_result.MeterValues()

    @on("StopTransaction")
    def on_stop(self, **_: Any) -> Any:
        return call_result.StopTransaction(id_tag_info={"status": "Accepted"})


class _CentralSide201(ChargePoint201):  # type: ignore[misc]
    def __init__(self, cp_id: str, ws: ServerConnection, csms: MiniCSMS) -> None:
        super().__init__(cp_id, ws, response_timeout=5)
        self.csms = csms

    async def route_message(self, raw_msg: str) -> None:
        _record(self.csms, raw_msg)
        await super().route_message(raw_msg)

    @on("BootNotification")
    def on_boot(self, **_: Any) -> Any:
        now = datetime.now(UTC).isoformat()
        return result201.BootNotification(current_time=now, interval=300, status="Accepted")

    @on("Heartbeat")
    def on_heartbeat(self, **_: Any) -> Any:
        return result201.Heartbeat(current_time=datetime.now(UTC).isoformat())

    @on("StatusNotification")
    def on_status(self, **_: Any) -> Any:
        return result201.StatusNotification()

    @on("Authorize")
    def on_authorize(self, **_: Any) -> Any:
        return result201.Authorize(id_token_info={"status": "Accepted"})

    @on("TransactionEvent")
    def on_transaction_event(self, id_token: dict[str, Any] | None = None, **_: Any) -> Any:
        if id_token is None:
            return result201.TransactionEvent()
        return result201.TransactionEvent(id_token_info={"status": "Accepted"})

    @on("MeterValues")
    def on_meter_values(self, **_: Any) -> Any:
        return result201.MeterValues()

    @on("NotifyReport")
    def on_notify_report(self, **_: Any) -> Any:
        return result201.NotifyReport()

    @on("NotifyEvent")
    def on_notify_event(self, **_: Any) -> Any:
        return result201.NotifyEvent()

    @on("SecurityEventNotification")
    def on_security_event(self, **_: Any) -> Any:
        return result201.SecurityEventNotification()


@pytest.fixture
async def csms() -> AsyncIterator[MiniCSMS]:
    central = MiniCSMS()
    central.server = await serve(
        central._handle, "127.0.0.1", 0, subprotocols=[Subprotocol("ocpp1.6"), Subprotocol(OCPP201)]
    )
    yield central
    central.server.close()
    await central.server.wait_closed()


@dataclass
class Smartcar:
    base: str
    http: aiohttp.ClientSession

    async def car(self, **fields: Any) -> SimulatedEV:
        values: dict[str, Any] = {"capacity_kwh": 50.0, "soc": 0.2, "efficiency": 0.9}
        values.update(fields)
        return await SimulatedEV.create(self.base, self.http, **values)


@pytest.fixture
async def smartcar() -> AsyncIterator[Smartcar]:
    config = SimConfig("client", "secret", ["https://csms.example/cb"])
    runner = web.AppRunner(create_app(config))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with aiohttp.ClientSession() as http:
        yield Smartcar(f"http://127.0.0.1:{port}", http)
    await runner.cleanup()


@pytest.fixture
async def charger(csms: MiniCSMS) -> AsyncIterator[SimulatedCharger]:
    config = ChargerConfig(
        url=csms.url,
        charge_point_id="CP1",
        meter_interval_s=0.05,
        call_timeout_s=2.0,
        ping_interval_s=None,
    )
    # 0.05 s real = 180 s simulated: 550 Wh a step at 11 kW.
    async with SimulatedCharger(config, time_scale=3600) as cp:
        yield cp


@pytest.fixture
async def charger201(csms: MiniCSMS) -> AsyncIterator[BaseCharger]:
    config = ChargerConfig(
        url=csms.url,
        charge_point_id="CP2",
        protocol=OCPP201,
        meter_interval_s=0.05,
        call_timeout_s=2.0,
        ping_interval_s=None,
    )
    async with create_charger(config, time_scale=3600) as cp:
        yield cp
