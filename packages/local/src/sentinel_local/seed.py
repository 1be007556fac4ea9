"""Demo credentials for ``make dev``: a tenant, a project, an ingest key and a dashboard token.

Created once through the dashboard's own admin command line and kept in ``.sentinel/dev.json`` (readable by the
owner only), so that re-running ``make dev`` keeps the data and the credentials. Secrets are stored hashed on the
server side: this file is the only place the demo's clear-text key and token live.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sentinel_local._process import venv_bin

CREDENTIALS = ("tenant_id", "dashboard_token", "project_id", "ingest_key")


def _admin(env: Mapping[str, str], *args: str) -> dict[str, Any]:
    program = venv_bin("sentinel-dashboard") or "sentinel-dashboard"
    result = subprocess.run(
        [program, "admin", *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"sentinel-dashboard admin {args[0]} failed: {result.stderr.strip()}")
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def _still_valid(dashboard_url: str, info: Mapping[str, Any]) -> bool:
    request = urllib.request.Request(  # noqa: S310 - the local dashboard
        f"{dashboard_url}/api/projects/{info['project_id']}",
        headers={"Authorization": f"Bearer {info['dashboard_token']}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - the local dashboard
            return bool(response.status == 200)
    except urllib.error.HTTPError:
        return False


def wait_healthy(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):  # noqa: S310 - a local service
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer /healthz within {timeout:.0f} s")


def ensure_demo(dev_json: Path, dashboard_url: str, env: Mapping[str, str]) -> tuple[dict[str, Any], bool]:
    """The demo credentials, reused when they still work, else created. Returns (credentials, created)."""
    current: dict[str, Any] = json.loads(dev_json.read_text()) if dev_json.exists() else {}
    wait_healthy(dashboard_url)
    if all(current.get(name) for name in CREDENTIALS) and _still_valid(dashboard_url, current):
        return {name: current[name] for name in CREDENTIALS}, False
    tenant = _admin(env, "create-tenant", "Demo")
    project = _admin(env, "create-project", "--tenant", tenant["tenant_id"], "demo")
    key = _admin(env, "create-key", "--tenant", tenant["tenant_id"], "--project", project["id"], "--name", "dev")
    credentials = {
        "tenant_id": tenant["tenant_id"],
        "dashboard_token": tenant["token"],
        "project_id": project["id"],
        "ingest_key": key["key"],
    }
    return credentials, True


def write_private_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` as JSON readable by the owner only."""
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(json.dumps(data, indent=2) + "\n")
