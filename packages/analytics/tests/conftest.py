"""A freshly migrated ClickHouse database per test, on the session's ClickHouse engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from sentinel_analytics import ClickHouseStore, create_client
from sentinel_analytics.testing import drop_database, fresh_database
from sentinel_config import ClickHouseSettings
from sentinel_local import ClickHouseEngine


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


@pytest.fixture
async def ch_store(ch_settings: ClickHouseSettings) -> AsyncIterator[ClickHouseStore]:
    store = await ClickHouseStore.open(ch_settings)
    yield store
    await store.close()
