from __future__ import annotations

import json
import logging

import pytest
import structlog

from csms.logs import configure_logging, get_logger


def test_json_lines_carry_the_bound_connection_context(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        configure_logging(log_format="json", level="info", ocpp_level="warning")
        with structlog.contextvars.bound_contextvars(charge_point_id="CP-9", protocol="ocpp1.6"):
            get_logger("csms.test").info("charger_booted", vendor="V")
        logging.getLogger("ocpp").info("frame with an id tag")  # kept below WARNING
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
        assert len(lines) == 1
        assert lines[0]["event"] == "charger_booted"
        assert (lines[0]["charge_point_id"], lines[0]["protocol"], lines[0]["level"]) == (
            "CP-9",
            "ocpp1.6",
            "info",
        )
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
