"""A freshly migrated ClickHouse database per test, on the session's ClickHouse engine."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sentinel_analytics import ClickHouseStore
from sentinel_analytics.fixtures import ch_client, ch_settings
from sentinel_config import ClickHouseSettings

__all__ = ["ch_client", "ch_settings"]


@pytest.fixture
async def ch_store(ch_settings: ClickHouseSettings) -> AsyncIterator[ClickHouseStore]:
    store = await ClickHouseStore.open(ch_settings)
    yield store
    await store.close()
