"""Consumer-group lag per partition: what the ingest API's back-pressure and the worker's metrics read."""

from __future__ import annotations

from typing import Any

import redis.asyncio as redis

from sentinel_queue.names import CONSUMER_GROUP, stream_key


async def partition_lag(client: redis.Redis, partitions: int, group: str = CONSUMER_GROUP) -> dict[int, int]:
    """Entries not yet delivered to the group, per partition (a missing stream or group counts its length).

    Uses the ``lag`` field of ``XINFO GROUPS`` (Redis 7+); when Redis cannot tell (``lag`` is nil after some
    deletions), falls back to the stream length, which over-estimates and so errs towards back-pressure.
    """
    pipe = client.pipeline(transaction=False)
    for partition in range(partitions):
        pipe.xinfo_groups(stream_key(partition))
        pipe.xlen(stream_key(partition))
    answers: list[Any] = await pipe.execute(raise_on_error=False)
    lags: dict[int, int] = {}
    for partition in range(partitions):
        groups, length = answers[2 * partition], answers[2 * partition + 1]
        length = length if isinstance(length, int) else 0
        lag = length
        if isinstance(groups, list):
            for info in groups:
                name = info.get("name")
                if name in (group, group.encode()):
                    reported = info.get("lag")
                    lag = int(reported) if reported is not None else length
        lags[partition] = lag
    return lags
