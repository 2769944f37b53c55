"""The ``csms`` command: serve, migrate, demo, admin-token."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import secrets
import signal
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from csms import __version__
from csms.config import Settings, load_settings
from csms.database import open_database
from csms.logs import configure_logging, get_logger

__all__ = ["main"]

log = get_logger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="csms",
        description="OCPP 1.6 / 2.0.1 central system. Configuration comes from CSMS_* "
        "environment variables (see README); with no CSMS_DATABASE_URL an embedded "
        "PostgreSQL is started in CSMS_DATA_DIR.",
    )
    parser.add_argument("--version", action="version", version=f"csms {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the OCPP server, admin API and worker")
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="server processes sharing the ports (default: CSMS_WORKERS, else one per core)",
    )
    commands.add_parser("migrate", help="apply database migrations and exit")
    commands.add_parser(
        "demo",
        help="run the plug-and-charge demo on a temporary embedded database and exit",
    )
    price = commands.add_parser(
        "price", help="price a session with a tariff (the same code path as the real bill)"
    )
    price.add_argument("--tariff", required=True, type=Path, help="OCPI 2.2.1 tariff (JSON)")
    price.add_argument("--session", required=True, type=Path, help="session document (JSON)")
    token = commands.add_parser("admin-token", help="manage the admin API token")
    token.add_argument("action", choices=["rotate"], help="rotate: generate and print a new one")
    return parser


def _raise_open_file_limit() -> None:
    """Every charger is a socket: let the process use as many descriptors as allowed."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        log.info("open_file_limit_raised", soft=soft, now=hard)


async def _serve(settings: Settings) -> None:
    from csms.app import Ready, serve

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def announce(ready: Ready) -> None:
        if ready.generated_admin_token:
            # Printed once: only its digest is stored.
            print(
                f"Admin API token (shown once, store it): {ready.generated_admin_token}",
                file=sys.stderr,
                flush=True,
            )

    async with open_database(
        dsn=_dsn(settings),
        data_dir=settings.data_dir,
        pool_min=settings.db_pool_min,
        pool_max=settings.db_pool_max,
        command_timeout=settings.db_command_timeout_s,
    ) as pool:
        await serve(settings, pool, stop=stop, on_ready=announce)


async def _migrate(settings: Settings) -> None:
    async with open_database(
        dsn=_dsn(settings), data_dir=settings.data_dir, pool_min=1, pool_max=1
    ):
        pass
    print("database is up to date")


async def _rotate_token(settings: Settings) -> None:
    from csms.store import admin_credentials

    token = secrets.token_urlsafe(32)
    async with (
        open_database(
            dsn=_dsn(settings), data_dir=settings.data_dir, pool_min=1, pool_max=1
        ) as pool,
        pool.acquire() as conn,
    ):
        await admin_credentials.replace(conn, hashlib.sha256(token.encode()).digest())
    print(token)


def _run_fast(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop where it is installed (not on Windows), else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)


def _price(tariff_path: Path, session_path: Path) -> int:
    """Print the priced session as JSON; exit 2 naming the field when an input is bad."""
    from csms.errors import InvalidInput
    from csms.pricing import preview

    documents = []
    for path in (tariff_path, session_path):
        try:
            documents.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            print(f"csms price: cannot read {path}: {exc}", file=sys.stderr)
            return 2
    try:
        answer = preview(documents[0], documents[1])
    except InvalidInput as exc:
        where = f" ({exc.field})" if exc.field else ""
        print(f"csms price: {exc.message}{where}", file=sys.stderr)
        return 2
    print(json.dumps(answer, indent=2))
    return 0


def _dsn(settings: Settings) -> str | None:
    return settings.database_url.get_secret_value() if settings.database_url else None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ValidationError as exc:
        print(f"csms: invalid configuration:\n{exc}", file=sys.stderr)
        return 2
    configure_logging(
        log_format=settings.log_format, level=settings.log_level, ocpp_level=settings.ocpp_log_level
    )
    if args.command == "price":
        return _price(args.tariff, args.session)
    with contextlib.suppress(KeyboardInterrupt):
        if args.command == "serve":
            # One per core, at most 8 by default: each holds its own database connections.
            workers = args.workers or settings.workers or min(8, os.cpu_count() or 1)
            if workers < 1:
                print("csms: --workers must be at least 1", file=sys.stderr)
                return 2
            _raise_open_file_limit()
            if workers == 1:
                _run_fast(_serve(settings))
            else:
                from csms.supervisor import supervise

                _run_fast(supervise(settings, workers, _dsn(settings)))
        elif args.command == "migrate":
            asyncio.run(_migrate(settings))
        elif args.command == "admin-token":
            asyncio.run(_rotate_token(settings))
        elif args.command == "demo":
            from csms.demo import run_demo

            return asyncio.run(run_demo(settings))
    return 0
