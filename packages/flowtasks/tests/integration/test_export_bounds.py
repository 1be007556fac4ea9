"""The analysis export against the ClickHouse engine: every event of the window, or a clear refusal."""

from __future__ import annotations

import json
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from sentinel_analytics import ClickHouseStore, create_client, decode_stored, group_token
from sentinel_analytics.testing import drop_database, fresh_database, make_batch
from sentinel_config import ClickHouseSettings
from sentinel_flowtasks.export import ExportTooLarge, export_events
from sentinel_local import ClickHouseEngine
from sentinel_queue import encode_entry

NOW = int(time.time() * 1000)
HOUR = 3_600_000


@pytest.fixture
async def client(clickhouse_server: ClickHouseEngine) -> AsyncIterator[Any]:
    settings: ClickHouseSettings = await fresh_database(clickhouse_server.url)
    batch = make_batch(random.Random(3), project_id="prj_export", events=40, now_ms=NOW, spread_ms=HOUR // 2)
    store = await ClickHouseStore.open(settings)
    try:
        await store.write(group_token([str(batch.batch_id)]), [decode_stored(encode_entry(batch), 30)])
    finally:
        await store.close()
    ch = await create_client(settings)
    yield ch
    await ch.close()
    await drop_database(settings)


async def test_the_window_is_exported_whole_at_the_limits(client: Any) -> None:
    body, rows = await export_events(client, "prj_export", NOW - HOUR, NOW + 1, max_rows=40, max_bytes=10_000_000)
    assert rows == 40
    lines = [json.loads(line) for line in body.splitlines()]
    assert len({line["event_id"] for line in lines}) == 40
    assert [line["timestamp"] for line in lines] == sorted(line["timestamp"] for line in lines)


async def test_a_window_over_the_bounds_is_refused_before_it_is_held(client: Any) -> None:
    with pytest.raises(ExportTooLarge, match="holds 40 events, over the 39"):
        await export_events(client, "prj_export", NOW - HOUR, NOW + 1, max_rows=39, max_bytes=10_000_000)
    with pytest.raises(ExportTooLarge, match="MB"):
        await export_events(client, "prj_export", NOW - HOUR, NOW + 1, max_rows=40, max_bytes=1_000)
    # another project's window, and an empty one, export nothing
    assert await export_events(client, "prj_other", NOW - HOUR, NOW + 1, max_rows=1, max_bytes=1_000) == (b"", 0)
