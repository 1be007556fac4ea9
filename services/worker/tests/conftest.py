"""Worker test fixtures: a fresh Redis database and ClickHouse database per test."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as redis

from sentinel_analytics import create_client
from sentinel_analytics.testing import drop_database, fresh_database
from sentinel_config import ClickHouseSettings
from sentinel_local import ClickHouseEngine, RedisEngine
from sentinel_worker.testing import Queue

_databases = itertools.cycle(range(1, 16))  # db 0 belongs to other suites sharing the session's redis-server


@pytest.fixture
async def queue(redis_server: RedisEngine) -> AsyncIterator[Queue]:
    url = redis_server.url.rsplit("/", 1)[0] + f"/{next(_databases)}"
    client = redis.Redis.from_url(url)
    await client.flushdb()
    yield Queue(url, client)
    await client.flushdb()
    await client.aclose()


@pytest.fixture
async def ch_settings(clickhouse_server: ClickHouseEngine) -> AsyncIterator[ClickHouseSettings]:
    settings = await fresh_database(clickhouse_server.url)
    yield settings
    await drop_database(settings)


@pytest.fixture
async def ch_client(ch_settings: ClickHouseSettings) -> AsyncIterator[Any]:
    client = await create_client(ch_settings)
    yield client
    await client.close()
