"""A freshly migrated ClickHouse database per test, on the session's ClickHouse engine."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from sentinel_analytics import ClickHouseStore, create_client, migrate
from sentinel_config import ClickHouseSettings
from sentinel_local import ClickHouseEngine


@pytest.fixture
async def ch_settings(clickhouse_server: ClickHouseEngine) -> AsyncIterator[ClickHouseSettings]:
    settings = ClickHouseSettings(url=clickhouse_server.url, database=f"test_{uuid.uuid4().hex[:12]}")
    await migrate(settings)
    yield settings
    admin = await create_client(settings, with_database=False)
    try:
        await admin.command(f"DROP DATABASE IF EXISTS `{settings.database}` SYNC")
    finally:
        await admin.close()


@pytest.fixture
async def ch_client(ch_settings: ClickHouseSettings) -> AsyncIterator[Any]:
    client = await create_client(ch_settings)
    yield client
    await client.close()


@pytest.fixture
async def ch_store(ch_settings: ClickHouseSettings) -> AsyncIterator[ClickHouseStore]:
    store = await ClickHouseStore.open(ch_settings)
    yield store
    await store.close()
