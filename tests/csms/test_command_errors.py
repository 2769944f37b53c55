"""A charger that does not answer a command (504), or answers with a CALLERROR (502)."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect

from tests.csms.conftest import PASSWORD, System, basic_auth

pytestmark = pytest.mark.slow


async def test_silent_charger_times_out_and_callerror_is_502(system: System) -> None:
    await system.register("CP-MUTE")
    async with connect(
        f"{system.ocpp_url}/CP-MUTE",
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        additional_headers=basic_auth("CP-MUTE", PASSWORD),
    ) as ws:
        path = "/charge-points/CP-MUTE/commands/clear-cache"
        pending = asyncio.create_task(system.api("POST", path, {}, expect=504))
        call = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert call[0] == 2 and call[2] == "ClearCache"
        error = await pending  # never answered: 504
        assert error["error"]["code"] == "charger_timeout"

        pending = asyncio.create_task(system.api("POST", path, {}, expect=502))
        call = json.loads(await asyncio.wait_for(ws.recv(), 5))
        await ws.send(json.dumps([4, call[1], "InternalError", "cache is on fire", {}]))
        error = await pending
        assert error["error"]["code"] == "charger_call_error"
        assert "InternalError" in error["error"]["message"]
