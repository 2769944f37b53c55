"""BASELINE, not our server: a bare central system on the ``ocpp`` library with default
settings that answers every charger message and persists nothing.

It is what a team gets from the library's own example: schema validation in a thread pool,
regex case conversion, signature inspection per message. ``compare.py`` runs it beside our
server so ratios are measured on the same machine in the same run.

    python bench/baseline_ocpp.py --port 9100
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201
from websockets.asyncio.server import ServerConnection, serve

_ids = itertools.count(1)


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Baseline16(ChargePoint16):  # type: ignore[misc]
    @on(Action16.boot_notification)
    async def on_boot(self, **_: Any) -> Any:
        return result16.BootNotification(current_time=_now(), interval=300, status="Accepted")

    @on(Action16.heartbeat)
    async def on_heartbeat(self, **_: Any) -> Any:
        return result16.Heartbeat(current_time=_now())

    @on(Action16.status_notification)
    async def on_status(self, **_: Any) -> Any:
        return result16.StatusNotification()

    @on(Action16.meter_values)
    async def on_meter_values(self, **_: Any) -> Any:
        return result16.MeterValues()

    @on(Action16.authorize)
    async def on_authorize(self, **_: Any) -> Any:
        return result16.Authorize(id_tag_info={"status": "Accepted"})

    @on(Action16.start_transaction)
    async def on_start(self, **_: Any) -> Any:
        return result16.StartTransaction(
            transaction_id=next(_ids), id_tag_info={"status": "Accepted"}
        )

    @on(Action16.stop_transaction)
    async def on_stop(self, **_: Any) -> Any:
        return result16.StopTransaction()


class Baseline201(ChargePoint201):  # type: ignore[misc]
    @on(Action201.boot_notification)
    async def on_boot(self, **_: Any) -> Any:
        return result201.BootNotification(current_time=_now(), interval=300, status="Accepted")

    @on(Action201.heartbeat)
    async def on_heartbeat(self, **_: Any) -> Any:
        return result201.Heartbeat(current_time=_now())

    @on(Action201.status_notification)
    async def on_status(self, **_: Any) -> Any:
        return result201.StatusNotification()

    @on(Action201.meter_values)
    async def on_meter_values(self, **_: Any) -> Any:
        return result201.MeterValues()

    @on(Action201.authorize)
    async def on_authorize(self, **_: Any) -> Any:
        return result201.Authorize(id_token_info={"status": "Accepted"})

    @on(Action201.transaction_event)
    async def on_transaction_event(self, **_: Any) -> Any:
        return result201.TransactionEvent()


async def handler(connection: ServerConnection) -> None:
    assert connection.request is not None
    charge_point_id = connection.request.path.rsplit("/", 1)[-1]
    cls = Baseline201 if connection.subprotocol == "ocpp2.0.1" else Baseline16
    with contextlib.suppress(Exception):  # a closed connection ends the handler
        await cls(charge_point_id, connection).start()


async def main(host: str, port: int) -> None:
    logging.getLogger("ocpp").setLevel(logging.WARNING)
    async with serve(
        handler,
        host,
        port,
        subprotocols=["ocpp1.6", "ocpp2.0.1"],  # type: ignore[list-item]
        ping_interval=None,
        compression=None,
    ):
        print("ready", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    args = parser.parse_args()
    asyncio.run(main(args.host, args.port))
