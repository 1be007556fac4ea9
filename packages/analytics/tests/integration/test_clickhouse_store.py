"""The ClickHouse write path against the real engine: fields intact, exactly-once per token, rollups agree."""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import datetime
from typing import Any

import pytest

from sentinel_analytics import ClickHouseStore, StoredBatch, decode_stored, group_token
from sentinel_analytics.queries import loss_totals, overview, row_count
from sentinel_analytics.testing import make_batch, window_around
from sentinel_queue import QueuedBatch, encode_entry

NOW = int(time.time() * 1000)
WINDOW = window_around(NOW)


def stored(batch: QueuedBatch, retention_days: int = 30) -> StoredBatch:
    return decode_stored(encode_entry(batch), retention_days)


async def snapshot(client: Any, project_id: str) -> dict[str, Any]:
    return {
        "events": await row_count(client, "events", project_id),
        "batches": await row_count(client, "batches", project_id),
        "raw": await overview(client, project_id, *WINDOW, source="events"),
        "1m": await overview(client, project_id, *WINDOW, source="requests_1m"),
        "1h": await overview(client, project_id, *WINDOW, source="requests_1h"),
        "loss": await loss_totals(client, project_id, *WINDOW),
        "read rollups": await read_rollups(client, project_id),
    }


async def read_rollups(client: Any, project_id: str) -> dict[str, tuple[Any, ...]]:
    """Requests, errors and a latency figure of each narrower rollup the dashboard reads."""
    out = {}
    for table in (
        *("project_1m", "project_1h", "endpoints_1h", "endpoints_1d", "consumers_1h", "consumers_1d"),
        *("consumers_all_1d", "consumers_all_1w"),
    ):
        named = " AND consumer_id != ''" if table.startswith("consumers") else ""  # '' holds anonymous requests
        result = await client.query(
            f"SELECT sum(requests), sum(errors_4xx), sum(errors_5xx), quantileTDigestMerge(0.9)(duration_q) "  # noqa: S608
            f"FROM {table} WHERE project_id = {{p:String}}{named}",
            parameters={"p": project_id},
        )
        out[table] = result.result_rows[0]
    return out


def _ms(value: datetime) -> int:
    return round(value.timestamp() * 1000)


async def test_every_field_of_every_event_arrives_intact(ch_store: ClickHouseStore, ch_client: Any) -> None:
    rng = random.Random(1)
    batch = make_batch(rng, project_id="intact", events=50, now_ms=NOW, full=True, retention_days=7)
    batch.events[0].consumer = None
    batch.events[1].route = None
    batch.events[2].request_headers = None
    await ch_store.write(group_token([str(batch.batch_id)]), [stored(batch)])

    result = await ch_client.query(
        "SELECT * FROM events WHERE project_id = {p:String} ORDER BY event_id", parameters={"p": "intact"}
    )
    rows = {row["event_id"]: row for row in result.named_results()}
    assert len(rows) == len(batch.events)
    for event in batch.events:
        row = rows[event.event_id]
        assert _ms(row["timestamp"]) == event.timestamp
        assert (row["method"], row["path"], row["route"], row["status"]) == (
            event.method,
            event.path,
            event.route,
            event.status,
        )
        assert row["duration_ms"] == event.duration_ms
        assert row["ttfb_ms"] == event.ttfb_ms
        assert (row["request_size"], row["response_size"]) == (event.request_size, event.response_size)
        assert (row["client_ip"], row["user_agent"]) == (event.client_ip, event.user_agent)
        consumer = event.consumer
        assert (row["consumer_id"], row["consumer_name"], row["consumer_group"]) == (
            (consumer.id, consumer.name, consumer.group) if consumer else (None, None, None)
        )
        assert row["attributes"] == event.attributes
        for name in ("request_headers", "response_headers"):
            value = row[name]
            assert (json.loads(value) if value is not None else None) == getattr(event, name)
        assert (row["request_body"], row["response_body"], row["error"], row["trace_id"]) == (
            event.request_body,
            event.response_body,
            event.error,
            event.trace_id,
        )
        assert row["aborted"] == event.aborted
        assert (row["tenant_id"], row["batch_id"], _ms(row["received_at"])) == (
            batch.tenant_id,
            batch.batch_id,
            batch.received_at,
        )
        assert (row["service"], row["environment"], row["retention_days"]) == (batch.service, "production", 7)

    result = await ch_client.query("SELECT * FROM batches WHERE project_id = 'intact'")
    [row] = result.named_results()
    assert row["batch_id"] == batch.batch_id
    assert (row["sdk_name"], row["sdk_version"], row["sdk_runtime"]) == ("sentinel-python", "0.1.0", "CPython 3.11")
    assert row["events"] == 50
    assert row["sample_rate"] == batch.sample_rate
    assert (row["dropped_queue_full"], row["dropped_send_failed"]) == (
        batch.dropped.queue_full,
        batch.dropped.send_failed,
    )
    assert batch.overhead is not None
    assert (row["overhead_samples"], row["overhead_mean_us"], row["overhead_p99_us"]) == (100, 12.5, 40.25)


async def test_a_batch_without_overhead_or_retention_gets_nulls_and_the_default(
    ch_store: ClickHouseStore, ch_client: Any
) -> None:
    batch = make_batch(random.Random(2), project_id="defaults", events=3, now_ms=NOW)
    assert batch.overhead is None
    assert batch.retention_days == 0
    await ch_store.write("t-defaults", [stored(batch, retention_days=45)])
    result = await ch_client.query("SELECT overhead_samples, retention_days FROM batches WHERE project_id='defaults'")
    assert result.result_rows == [(None, 45)]


async def test_duplicate_batch_is_counted_once_in_raw_and_every_rollup(
    ch_store: ClickHouseStore, ch_client: Any
) -> None:
    rng = random.Random(3)
    batches = [make_batch(rng, project_id="dup", events=200, now_ms=NOW) for _ in range(3)]
    group = [stored(b) for b in batches]
    token = group_token([str(b.batch_id) for b in batches])

    await ch_store.write(token, group)
    once = await snapshot(ch_client, "dup")
    assert once["events"] == 600
    assert once["batches"] == 3
    assert once["raw"].requests == once["1m"].requests == once["1h"].requests == 600
    with_consumer = sum(1 for b in batches for e in b.events if e.consumer)
    for table, (requests, *_) in once["read rollups"].items():
        assert requests == (with_consumer if table.startswith("consumers") else 600), table

    await ch_store.write(token, group)  # redelivered: same batches, same token
    await ch_store.write(token, list(reversed(group)))  # same token even if read in another order
    assert await snapshot(ch_client, "dup") == once

    fresh = make_batch(rng, project_id="dup", events=10, now_ms=NOW)
    await ch_store.write(group_token([str(fresh.batch_id)]), [stored(fresh)])
    assert (await snapshot(ch_client, "dup"))["events"] == 610


async def test_rollups_agree_with_the_raw_table(ch_store: ClickHouseStore, ch_client: Any) -> None:
    rng = random.Random(4)
    batches = [make_batch(rng, project_id="agree", events=500, now_ms=NOW, spread_ms=600_000) for _ in range(6)]
    await ch_store.write("agree", [stored(b) for b in batches])
    figures = await snapshot(ch_client, "agree")
    raw, minute, hour = figures["raw"], figures["1m"], figures["1h"]
    exact = ("requests", "errors_4xx", "errors_5xx", "request_size_sum", "response_size_sum", "consumers")
    for name in exact:
        assert getattr(raw, name) == getattr(minute, name) == getattr(hour, name), name
    assert raw.duration_sum == pytest.approx(minute.duration_sum) == pytest.approx(hour.duration_sum)
    durations = sorted(e.duration_ms for b in batches for e in b.events)
    for quantile, got in ((0.5, minute.p50_ms), (0.95, minute.p95_ms), (0.99, hour.p99_ms)):
        assert got == pytest.approx(durations[int(quantile * len(durations))], rel=0.02)
    assert raw.requests == sum(1 for b in batches for _ in b.events)
    assert raw.errors_5xx == sum(1 for b in batches for e in b.events if e.status >= 500)
    consumers = {e.consumer.id for b in batches for e in b.events if e.consumer}
    assert raw.consumers == len(consumers)
    loss = figures["loss"]
    assert loss.batches == 6
    assert loss.events == 3000
    assert loss.queue_full == sum(b.dropped.queue_full for b in batches)


async def test_dead_letters_are_recorded_once_per_entry(ch_store: ClickHouseStore, ch_client: Any) -> None:
    from sentinel_analytics import DeadLetter

    letter = DeadLetter(
        stream="sentinel:events:{0}",
        entry_id="1700000000000-0",
        first_seen=1_700_000_000_000,
        dead_lettered_at=NOW,
        deliveries=6,
        error="not a batch",
        payload=b"\xff\x00garbage",
        batch_id=str(uuid.uuid4()),
    )
    await ch_store.write_dead_letters([letter])
    await ch_store.write_dead_letters([letter])
    result = await ch_client.query("SELECT entry_id, deliveries, error, lower(hex(payload)) FROM dead_letters FINAL")
    assert result.result_rows == [("1700000000000-0", 6, "not a batch", b"\xff\x00garbage".hex())]


async def test_the_landing_table_has_the_layout_the_encoder_writes(ch_store: ClickHouseStore) -> None:
    await ch_store.check_layout()
