"""Append a batch to its partition's stream: de-duplication, rate limit and XADD in one atomic Lua call.

Keys of one call share the partition's hash tag (one Redis Cluster slot). The script:

1. answers "duplicate" if the batch id was seen in the last 24 h (nothing is appended, no token spent);
2. refills the project's token bucket from Redis's own clock and answers "limited" (with the wait) unless the
   whole batch fits: a batch is taken whole or not at all;
3. appends the entry, then marks the batch as seen, then spends the tokens.

If the append fails (out of memory, wrong key type) the script stops before the mark: a batch that was not
enqueued is never recorded as seen, so the SDK's retry goes through. The stream is never trimmed here: only the
worker trims, and only acknowledged history.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Literal

import redis.asyncio as redis

from sentinel_queue import ENTRY_FIELD, partition_for, partition_lag, seen_key, stream_key

ENQUEUE_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, -1, 0, ''}
end
local rate = tonumber(ARGV[3])
local burst = tonumber(ARGV[4])
local cost = tonumber(ARGV[5])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local state = redis.call('HMGET', KEYS[3], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate / 1000)
end
if tokens < cost then
  return {-1, math.floor(tokens), math.ceil((cost - tokens) * 1000 / rate), ''}
end
local id = redis.call('XADD', KEYS[2], '*', ARGV[6], ARGV[1])
redis.call('SET', KEYS[1], '1', 'EX', tonumber(ARGV[2]))
tokens = tokens - cost
redis.call('HSET', KEYS[3], 'tokens', tostring(tokens), 'ts', now)
redis.call('PEXPIRE', KEYS[3], math.ceil(burst * 1000 / rate) + 60000)
return {1, math.floor(tokens), 0, id}
"""


def rate_key(partition: int, project_id: str) -> str:
    """The project's token bucket, in its partition's slot."""
    return f"sentinel:rate:{{{partition}}}:{project_id}"


@dataclass(frozen=True, slots=True)
class EnqueueResult:
    outcome: Literal["enqueued", "duplicate", "limited"]
    remaining: int
    """Whole tokens left in the bucket after this call (-1 for a duplicate: not consulted)."""
    retry_after_ms: int
    entry_id: str


class BatchQueue:
    """The ingest API's side of the queue."""

    def __init__(self, client: redis.Redis, partitions: int, dedup_ttl_s: int) -> None:
        self._client = client
        self.partitions = partitions
        self._dedup_ttl_s = dedup_ttl_s
        self._script = client.register_script(ENQUEUE_SCRIPT)

    def partition_of(self, project_id: str) -> int:
        return partition_for(project_id, self.partitions)

    async def enqueue(
        self, *, project_id: str, batch_id: str, blob: bytes, events: int, rate_eps: int, burst: int
    ) -> EnqueueResult:
        partition = self.partition_of(project_id)
        keys = [seen_key(partition, project_id, batch_id), stream_key(partition), rate_key(partition, project_id)]
        args: list[Any] = [blob, self._dedup_ttl_s, rate_eps, burst, events, ENTRY_FIELD]
        status, remaining, retry_ms, entry_id = await self._script(keys=keys, args=args)
        outcome: Literal["enqueued", "duplicate", "limited"] = (
            "enqueued" if status == 1 else "duplicate" if status == 0 else "limited"
        )
        entry = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
        return EnqueueResult(outcome=outcome, remaining=int(remaining), retry_after_ms=int(retry_ms), entry_id=entry)


class LagMonitor:
    """Consumer-group lag per partition, at most ``max_age_s`` old; concurrent callers share one refresh."""

    def __init__(self, client: redis.Redis, partitions: int, max_age_s: float = 0.5) -> None:
        self._client = client
        self._partitions = partitions
        self._max_age_s = max_age_s
        self._lags: dict[int, int] = {}
        self._at = float("-inf")
        self._refresh: asyncio.Task[dict[int, int]] | None = None

    async def lag(self, partition: int) -> int:
        if time.monotonic() - self._at > self._max_age_s:
            if self._refresh is None or self._refresh.done():
                self._refresh = asyncio.create_task(partition_lag(self._client, self._partitions))
            self._lags = await asyncio.shield(self._refresh)
            self._at = time.monotonic()
        return self._lags.get(partition, 0)

    async def worst(self) -> int:
        await self.lag(0)
        return max(self._lags.values(), default=0)
