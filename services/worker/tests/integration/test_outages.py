"""Store and archive outages: nothing is acknowledged while a write fails; everything lands once it returns."""

from __future__ import annotations

import gzip
import random
import time
from pathlib import Path
from typing import Any

from sentinel_analytics import ClickHouseStore, create_client, read_archive
from sentinel_analytics.queries import overview
from sentinel_analytics.testing import fresh_database, make_batch, window_around
from sentinel_config import ArchiveSettings, AwsSettings
from sentinel_local import ClickHouseEngine, SeaweedS3Engine
from sentinel_worker.archive import S3Archive
from sentinel_worker.testing import Queue, count_events, running_consumer, wait_for, worker_settings

NOW = int(time.time() * 1000)


async def _equals(value: Any, expected: Any) -> bool:
    return (await value) == expected


async def test_clickhouse_down_means_no_ack_then_catch_up(queue: Queue, tmp_path: Path) -> None:
    engine = ClickHouseEngine(tmp_path / "clickhouse").start()
    try:
        settings = worker_settings(queue, await fresh_database(engine.url), tmp_path / "archive")
        client = await create_client(settings.clickhouse)
        rng = random.Random(7)
        async with running_consumer(settings) as consumer:
            await queue.enqueue([make_batch(rng, project_id="p-out", events=20, now_ms=NOW) for _ in range(10)])
            await wait_for(lambda: _equals(count_events(client, "p-out"), 200), what="the first batches stored")
            await wait_for(lambda: _equals(queue.pending(), 0), what="the first batches acknowledged")
            engine.stop()
            await queue.enqueue([make_batch(rng, project_id="p-out", events=20, now_ms=NOW) for _ in range(10)])
            await wait_for(lambda: _at_least(consumer.metrics.store_retries_total, 3), what="failed store writes")
            assert await queue.pending() == 10  # read, not acknowledged
            engine.restart()
            await wait_for(lambda: _equals(queue.pending(), 0), timeout=120, what="catch-up after the restart")
        assert await count_events(client, "p-out") == 400
        window = window_around(NOW)
        raw = await overview(client, "p-out", *window)
        assert raw.requests == (await overview(client, "p-out", *window, source="requests_1m")).requests == 400
        await client.close()
    finally:
        engine.stop()


async def _at_least(value: int, minimum: int) -> bool:
    return value >= minimum


async def test_s3_down_means_no_ack_then_catch_up(
    queue: Queue, ch_settings: Any, ch_client: Any, tmp_path: Path
) -> None:
    engine = SeaweedS3Engine(tmp_path / "s3").start()
    archive = S3Archive(
        ArchiveSettings(backend="s3", bucket="bronze-test", endpoint_url=engine.url),
        AwsSettings(access_key_id=engine.access_key, secret_access_key=engine.secret_key, region=engine.region),
    )
    try:
        await archive.ensure_bucket()
        settings = worker_settings(queue, ch_settings, tmp_path / "unused")
        rng = random.Random(8)
        sent = [make_batch(rng, project_id="p-s3", events=5, now_ms=NOW) for _ in range(12)]
        store = await ClickHouseStore.open(ch_settings)
        async with running_consumer(settings, store=store, archive=archive) as consumer:
            await queue.enqueue(sent[:6])
            await wait_for(lambda: _equals(count_events(ch_client, "p-s3"), 30), what="the first batches stored")
            await wait_for(lambda: _equals(queue.pending(), 0), what="the first batches acknowledged")
            engine.stop()
            await queue.enqueue(sent[6:])
            await wait_for(lambda: _at_least(consumer.metrics.archive_retries_total, 3), what="failed archive writes")
            assert await queue.pending() == 6
            engine.restart()
            await wait_for(lambda: _equals(queue.pending(), 0), timeout=120, what="catch-up after the restart")
        await store.close()
        assert await count_events(ch_client, "p-s3") == 60

        s3 = engine.client()
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="bronze-test")["Contents"]]
        assert all(k.startswith("bronze/project=p-s3/date=") for k in keys)
        archived = set()
        for key in keys:
            body = s3.get_object(Bucket="bronze-test", Key=key)["Body"].read()
            batches, bad = read_archive(gzip.decompress(body))
            assert bad == 0
            archived |= {str(batch.batch_id) for batch in batches}
        assert archived == {str(b.batch_id) for b in sent}
    finally:
        await archive.close()
        engine.stop()


async def test_a_stop_during_an_outage_ends_within_the_shutdown_timeout_and_the_lag_stays_reported(
    queue: Queue, tmp_path: Path
) -> None:
    engine = ClickHouseEngine(tmp_path / "clickhouse").start()
    try:
        settings = worker_settings(
            queue,
            await fresh_database(engine.url),
            tmp_path / "archive",
            max_inflight=1,
            flush_events=20,  # one batch per insert: a second insert waits for the first's slot
            shutdown_timeout_s=1.0,
        )
        rng = random.Random(8)
        async with running_consumer(settings) as consumer:
            engine.stop()
            await queue.enqueue([make_batch(rng, project_id="p-stuck", events=20, now_ms=NOW) for _ in range(4)])
            await wait_for(lambda: _at_least(consumer.metrics.store_retries_total, 2), what="failed store writes")
            await queue.enqueue([make_batch(rng, project_id="p-stuck", events=20, now_ms=NOW) for _ in range(30)])
            await wait_for(lambda: _at_least(consumer.metrics.lag_entries, 25), what="the lag gauge to follow")
            stopping = time.monotonic()
        assert time.monotonic() - stopping < 8  # the shutdown timeout (1 s) plus a retry's sleep, not forever
        assert await queue.pending() >= 1  # left for a successor: nothing acknowledged, nothing lost
    finally:
        engine.stop()
