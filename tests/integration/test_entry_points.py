"""Each service's console script: bad configuration stops it with one line; good configuration serves health."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from sentinel_local import RedisEngine, free_port

BIN = Path(sys.executable).parent
SERVICES = {"ingest": "SENTINEL_INGEST_PORT", "worker": "SENTINEL_WORKER_PORT", "dashboard": "SENTINEL_DASHBOARD_PORT"}
HASH_SECRET = "entry-point-test-secret-0123456789abcdefgh"


@pytest.mark.parametrize("service", list(SERVICES))
def test_bad_setting_stops_the_service_with_one_line(service: str) -> None:
    result = subprocess.run(
        [str(BIN / f"sentinel-{service}")],
        env={**os.environ, "SENTINEL_REDIS_URL": "http://not-redis"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"sentinel-{service}: configuration error: SENTINEL_REDIS_URL: must be a redis:// or rediss:// or unix:// "
        "URL, got 'http://not-redis'"
    ]


@pytest.mark.parametrize(
    ("service", "server"), [("ingest", "uvicorn"), ("ingest", "granian"), ("worker", ""), ("dashboard", "uvicorn")]
)
def test_service_serves_health_and_stops_on_sigterm(
    service: str, server: str, redis_server: RedisEngine, tmp_path: Path
) -> None:
    port = free_port()
    server_choice = {f"SENTINEL_{service.upper()}_SERVER": server} if server else {}
    process = subprocess.Popen(
        [str(BIN / f"sentinel-{service}")],
        env={
            **os.environ,
            "SENTINEL_REDIS_URL": redis_server.url,
            "SENTINEL_CONTROL_HASH_SECRET": HASH_SECRET,
            "SENTINEL_CONTROL_SQLITE_PATH": str(tmp_path / "control.db"),
            SERVICES[service]: str(port),
            **server_choice,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline and status is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                    status = response.status
            except OSError:
                time.sleep(0.2)
        assert status == 200
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert '"service": "' + service + '"' in output


def test_dashboard_without_a_server_secret_stops_with_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SENTINEL_CONTROL_HASH_SECRET"}
    result = subprocess.run(
        [str(BIN / "sentinel-dashboard")],
        env={**env, "SENTINEL_CONTROL_SQLITE_PATH": str(tmp_path / "c.db")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("sentinel-dashboard: configuration error: SENTINEL_CONTROL_HASH_SECRET: required")
