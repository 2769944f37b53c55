"""The main job, as a user runs it: ``csms demo`` finishes by itself, exits 0, and every
session is stored and billed."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_demo_runs_end_to_end() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "csms", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "7 of 7 sessions completed; 7 billed to the right driver" in out
    rows = [line for line in out.splitlines() if line.startswith("DEMO-CP-")]
    assert len(rows) == 7
    by_driver = {row.split()[4]: row for row in rows}
    # Alone at their chargers: matched through Smartcar, charged to target, captured.
    for name in ("Alice", "Bob"):
        assert "smartcar_plug_state" in by_driver[name] or "autocharge_tag" in by_driver[name]
    assert sum("autocharge_tag" in row for row in rows) == 1  # Bob's second visit
    assert "OK" in by_driver["Alice"]
    assert "captured" in by_driver["Alice"]
    assert "METER_HIGH" in by_driver["Carol"]
    assert "awaiting_review" in by_driver["Carol"]
    # Neighbours plugging in together and the unlinked car fall back to RFID.
    for name in ("Dave", "Erin", "Frank"):
        assert "RFID (" in by_driver[name]
    assert "no_candidate" in by_driver["Frank"]
