"""Helpers for the tests of scripts, layers, cost and state: an app on real engines, tenants and projects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from sentinel_config import ControlSettings, LogSettings, RedisSettings
from sentinel_control import new_id, open_control_store
from sentinel_dashboard.settings import Settings
from sentinel_dashboard.tokens.service import create_tenant, issue_token

HASH_SECRET = "layers-test-secret-0123456789-abcdefghijkl"  # noqa: S105 - tests only


class Login(msgspec.Struct):
    """A tenant and one of its dashboard tokens."""

    id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def layers_settings(tmp_path: Path, redis_url: str, **sections: Any) -> Settings:
    """Settings on a SQLite control store in ``tmp_path`` and the given Redis; ``sections`` replace others."""
    control = ControlSettings(backend="sqlite", sqlite_path=str(tmp_path / "control.db"), hash_secret=HASH_SECRET)
    return Settings(redis=RedisSettings(url=redis_url), control=control, log=LogSettings(format="json"), **sections)


async def new_tenant(settings: Settings, name: str = "tenant", *, scopes: tuple[str, ...] = ()) -> Login:
    """A tenant with an admin token, or a token of ``scopes`` when given (through a second store handle)."""
    from sentinel_control import hasher_from

    store = open_control_store(settings.control, settings.aws)
    await store.setup()
    hasher = hasher_from(settings.control)
    try:
        tenant, token = await create_tenant(store, hasher, name)
        if scopes:
            token = await issue_token(store, hasher, tenant.id, "scoped", scopes)  # type: ignore[arg-type]
        return Login(id=tenant.id, token=token.token)
    finally:
        await store.close()


async def new_project(client: Any, login: Login) -> str:
    """A project of ``login``'s tenant, created over HTTP; its id."""
    response = await client.post("/api/projects", json={"name": f"p-{new_id('prj')[-6:]}"}, headers=login.headers)
    assert response.status_code == 201, response.text
    project_id: str = response.json()["id"]
    return project_id
