"""``sentinel-dashboard admin``: bootstrap a tenant, project and key from a shell; the results work over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from sentinel_config import ControlSettings, LogSettings
from sentinel_control import KeyResolver, SecretHasher, SqliteControlStore
from sentinel_dashboard.app import create_app
from sentinel_dashboard.settings import Settings

SECRET = "admin-cli-test-secret-0123456789-abcdefghijk"
BIN = Path(sys.executable).parent


def admin(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "sentinel-dashboard"), "admin", *args],
        env={**os.environ, "SENTINEL_CONTROL_SQLITE_PATH": str(db), "SENTINEL_CONTROL_HASH_SECRET": SECRET},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    body: dict[str, Any] = json.loads(result.stdout)
    return body


async def test_bootstrap_tenant_project_and_key_from_the_shell(tmp_path: Path) -> None:
    db = tmp_path / "control.db"
    tenant = ok(admin(db, "create-tenant", "Acme"))
    assert tenant["tenant_id"].startswith("ten_")
    assert tenant["token"].startswith("sdt_")
    project = ok(admin(db, "create-project", "--tenant", tenant["tenant_id"], "shop", "--retention-days", "7"))
    assert (project["name"], project["retention_days"]) == ("shop", 7)
    key = ok(admin(db, "create-key", "--tenant", tenant["tenant_id"], "--project", project["id"]))
    assert key["key"].startswith("snt_")

    store = SqliteControlStore(db)
    await store.setup()
    try:
        resolution = await KeyResolver(store, SecretHasher(SECRET)).resolve(key["key"])
        assert resolution is not None
        assert (resolution.project_id, resolution.retention_days) == (project["id"], 7)
    finally:
        await store.close()

    settings = Settings(control=ControlSettings(sqlite_path=str(db), hash_secret=SECRET), log=LogSettings())
    async with AsyncTestClient(create_app(settings)) as client:
        response = await client.get("/api/projects", headers={"Authorization": f"Bearer {tenant['token']}"})
    assert [p["id"] for p in response.json()["items"]] == [project["id"]]

    revoked = ok(admin(db, "revoke-key", "--tenant", tenant["tenant_id"], "--project", project["id"], key["id"]))
    assert revoked["revoked"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create-project", "--tenant", "nope", "shop"), "is not a ten_ id"),
        (("create-project", "--tenant", "ten_" + "a" * 22, "shop"), "no tenant"),
        (("create-key", "--tenant", "ten_" + "a" * 22, "--project", "prj_" + "b" * 22), "no project"),
    ],
)
def test_problems_are_one_line_and_status_1(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = admin(tmp_path / "c.db", *args)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert message in lines[0]
