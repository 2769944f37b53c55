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
    assert "3 of 3 sessions completed and stored; 3 billed" in out
    rows = [line for line in out.splitlines() if line.startswith("DEMO-CP-")]
    assert len(rows) == 3
    assert {row.split()[1] for row in rows} == {"ocpp1.6", "ocpp2.0.1"}
    assert all("EUR" in row and "captured" in row for row in rows)
