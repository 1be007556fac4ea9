"""partition_lag reads the consumer group's backlog per partition from a real Redis."""

from __future__ import annotations

import uuid

import redis.asyncio as redis

from sentinel_local import RedisEngine
from sentinel_queue import ENTRY_FIELD, partition_lag, stream_key


async def test_lag_counts_undelivered_entries_per_partition(redis_server: RedisEngine) -> None:
    client = redis.Redis.from_url(redis_server.url)
    group = f"g-{uuid.uuid4().hex[:8]}"
    try:
        for partition, count in ((0, 5), (1, 2)):
            for _ in range(count):
                await client.xadd(stream_key(partition), {ENTRY_FIELD: b"x"})
        await client.xgroup_create(stream_key(0), group, id="0", mkstream=True)
        await client.xgroup_create(stream_key(1), group, id="0", mkstream=True)
        await client.xreadgroup(group, "c1", {stream_key(0): ">"}, count=3)
        lags = await partition_lag(client, 3, group)
    finally:
        await client.delete(stream_key(0), stream_key(1), stream_key(2))
        await client.aclose()
    assert lags == {0: 2, 1: 2, 2: 0}
