"""A dashboard app per test on a real control store (SQLite, or DynamoDB Local) and a real Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from sentinel_config import ControlSettings, LogSettings, RedisSettings
from sentinel_control import ControlStore, SecretHasher, open_control_store
from sentinel_dashboard.app import create_app
from sentinel_dashboard.settings import Settings
from sentinel_dashboard.tokens.service import create_tenant
from sentinel_local import DynamoDBEngine, RedisEngine

HASH_SECRET = "dashboard-test-secret-0123456789-abcdefghij"


class Tenant(msgspec.Struct):
    id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def settings_for(backend: str, tmp_path: Path, redis: RedisEngine, dynamodb: DynamoDBEngine | None) -> Settings:
    control = ControlSettings(
        backend=backend,  # type: ignore[arg-type]
        sqlite_path=str(tmp_path / "control.db"),
        dynamodb_table=f"dash-{uuid.uuid4().hex[:12]}",
        dynamodb_endpoint_url=dynamodb.url if dynamodb else "",
        hash_secret=HASH_SECRET,
    )
    return Settings(redis=RedisSettings(url=redis.url), control=control, log=LogSettings(format="json"))


@pytest.fixture(params=["sqlite", "dynamodb"])
async def client(
    request: pytest.FixtureRequest, tmp_path: Path, redis_server: RedisEngine, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    dynamodb = request.getfixturevalue("dynamodb_server") if request.param == "dynamodb" else None
    if dynamodb is not None:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    app = create_app(settings_for(request.param, tmp_path, redis_server, dynamodb))
    async with AsyncTestClient(app) as test_client:
        yield test_client


@pytest.fixture
async def store(client: AsyncTestClient) -> AsyncIterator[ControlStore]:  # type: ignore[type-arg]
    """A second handle on the app's control store, usable from the test's own event loop."""
    settings = client.app.state.settings
    handle = open_control_store(settings.control, settings.aws)
    await handle.setup()
    try:
        yield handle
    finally:
        await handle.close()


@pytest.fixture
def hasher(client: AsyncTestClient) -> SecretHasher:  # type: ignore[type-arg]
    hasher: SecretHasher = client.app.state.hasher
    return hasher


async def _new_tenant(store: ControlStore, hasher: SecretHasher, name: str) -> Tenant:
    tenant, token = await create_tenant(store, hasher, name)
    return Tenant(id=tenant.id, token=token.token)


@pytest.fixture
async def tenant_a(store: ControlStore, hasher: SecretHasher) -> Tenant:
    return await _new_tenant(store, hasher, "A")


@pytest.fixture
async def tenant_b(store: ControlStore, hasher: SecretHasher) -> Tenant:
    return await _new_tenant(store, hasher, "B")
