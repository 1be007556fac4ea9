"""Worker test fixtures: a fresh Redis database and ClickHouse database per test."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

from sentinel_analytics.fixtures import ch_client, ch_settings
from sentinel_local import RedisEngine
from sentinel_worker.testing import Queue

__all__ = ["ch_client", "ch_settings", "queue"]

_databases = itertools.cycle(range(1, 16))  # db 0 belongs to other suites sharing the session's redis-server


@pytest.fixture
async def queue(redis_server: RedisEngine) -> AsyncIterator[Queue]:
    url = redis_server.url.rsplit("/", 1)[0] + f"/{next(_databases)}"
    client = redis.Redis.from_url(url)
    await client.flushdb()
    yield Queue(url, client)
    await client.flushdb()
    await client.aclose()
