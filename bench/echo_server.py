"""The CEILING, not our server: a raw websockets server that parses each CALL and answers
an empty CALLRESULT. Nothing validated, nothing stored.

    python bench/echo_server.py --port 9200
"""

from __future__ import annotations

import argparse
import asyncio
import json

from websockets.asyncio.server import ServerConnection, serve


async def handler(connection: ServerConnection) -> None:
    try:
        async for frame in connection:
            message = json.loads(frame)
            await connection.send(json.dumps([3, message[1], {}]))
    except Exception:  # noqa: S110 - a closed connection ends the handler
        pass


async def main(host: str, port: int) -> None:
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
    parser.add_argument("--port", type=int, default=9200)
    args = parser.parse_args()
    asyncio.run(main(args.host, args.port))
