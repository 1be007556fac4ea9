"""A fresh control store per test, on SQLite and on DynamoDB Local: the same contract for both."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sentinel_control import ControlStore, DynamoControlStore, SecretHasher, SqliteControlStore

SERVER_SECRET = "test-server-secret-that-is-long-enough-0123456789"


@pytest.fixture
def hasher() -> SecretHasher:
    return SecretHasher(SERVER_SECRET)


@pytest.fixture(params=["sqlite", "dynamodb"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ControlStore]:
    backend: ControlStore
    if request.param == "sqlite":
        backend = SqliteControlStore(tmp_path / "control.db")
    else:
        dynamodb = request.getfixturevalue("dynamodb_server")
        backend = DynamoControlStore(
            f"control-{uuid.uuid4().hex[:12]}",
            endpoint_url=dynamodb.url,
            access_key_id="test",
            secret_access_key="test",
        )
    await backend.setup()
    try:
        yield backend
    finally:
        await backend.close()
