"""Lint, format and strict typing are part of the test suite, so the README's one test
command checks them too (asyncpg's tests do the same)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_ruff_check() -> None:
    result = _run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    result = _run("ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict() -> None:
    result = _run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_layering() -> None:
    """billing and smartcar_bridge never import csms or each other; simulators import none
    of our packages."""
    rules = {
        "billing": ("csms", "smartcar_bridge", "simulators"),
        "smartcar_bridge": ("csms", "billing", "simulators"),
        "simulators": ("csms", "billing", "smartcar_bridge"),
    }
    offenders = []
    for package, forbidden in rules.items():
        for path in (ROOT / package).rglob("*.py"):
            for line in path.read_text().splitlines():
                words = line.strip().split()
                if (
                    len(words) >= 2
                    and words[0] in ("import", "from")
                    and words[1].split(".")[0] in forbidden
                ):
                    offenders.append(f"{path.relative_to(ROOT)}: {line.strip()}")
    assert offenders == []
