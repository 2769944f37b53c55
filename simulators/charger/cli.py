"""Command line: connect simulated chargers to a CSMS and run charging sessions.

python -m simulators.charger --url ws://127.0.0.1:9000/ocpp --id CP1 --count 3
python -m simulators.charger --url ws://127.0.0.1:9000/ocpp --protocol ocpp2.0.1

With OCPP 2.0.1, --connectors is the number of EVSEs and --id-tag the idToken.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from websockets.exceptions import InvalidHandshake, InvalidStatus

from simulators.charger import (
    OCPP16,
    OCPP201,
    BaseCharger,
    ChargerConfig,
    ChargerOffline,
    create_charger,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.charger",
        description="Simulated OCPP charge points: boot, run charging sessions, disconnect.",
    )
    parser.add_argument("--url", required=True, help="CSMS base URL, e.g. ws://HOST:9000/ocpp")
    parser.add_argument("--id", default="CP1", help="charge point id (default: CP1)")
    parser.add_argument("--count", type=int, default=1, help="chargers; ids {id}-1..{id}-N if >1")
    parser.add_argument("--password", default=None, help="HTTP Basic auth password")
    parser.add_argument(
        "--protocol", default=OCPP16, help=f"{OCPP16} or {OCPP201} (default: {OCPP16})"
    )
    parser.add_argument(
        "--connectors", type=int, default=2, help="connectors (2.0.1: EVSEs) per charger"
    )
    parser.add_argument("--sessions", type=int, default=1, help="sessions per connector, in turn")
    parser.add_argument("--id-tag", default="SIMTAG", help="idTag presented for each session")
    parser.add_argument(
        "--duration", type=float, default=60.0, help="simulated seconds per session (default 60)"
    )
    parser.add_argument("--meter-interval", type=float, default=1.0, help="real s between samples")
    parser.add_argument(
        "--time-scale", type=float, default=60.0, help="simulated seconds per real second"
    )
    parser.add_argument("--power-w", type=int, default=11_000, help="charging power in W")
    parser.add_argument("--no-authorize", action="store_true", help="skip Authorize before start")
    parser.add_argument("--log-level", default="WARNING", help="Python log level (default WARNING)")
    return parser


def charger_ids(base: str, count: int) -> list[str]:
    return [base] if count <= 1 else [f"{base}-{i}" for i in range(1, count + 1)]


async def _connect(charger: BaseCharger) -> str | None:
    """None when connected and accepted, else the reason it is not."""
    name = charger.config.charge_point_id
    try:
        await charger.connect()
    except InvalidStatus as exc:
        return f"{name}: handshake refused: HTTP {exc.response.status_code}"
    except InvalidHandshake as exc:
        return f"{name}: handshake failed: {exc}"
    except (OSError, TimeoutError, ChargerOffline) as exc:
        return f"{name}: cannot connect to {charger.config.endpoint}: {exc}"
    if charger.boot_status != "Accepted":
        return f"{name}: BootNotification {charger.boot_status}"
    return None


async def _sessions(charger: BaseCharger, connector_id: int, args: argparse.Namespace) -> None:
    for _ in range(args.sessions):
        result = await charger.run_session(
            connector_id, args.id_tag, duration_s=args.duration, authorize=not args.no_authorize
        )
        print(
            f"{charger.config.charge_point_id} connector={connector_id} "
            f"transaction={result.transaction_id} status={result.id_tag_status} "
            f"energy_wh={result.energy_wh}",
            flush=True,
        )


async def run(args: argparse.Namespace) -> int:
    try:
        chargers = [
            create_charger(
                ChargerConfig(
                    url=args.url,
                    charge_point_id=cp_id,
                    password=args.password,
                    protocol=args.protocol,
                    connectors=args.connectors,
                    power_w=args.power_w,
                    meter_interval_s=args.meter_interval,
                ),
                time_scale=args.time_scale,
            )
            for cp_id in charger_ids(args.id, args.count)
        ]
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        failures = [msg for msg in await asyncio.gather(*map(_connect, chargers)) if msg]
        for message in failures:
            print(f"error: {message}", file=sys.stderr)
        if failures:
            return 1
        await asyncio.gather(
            *(
                _sessions(charger, cid, args)
                for charger in chargers
                for cid in range(1, args.connectors + 1)
            )
        )
        return 0
    finally:
        await asyncio.gather(*(charger.aclose() for charger in chargers))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.count < 1 or args.connectors < 1 or args.sessions < 0:
        print("error: --count and --connectors must be >= 1", file=sys.stderr)
        return 2
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    return asyncio.run(run(args))
