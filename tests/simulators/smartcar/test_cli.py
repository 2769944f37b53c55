"""``python -m simulators.smartcar``: help, and a real run on a loopback port."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from simulators.smartcar.cli import build_parser, config_from

ROOT = Path(__file__).resolve().parents[3]


def test_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "simulators.smartcar", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0
    for option in ("--port", "--host", "--client-id", "--client-secret", "--redirect-uri"):
        assert option in result.stdout
    assert "--vehicles" in result.stdout
    assert "--webhook-url" in result.stdout


def test_arguments_make_the_config() -> None:
    args = build_parser().parse_args(
        [
            "--client-id", "ID", "--client-secret", "S",
            "--redirect-uri", "http://a/cb", "--redirect-uri", "http://b/cb",
            "--vehicles", "3", "--webhook-url", "http://w/hook", "--no-rate-limits",
        ]
    )  # fmt: skip
    config = config_from(args)
    assert config.redirect_uris == ["http://a/cb", "http://b/cb"]
    assert (config.vehicles, config.webhook_url) == (3, "http://w/hook")
    assert config.rate_limit_app_per_s is None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.slow
async def test_runs_with_n_vehicles() -> None:
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulators.smartcar", "--port", str(port),
        "--client-id", "ID", "--client-secret", "SECRET",
        "--redirect-uri", "http://127.0.0.1/cb", "--vehicles", "3",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        banner = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert f":{port}" in banner.decode()
        async with aiohttp.ClientSession() as http:
            listed = await (await http.get(f"http://127.0.0.1:{port}/_sim/vehicles")).json()
            assert len(listed["items"]) == 3
            resp = await http.get(
                f"http://127.0.0.1:{port}/oauth/authorize",
                params={"response_type": "code", "client_id": "ID", "mode": "test"},
                allow_redirects=False,
            )
            assert resp.status == 302
            assert resp.headers["Location"].startswith("http://127.0.0.1/cb?code=")
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0
