"""Command line: run the Smartcar simulator on one port.

python -m simulators.smartcar --port 8090 --client-id ID --client-secret SECRET \\
    --redirect-uri http://127.0.0.1:8080/smartcar/callback --vehicles 3
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence

from aiohttp import web

from simulators.smartcar.app import create_app
from simulators.smartcar.config import SimConfig
from simulators.smartcar.keys import SIM


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.smartcar",
        description=(
            "Simulated Smartcar API: Connect (mode=test auto-consents), OAuth tokens, the "
            "v2.0 and v3 Vehicle APIs, webhooks, and a control API under /_sim/."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8090, help="listen port (default 8090)")
    parser.add_argument("--client-id", required=True, help="the application's client id")
    parser.add_argument("--client-secret", required=True, help="the application's secret")
    parser.add_argument(
        "--redirect-uri",
        action="append",
        required=True,
        help="a registered redirect URI (repeat for several; the first is the default)",
    )
    parser.add_argument("--vehicles", type=int, default=0, help="vehicles created at start")
    parser.add_argument("--webhook-url", default=None, help="where webhook events are POSTed")
    parser.add_argument(
        "--amt", default="amt-test", help="application management token (webhook signing key)"
    )
    parser.add_argument(
        "--command-delay", type=float, default=0.0, help="seconds a command takes (default 0)"
    )
    parser.add_argument(
        "--webhook-retry-scale",
        type=float,
        default=1.0,
        help="factor on the 25/50/100 s webhook retry delays (default 1)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of vehicle ids and VINs")
    parser.add_argument(
        "--no-rate-limits", action="store_true", help="disable app and vehicle rate limits"
    )
    parser.add_argument("--log-level", default="WARNING", help="Python log level")
    return parser


def config_from(args: argparse.Namespace) -> SimConfig:
    return SimConfig(
        client_id=args.client_id,
        client_secret=args.client_secret,
        redirect_uris=list(args.redirect_uri),
        vehicles=args.vehicles,
        webhook_url=args.webhook_url,
        application_management_token=args.amt,
        command_delay_s=args.command_delay,
        webhook_retry_scale=args.webhook_retry_scale,
        seed=args.seed,
        rate_limit_app_per_s=None if args.no_rate_limits else 2 / 60,
        rate_limit_vehicle_per_min=None if args.no_rate_limits else 30,
    )


async def serve(config: SimConfig, host: str, port: int) -> None:
    app = create_app(config)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    sim = app[SIM]
    print(f"Smartcar simulator on http://{host}:{port} (control API: /_sim/)", flush=True)
    for vehicle in sim.vehicles.values():
        owner = sim.users[vehicle.owner_id]
        print(
            f"  vehicle {vehicle.id} {vehicle.vin} {vehicle.make} {vehicle.model} "
            f"soc={vehicle.soc:.2f} owner={owner.email}",
            flush=True,
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    if args.vehicles < 0:
        print("error: --vehicles must be >= 0")
        return 2
    try:
        config = config_from(args)
    except ValueError as exc:
        print(f"error: {exc}")
        return 2
    asyncio.run(serve(config, args.host, args.port))
    return 0
