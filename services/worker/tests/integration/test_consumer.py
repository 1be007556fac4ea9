"""The consumer against real Redis, the ClickHouse engine and a local archive directory."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import json
import random
import time
from pathlib import Path
from typing import Any

import msgspec
import redis.asyncio as redis

from sentinel_analytics import ClickHouseStore, DeadLetter, StoredBatch, read_archive
from sentinel_analytics.queries import overview, row_count
from sentinel_analytics.testing import make_batch, window_around
from sentinel_config import ClickHouseSettings
from sentinel_queue import DEAD_LETTER_STREAM, QueuedBatch, encode_entry, stream_key, tail_channel
from sentinel_queue.updates import channel
from sentinel_worker.consumer import Consumer
from sentinel_worker.groups import Group
from sentinel_worker.journal import Journal, index_key
from sentinel_worker.testing import Queue, count_events, running_consumer, wait_for, worker_settings

NOW = int(time.time() * 1000)
WINDOW = window_around(NOW)


def batches(n: int, project_id: str = "proj-1", events: int = 20, seed: int = 1) -> list[QueuedBatch]:
    rng = random.Random(seed)
    return [make_batch(rng, project_id=project_id, events=events, now_ms=NOW) for _ in range(n)]


async def figures(client: Any, project_id: str) -> dict[str, Any]:
    return {
        "events": await row_count(client, "events", project_id),
        "batches": await row_count(client, "batches", project_id),
        "raw": await overview(client, project_id, *WINDOW),
        "1m": await overview(client, project_id, *WINDOW, source="requests_1m"),
        "1h": await overview(client, project_id, *WINDOW, source="requests_1h"),
    }


async def test_batches_in_rows_out_archived_and_acknowledged(
    queue: Queue, ch_settings: ClickHouseSettings, ch_client: Any, tmp_path: Path
) -> None:
    sent = batches(30, project_id="p-a") + batches(30, project_id="p-b", seed=2)
    settings = worker_settings(queue, ch_settings, tmp_path / "archive")
    await queue.enqueue(sent)
    async with running_consumer(settings) as consumer:
        await wait_for(lambda: count_events(ch_client), what="600 + 600 events", timeout=60)
        await wait_for(lambda: _equals(count_events(ch_client), 1200), what="all events")
        await wait_for(lambda: _equals(queue.pending(), 0), what="every entry acknowledged")

    result = await ch_client.query("SELECT event_id FROM events")
    assert {row[0] for row in result.result_rows} == {e.event_id for b in sent for e in b.events}
    assert consumer.metrics.events_inserted_total == 1200
    assert consumer.metrics.batches_inserted_total == 60

    archived: list[StoredBatch] = []
    for path in sorted((tmp_path / "archive" / "bronze").rglob("*.ndjson.gz")):
        assert path.relative_to(tmp_path / "archive").parts[1].startswith("project=p-")
        assert path.parent.name.startswith("hour=")
        read, bad = read_archive(gzip.decompress(path.read_bytes()))
        assert bad == 0
        archived += read
    assert sorted(str(b.batch_id) for b in archived) == sorted(str(b.batch_id) for b in sent)
    original = {b.batch_id: b for b in sent}
    for batch in archived:
        copy = msgspec.convert(msgspec.to_builtins(batch), QueuedBatch)
        copy.retention_days = 0
        assert copy == original[batch.batch_id]
    for partition in range(4):  # nothing journaled is left behind
        assert await queue.client.hlen(index_key(partition)) == 0


async def _equals(value: Any, expected: Any) -> bool:
    return (await value) == expected


async def test_a_redelivered_insert_is_counted_once_everywhere(
    queue: Queue, ch_settings: ClickHouseSettings, ch_client: Any, tmp_path: Path
) -> None:
    """A consumer that dies after its insert and before acknowledging: another replays the same insert."""
    sent = batches(40, project_id="p-dup", events=25)
    settings = worker_settings(queue, ch_settings, tmp_path / "a")
    written = asyncio.Event()

    class DiesBeforeAck(Consumer):
        async def _finish(self, group: Group) -> None:
            written.set()
            await asyncio.Event().wait()  # never acknowledges, as if the process died here

    store = await ClickHouseStore.open(ch_settings)
    client = redis.Redis.from_url(queue.url)
    doomed = DiesBeforeAck(settings.worker, 4, client, store, _archive(tmp_path / "a"))
    await doomed.ensure_groups()
    stop = asyncio.Event()
    task = asyncio.create_task(doomed.run(stop))
    await queue.enqueue(sent)
    await asyncio.wait_for(written.wait(), timeout=60)
    await wait_for(lambda: _equals(count_events(ch_client, "p-dup"), 1000), what="the first insert")
    task.cancel()  # the process is gone: its entries stay pending, its group journaled
    await asyncio.gather(task, return_exceptions=True)
    assert await queue.pending() == 40
    once = await figures(ch_client, "p-dup")

    async with running_consumer(settings) as rescuer:
        await wait_for(lambda: _equals(queue.pending(), 0), what="the rescuer to acknowledge everything")
    assert rescuer.metrics.groups_replayed_total >= 1
    assert rescuer.metrics.entries_claimed_total >= 1
    assert await figures(ch_client, "p-dup") == once
    assert once["events"] == 1000
    assert once["batches"] == 40
    assert once["raw"].requests == once["1m"].requests == once["1h"].requests == 1000
    await client.aclose()
    await store.close()


def _archive(path: Path) -> Any:
    from sentinel_worker.archive import LocalArchive

    return LocalArchive(path)


async def test_poison_entries_go_to_the_dead_letter_stream_and_table(
    queue: Queue, ch_settings: ClickHouseSettings, ch_client: Any, tmp_path: Path
) -> None:
    good = batches(3, project_id="p-ok")
    await queue.enqueue(good)
    poison = await queue.client.xadd(stream_key(0), {b"d": b"\xc1 not msgpack"})
    no_field = await queue.client.xadd(stream_key(1), {b"x": b"1"})
    wrong_shape = await queue.client.xadd(stream_key(2), {b"d": msgspec.msgpack.encode({"project_id": 5})})
    settings = worker_settings(queue, ch_settings, tmp_path / "a")
    async with running_consumer(settings) as consumer:
        await wait_for(lambda: _equals(queue.pending(), 0), what="every entry acknowledged")
        await wait_for(lambda: _equals(count_events(ch_client, "p-ok"), 60), what="the good batches")
    assert consumer.metrics.dead_letters_total == 3

    letters = await queue.client.xrange(DEAD_LETTER_STREAM)
    by_id = {(fields[b"stream"], fields[b"entry_id"]): fields for _, fields in letters}
    expected = {
        (stream_key(0).encode(), poison),
        (stream_key(1).encode(), no_field),
        (stream_key(2).encode(), wrong_shape),
    }
    assert set(by_id) == expected
    assert by_id[stream_key(0).encode(), poison][b"payload"] == b"\xc1 not msgpack"
    assert by_id[stream_key(0).encode(), poison][b"error"].startswith(b"not a batch")
    assert b"no 'd' field" in by_id[stream_key(1).encode(), no_field][b"error"]
    assert b"$.project_id" in by_id[stream_key(2).encode(), wrong_shape][b"error"]
    result = await ch_client.query("SELECT stream, entry_id FROM dead_letters FINAL")
    assert {(s.encode(), i.encode()) for s, i in result.result_rows} == expected


async def test_an_entry_delivered_too_often_is_dead_lettered(
    queue: Queue, ch_settings: ClickHouseSettings, ch_client: Any, tmp_path: Path
) -> None:
    [batch] = batches(1, project_id="p-cursed")
    settings = worker_settings(queue, ch_settings, tmp_path / "a", max_deliveries=3)
    async with running_consumer(settings):
        pass  # creates the group
    [entry_id] = await queue.enqueue([batch])
    stream = stream_key(_partition("p-cursed"))
    await queue.client.xreadgroup("sentinel-workers", "ghost", {stream: ">"}, count=10)
    for _ in range(4):  # a consumer that keeps taking it and dying: 5 deliveries
        await queue.client.xclaim(stream, "sentinel-workers", "ghost", 0, [entry_id])
    async with running_consumer(settings) as consumer:
        await wait_for(lambda: _equals(queue.pending(), 0), what="the entry to be settled")
    assert consumer.metrics.dead_letters_total == 1
    assert await count_events(ch_client, "p-cursed") == 0
    result = await ch_client.query("SELECT entry_id, deliveries, error, project_id FROM dead_letters")
    [(dead_id, deliveries, error, project)] = result.result_rows
    assert (dead_id, project) == (entry_id, "")
    assert deliveries >= 6
    assert "without being stored" in error


def _partition(project_id: str) -> int:
    from sentinel_queue import partition_for

    return partition_for(project_id, 4)


async def test_two_consumers_share_the_group_without_duplicates(
    queue: Queue, ch_settings: ClickHouseSettings, ch_client: Any, tmp_path: Path
) -> None:
    sent = [b for i in range(8) for b in batches(25, project_id=f"p-{i}", events=10, seed=i)]
    settings = worker_settings(queue, ch_settings, tmp_path / "a", read_count=2, flush_events=50, max_inflight=1)
    async with running_consumer(settings) as first, running_consumer(settings) as second:
        assert first.name != second.name
        await queue.enqueue(sent)
        await wait_for(lambda: _equals(count_events(ch_client), 2000), what="every event")
        await wait_for(lambda: _equals(queue.pending(), 0), what="every entry acknowledged")
    assert first.metrics.batches_inserted_total > 0
    assert second.metrics.batches_inserted_total > 0
    assert first.metrics.batches_inserted_total + second.metrics.batches_inserted_total == 200
    result = await ch_client.query("SELECT count(), uniqExact(event_id) FROM events")
    assert result.result_rows == [(2000, 2000)]


async def test_trimming_keeps_pending_entries(
    queue: Queue, ch_settings: ClickHouseSettings, ch_client: Any, tmp_path: Path
) -> None:
    settings = worker_settings(queue, ch_settings, tmp_path / "a", claim_idle_s=3600)
    async with running_consumer(settings):
        pass
    stream = stream_key(0)
    held = await queue.client.xadd(stream, {b"d": encode_entry(batches(1)[0])})
    await queue.client.xreadgroup("sentinel-workers", "holder", {stream: ">"}, count=1)  # pending, never acked
    for _ in range(30):  # enough entries to fill several stream nodes behind and ahead of the held one
        await queue.client.xadd(stream, {b"d": encode_entry(batches(1, events=1, seed=random.random())[0])})
    async with running_consumer(settings) as consumer:
        await wait_for(lambda: _equals(queue.pending(), 1), what="all but the held entry acknowledged")
        await consumer.trim()
    assert [i for i, _ in await queue.client.xrange(stream, min=held, max=held)] == [held]


async def test_live_tail_publishes_a_rate_limited_sample(
    queue: Queue, ch_settings: ClickHouseSettings, ch_client: Any, tmp_path: Path
) -> None:
    settings = worker_settings(queue, ch_settings, tmp_path / "a", tail_events_per_s=5)
    pubsub = queue.client.pubsub()
    await pubsub.subscribe(tail_channel("p-tail"))
    async with running_consumer(settings):
        await queue.enqueue(batches(4, project_id="p-tail", events=50))
        await wait_for(lambda: _equals(count_events(ch_client, "p-tail"), 200), what="the events")
        received = []
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
            if message:
                received.append(json.loads(message["data"]))
    await pubsub.aclose()
    assert 1 <= len(received) <= 10
    assert received[0]["project_id"] == "p-tail"
    assert {"event_id", "route", "status", "duration_ms"} <= set(received[0]["event"])


async def test_live_figures_add_up_to_what_was_stored(
    queue: Queue, ch_settings: ClickHouseSettings, ch_client: Any, tmp_path: Path
) -> None:
    sent = batches(6, project_id="p-live", events=40, seed=7)
    events = [e for b in sent for e in b.events]
    pubsub = queue.client.pubsub()
    await pubsub.subscribe(channel("p-live", "metrics"))
    settings = worker_settings(queue, ch_settings, tmp_path / "a", metrics_tick_s=0.2)
    ticks: list[dict[str, Any]] = []

    async def collect(total: int) -> None:
        deadline = time.monotonic() + 10
        while sum(t["requests"] for t in ticks) < total and time.monotonic() < deadline:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
            if message:
                ticks.append(json.loads(message["data"]))

    async with running_consumer(settings):
        await queue.enqueue(sent[:3])
        await collect(120)
        first_phase = len(ticks)
        await asyncio.sleep(1.0)  # quiet ticks: nothing to publish
        resumed_at = int(time.time() * 1000)
        rng = random.Random(9)  # requests of just now, as an SDK sends them
        fresh = [make_batch(rng, project_id="p-live", events=40, now_ms=resumed_at, spread_ms=50) for _ in range(3)]
        sent[3:] = fresh
        events = [e for b in sent for e in b.events]
        await queue.enqueue(fresh)
        await collect(len(events))
    await pubsub.aclose()
    # after the quiet spell the next tick starts when traffic came back, not where the last one ended
    assert ticks[first_phase]["from_ms"] >= resumed_at - 50
    assert len(ticks) >= 2  # one tick per interval, not one per batch or one for everything
    assert sum(t["requests"] for t in ticks) == len(events)
    assert sum(t["errors_4xx"] for t in ticks) == sum(400 <= e.status < 500 for e in events)
    assert sum(t["errors_5xx"] for t in ticks) == sum(e.status >= 500 for e in events)
    assert max(t["max_ms"] for t in ticks) == max(e.duration_ms for e in events)
    per_source: dict[tuple[str, str], int] = {}
    for tick in ticks:
        assert tick["project_id"] == "p-live"
        assert tick["from_ms"] <= tick["to_ms"]
        assert tick["requests"] == sum(s["requests"] for s in tick["sources"])
        for source in tick["sources"]:
            key = (source["service"], source["environment"])
            per_source[key] = per_source.get(key, 0) + source["requests"]
    expected: dict[tuple[str, str], int] = {}
    for batch in sent:
        key = (batch.service, batch.environment)
        expected[key] = expected.get(key, 0) + len(batch.events)
    assert per_source == expected
    for earlier, later in itertools.pairwise(ticks):
        assert later["from_ms"] >= earlier["to_ms"]  # ticks never overlap (they tile the time while traffic lasts)


async def test_dead_letter_type_is_exported() -> None:
    assert DeadLetter.__struct_fields__[0] == "stream"
    assert StoredBatch.__struct_fields__[1] == "project_id"


async def test_entries_claimed_by_another_consumer_before_journaling_leave_the_group(queue: Queue) -> None:
    stream = stream_key(0)
    await queue.client.xgroup_create(stream, "sentinel-workers", id="0", mkstream=True)
    ids = [(await queue.client.xadd(stream, {b"d": b"x"})).decode() for _ in range(3)]
    await queue.client.xreadgroup("sentinel-workers", "slow", {stream: ">"}, count=10)
    await queue.client.xclaim(stream, "sentinel-workers", "rescuer", 0, [ids[1]])
    journal = Journal(queue.client)
    lost = await journal.record("tok", [(0, i) for i in ids], stream_key, "sentinel-workers", "slow")
    assert lost == [(0, ids[1])]
    assert await journal.tokens(0, ids) == ["tok", None, "tok"]
    assert await journal.members("tok") == [(0, i) for i in ids]


async def test_a_batch_the_store_refuses_is_dead_lettered_and_the_rest_stored(
    queue: Queue, ch_settings: ClickHouseSettings, ch_client: Any, tmp_path: Path
) -> None:
    good = batches(3, project_id="p-mixed")
    bad = msgspec.to_builtins(batches(1, project_id="p-mixed", seed=9)[0])
    bad["events"][0]["status"] = -5  # the lean decoder does not validate; ClickHouse refuses it for UInt16
    settings = worker_settings(queue, ch_settings, tmp_path / "a", flush_interval_s=0.5)
    async with running_consumer(settings) as consumer:
        await queue.enqueue(good[:2])
        [bad_id] = await queue.enqueue_blobs("p-mixed", [msgspec.msgpack.encode(bad)])
        await queue.enqueue(good[2:])
        await wait_for(lambda: _equals(count_events(ch_client, "p-mixed"), 60), what="the good batches")
        await wait_for(lambda: _equals(queue.pending(), 0), what="every entry settled")
    assert consumer.metrics.dead_letters_total == 1
    result = await ch_client.query("SELECT entry_id, project_id, error FROM dead_letters")
    [(entry_id, project_id, error)] = result.result_rows
    assert (entry_id, project_id) == (bad_id, "p-mixed")
    assert error.startswith("ClickHouse rejected the data")


async def test_entries_of_a_group_marked_done_are_acknowledged_without_writing_again(
    queue: Queue, ch_settings: ClickHouseSettings, ch_client: Any, tmp_path: Path
) -> None:
    """A worker died part-way through acknowledging a written group: the rest is only acknowledged."""
    settings = worker_settings(queue, ch_settings, tmp_path / "a")
    async with running_consumer(settings):
        pass  # creates the group on every partition
    first = await queue.enqueue_blobs("p-a", [encode_entry(batches(1, project_id="p-a")[0])])
    second = await queue.enqueue_blobs("p-b", [encode_entry(batches(1, project_id="p-b", seed=4)[0])])
    members = [(_partition("p-a"), first[0]), (_partition("p-b"), second[0])]
    assert members[0][0] != members[1][0]
    for partition, _ in members:
        await queue.client.xreadgroup("sentinel-workers", "dead", {stream_key(partition): ">"}, count=10)
    journal = Journal(queue.client)
    assert await journal.record("done-token", members, stream_key, "sentinel-workers", "dead") == []
    await queue.client.set("sentinel:journal:group:done-token", b"done")
    await queue.client.xack(stream_key(members[0][0]), "sentinel-workers", members[0][1])
    assert await queue.pending() == 1

    async with running_consumer(settings) as rescuer:
        await wait_for(lambda: _equals(queue.pending(), 0), what="the rest of the group acknowledged")
    assert rescuer.metrics.entries_claimed_total == 1
    assert rescuer.metrics.inserts_total == 0
    assert await count_events(ch_client) == 0
