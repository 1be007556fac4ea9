"""Pytest fixtures over the session's ClickHouse engine; import them into a ``conftest.py`` to use them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from sentinel_analytics.clickhouse_client import create_client
from sentinel_analytics.testing import drop_database, fresh_database
from sentinel_config import ClickHouseSettings
from sentinel_local import ClickHouseEngine


@pytest.fixture
async def ch_settings(clickhouse_server: ClickHouseEngine) -> AsyncIterator[ClickHouseSettings]:
    """A freshly migrated database with a unique name, dropped after the test."""
    settings = await fresh_database(clickhouse_server.url)
    yield settings
    await drop_database(settings)


@pytest.fixture
async def ch_client(ch_settings: ClickHouseSettings) -> AsyncIterator[Any]:
    """An async clickhouse-connect client on ``ch_settings``' database."""
    client = await create_client(ch_settings)
    yield client
    await client.close()
