"""``sentinel-local dev`` (what ``make dev`` runs): everything starts, a crash is restarted, Ctrl-C leaves nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest


def wait_for(predicate, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception:
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def healthy(url: str) -> bool:
    with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
        return bool(response.status == 200)


def gone(pid: int) -> bool:
    return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


@pytest.fixture
def dev_stack(tmp_path: Path):  # type: ignore[no-untyped-def]
    program = Path(sys.executable).parent / "sentinel-local"
    process = subprocess.Popen(
        [str(program), "--dir", str(tmp_path), "dev", "--any-free-port"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "SENTINEL_LOG_FORMAT": "json"},
    )
    try:
        yield process, tmp_path / "dev.json"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_dev_runs_engines_and_services_then_ctrl_c_leaves_no_process(dev_stack) -> None:  # type: ignore[no-untyped-def]
    process, dev_json = dev_stack
    info = wait_for(lambda: dev_json.exists() and json.loads(dev_json.read_text()), 90, "dev.json")
    for key in ("ingest_url", "dashboard_url", "worker_url"):
        wait_for(lambda key=key: healthy(info[key]), 30, f"{key} to answer /healthz")
    assert set(info["pids"]) == {"redis", "clickhouse", "ingest", "worker", "dashboard"}

    # A crashed service is reported and restarted.
    worker_pid = info["pids"]["worker"]
    os.kill(worker_pid, signal.SIGKILL)
    restarted = wait_for(
        lambda: (pid := json.loads(dev_json.read_text())["pids"]["worker"]) != worker_pid and pid, 30, "a new worker"
    )
    wait_for(lambda: healthy(info["worker_url"]), 30, "the restarted worker to answer")

    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=60)[0].decode()
    assert process.returncode == 0, output
    assert "worker exited with status -9; restarting" in output
    pids = [*json.loads(dev_json.read_text())["pids"].values(), restarted]
    wait_for(lambda: all(gone(pid) for pid in pids), 10, "every process to be gone")
