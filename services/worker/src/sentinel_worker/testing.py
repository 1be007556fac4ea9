"""Helpers for the worker's tests and benchmarks: enqueue batches, run consumers in-process, wait for state."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as redis

from sentinel_analytics import AnalyticsStore, ClickHouseStore
from sentinel_config import ArchiveSettings, ClickHouseSettings, RedisSettings
from sentinel_queue import CONSUMER_GROUP, QueuedBatch, encode_entry, partition_for, stream_key
from sentinel_worker.archive import Archive, LocalArchive
from sentinel_worker.consumer import Consumer
from sentinel_worker.settings import Settings, WorkerProcessSettings

PARTITIONS = 4

FAST = {
    "flush_interval_s": 0.05,
    "claim_idle_s": 1.0,
    "claim_interval_s": 0.2,
    "retry_initial_s": 0.05,
    "retry_max_s": 0.5,
    "trim_interval_s": 0.2,
    "shutdown_timeout_s": 10.0,
    "port": 0,
}


@dataclass
class Queue:
    url: str
    client: Any

    async def enqueue(self, batches: Sequence[QueuedBatch]) -> list[str]:
        pipe = self.client.pipeline(transaction=False)
        for batch in batches:
            pipe.xadd(stream_key(partition_for(batch.project_id, PARTITIONS)), {b"d": encode_entry(batch)})
        return [i.decode() for i in await pipe.execute()]

    async def enqueue_blobs(self, project_id: str, blobs: Sequence[bytes]) -> list[str]:
        """Append raw entry blobs (valid or not) to the project's partition."""
        pipe = self.client.pipeline(transaction=False)
        for blob in blobs:
            pipe.xadd(stream_key(partition_for(project_id, PARTITIONS)), {b"d": blob})
        return [i.decode() for i in await pipe.execute()]

    async def pending(self) -> int:
        total = 0
        for partition in range(PARTITIONS):
            try:
                summary = await self.client.xpending(stream_key(partition), CONSUMER_GROUP)
            except redis.ResponseError:
                continue
            total += int(summary["pending"])
        return total


def worker_settings(queue: Queue, ch: ClickHouseSettings, archive_dir: Path, **overrides: Any) -> Settings:
    return Settings(
        worker=WorkerProcessSettings(**{**FAST, **overrides}),
        redis=RedisSettings(url=queue.url, partitions=PARTITIONS),
        clickhouse=ch,
        archive=ArchiveSettings(local_dir=str(archive_dir)),
    )


@asynccontextmanager
async def running_consumer(
    settings: Settings, store: AnalyticsStore | None = None, archive: Archive | None = None
) -> AsyncIterator[Consumer]:
    """A consumer running in this event loop until the block ends (then it drains as on SIGTERM)."""
    own_store = store is None
    store = store or await ClickHouseStore.open(settings.clickhouse)
    client = redis.Redis.from_url(settings.redis.url)
    consumer = Consumer(
        settings.worker,
        settings.redis.partitions,
        client,
        store,
        archive or LocalArchive(Path(settings.archive.local_dir)),
    )
    await consumer.ensure_groups()
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        yield consumer
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=60)
        await client.aclose()
        if own_store:
            await store.close()


async def wait_for(check: Callable[[], Awaitable[Any]], timeout: float = 60, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy (generous timeout: only for waiting, never timing)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} (last value {value!r})")
        await asyncio.sleep(0.05)


async def count_events(client: Any, project_id: str | None = None) -> int:
    where = "WHERE project_id = {p:String}" if project_id else ""
    result = await client.query(f"SELECT count() FROM events {where}", parameters={"p": project_id or ""})  # noqa: S608
    return int(result.result_rows[0][0])
