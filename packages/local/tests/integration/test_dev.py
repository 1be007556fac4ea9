"""``sentinel-local dev`` (what ``make dev`` runs): everything starts, a crash is restarted, Ctrl-C leaves nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
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


def start_dev(root: Path) -> subprocess.Popen[bytes]:
    program = Path(sys.executable).parent / "sentinel-local"
    return subprocess.Popen(
        [str(program), "--dir", str(root), "dev", "--any-free-port"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "SENTINEL_LOG_FORMAT": "json"},
    )


@pytest.fixture
def dev_stack(tmp_path: Path):  # type: ignore[no-untyped-def]
    process = start_dev(tmp_path)
    try:
        yield process, tmp_path / "dev.json"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def ingest_one(info: dict[str, object]) -> int:
    batch = {
        "batch_id": str(uuid.uuid4()),
        "sent_at": int(time.time() * 1000),
        "sdk": {"name": "test", "version": "1"},
        "events": [
            {
                "event_id": str(uuid.uuid4()),
                "timestamp": int(time.time() * 1000),
                "method": "GET",
                "path": "/",
                "status": 200,
                "duration_ms": 1.0,
            }
        ],
    }
    request = urllib.request.Request(
        f"{info['ingest_url']}/v1/events/batch",
        data=json.dumps(batch).encode(),
        headers={"Authorization": f"Bearer {info['ingest_key']}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def test_dev_runs_engines_and_services_then_ctrl_c_leaves_no_process(dev_stack) -> None:  # type: ignore[no-untyped-def]
    process, dev_json = dev_stack
    info = wait_for(lambda: dev_json.exists() and json.loads(dev_json.read_text()).get("ingest_key"), 90, "dev.json")
    info = json.loads(dev_json.read_text())
    assert dev_json.stat().st_mode & 0o077 == 0  # the demo's secrets are readable by the owner only
    for key in ("ingest_url", "dashboard_url", "worker_url"):
        wait_for(lambda key=key: healthy(info[key]), 30, f"{key} to answer /healthz")
    assert set(info["pids"]) == {"redis", "clickhouse", "ingest", "worker", "dashboard"}
    assert ingest_one(info) == 202

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


def test_rerunning_dev_keeps_data_and_credentials(tmp_path: Path) -> None:
    credentials = ("tenant_id", "dashboard_token", "project_id", "ingest_key")
    seen = []
    for _ in range(2):
        process = start_dev(tmp_path)
        dev_json = tmp_path / "dev.json"

        def ready(path: Path = dev_json) -> bool:
            info = json.loads(path.read_text()) if path.exists() else {}
            return bool(info.get("ingest_key") and info.get("pids") and info.get("dashboard_token"))

        try:
            wait_for(ready, 90, "dev.json of this run")
            info = json.loads(dev_json.read_text())
            seen.append({name: info[name] for name in credentials})
            wait_for(lambda info=info: healthy(info["ingest_url"]), 30, "ingest")
            assert ingest_one(info) == 202
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            # the next run must not find the previous run's pids in its fresh dev.json
            (tmp_path / "dev.json").write_text(json.dumps({k: v for k, v in info.items() if k != "pids"}))
    assert seen[0] == seen[1]
