"""Layer figures against the real engine: sources, tables, month ingest and apportioned storage."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from typing import Any

from sentinel_analytics import ClickHouseStore, decode_stored, group_token
from sentinel_analytics.layers import LayersReader
from sentinel_analytics.testing import make_batch
from sentinel_config import ClickHouseSettings
from sentinel_queue import QueuedBatch, encode_entry

NOW = int(time.time() * 1000)
MONTH = datetime.fromtimestamp(NOW / 1000, UTC).strftime("%Y-%m")


async def _write(store: ClickHouseStore, batches: list[QueuedBatch]) -> None:
    for batch in batches:
        await store.write(group_token([str(batch.batch_id)]), [decode_stored(encode_entry(batch), 30)])


def _batches(project_id: str, count: int, events: int, seed: int) -> list[QueuedBatch]:
    rng = random.Random(seed)
    return [
        make_batch(rng, project_id=project_id, events=events, now_ms=NOW - i * 1000, spread_ms=30_000)
        for i in range(count)
    ]


async def test_layer_figures_match_what_was_written(
    ch_store: ClickHouseStore, ch_settings: ClickHouseSettings, ch_client: Any
) -> None:
    big, small = _batches("big", 8, 200, 1), _batches("small", 2, 100, 2)
    await _write(ch_store, big + small)
    reader = LayersReader(ch_settings)
    try:
        assert await reader.ping()

        sources = await reader.sources("big", NOW + 1000)
        by_source = {(s.service, s.environment): s for s in sources}
        expected_keys = {(b.service, b.environment) for b in big}
        assert set(by_source) == expected_keys
        for key, figures in by_source.items():
            mine = [b for b in big if (b.service, b.environment) == key]
            events = sum(len(b.events) for b in mine)
            lost = sum(
                b.dropped.queue_full + b.dropped.send_failed + b.dropped.oversize + b.dropped.shutdown for b in mine
            )
            assert (figures.events_24h, figures.lost_24h) == (events, lost)
            assert figures.last_seen_ms == max(b.received_at for b in mine)
            assert figures.events_per_min == round(events / 5, 3)  # every batch arrived in the last 5 minutes
            expected_ratio = round(lost / (events + lost), 6) if events + lost else 0.0
            assert figures.loss_ratio == expected_ratio
        assert await reader.sources("nobody", NOW) == []

        tables = {t.name: t for t in await reader.tables("big")}
        assert {"events", "batches", "requests_1m", "sdk_loss_1m"} <= set(tables)
        assert tables["events"].rows == 8 * 200
        assert tables["batches"].rows == 8
        assert (tables["events"].kind, tables["requests_1m"].kind) == ("raw", "rollup")
        newest = max(e.timestamp for b in big for e in b.events)
        assert tables["events"].last_at_ms == newest
        assert tables["batches"].last_at_ms == max(b.received_at for b in big)
        assert (tables["events"].bucket_ms, tables["requests_1m"].bucket_ms) == (0, 60_000)
        assert (tables["endpoints_1h"].bucket_ms, tables["consumers_1d"].bucket_ms) == (3_600_000, 86_400_000)
        assert (
            tables["consumers_1d"].last_at_ms
            == max(e.timestamp for b in big for e in b.events) // 86_400_000 * 86_400_000
        )

        assert await reader.month_ingest("big", MONTH) == (1600, 8)
        assert await reader.month_ingest("big", "2001-01") == (0, 0)

        big_storage = await reader.storage("big", MONTH)
        small_storage = await reader.storage("small", MONTH)
        assert big_storage.rows_by_table["events"] == 1600
        assert big_storage.by_table["events"] > small_storage.by_table["events"] > 0
        # Apportioning splits each partition's bytes between its projects: together they make the whole.
        parts = await ch_client.query(
            "SELECT table, sum(data_compressed_bytes) FROM system.parts "
            "WHERE database = currentDatabase() AND active GROUP BY table"
        )
        totals = dict(parts.result_rows)
        for table in ("events", "batches"):
            together = big_storage.by_table[table] + small_storage.by_table[table]
            assert abs(together - totals[table]) <= 2
        assert (await reader.storage("big", "2001-01")).total_bytes == 0
    finally:
        await reader.close()
