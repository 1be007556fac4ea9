"""An ingest app per test: a real Redis (its own database, flushed), a real SQLite control store, a project
and an ingest key."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis
from ingest_helpers import HASH_SECRET, REDIS_DB, Stack, settings_for
from litestar.testing import AsyncTestClient

from sentinel_control import ControlStore, SecretHasher, SqliteControlStore
from sentinel_control.testing import make_key, make_project, make_tenant
from sentinel_ingest.app import create_app
from sentinel_local import RedisEngine

StackFactory = Callable[..., Any]


@pytest.fixture
async def make_stack(tmp_path: Path, redis_server: RedisEngine) -> AsyncIterator[StackFactory]:
    """Build a stack; keyword arguments go to the project (rate limits) or, prefixed ``ingest_``, to settings."""
    opened: list[tuple[AsyncTestClient, redis.Redis, ControlStore]] = []  # type: ignore[type-arg]

    async def build(redis_url: str | None = None, **options: Any) -> Stack:
        url = redis_url or f"{redis_server.url.rsplit('/', 1)[0]}/{REDIS_DB}"
        direct = redis.Redis.from_url(url)
        if redis_url is None:
            await direct.flushdb()
        db_path = tmp_path / f"control-{len(opened)}.db"
        store = SqliteControlStore(db_path)
        await store.setup()
        hasher = SecretHasher(HASH_SECRET)
        tenant = await make_tenant(store)
        project_fields = {k: v for k, v in options.items() if not k.startswith("ingest_")}
        ingest = {k.removeprefix("ingest_"): v for k, v in options.items() if k.startswith("ingest_")}
        project = await make_project(store, tenant, **project_fields)
        key, _ = await make_key(store, hasher, project)
        settings = settings_for(url, db_path, **ingest)
        client = AsyncTestClient(create_app(settings))
        await client.__aenter__()
        opened.append((client, direct, store))
        return Stack(
            client=client, redis=direct, store=store, hasher=hasher, project=project, key=key, settings=settings
        )

    yield build
    for client, direct, store in opened:
        await client.__aexit__(None, None, None)
        await direct.aclose()
        await store.close()


@pytest.fixture
async def stack(make_stack: StackFactory) -> Stack:
    built: Stack = await make_stack()
    return built
