"""Putting batches back on the queue exactly once: skip what the store holds, reserve what is being restored,
tag the entries with the sync's job id, then wait until the worker has stored them.

Why each step:

- The store's ``batches`` table is the record of what is stored; a batch found there is skipped, so replaying
  data that is still present adds nothing.
- A batch is enqueued together with a reservation (``SET`` of ``reservation_key``, value the job id) in one Lua
  call per chunk, in the partition's hash slot. A second sync that reaches the same batch before the worker has
  stored it finds the reservation and skips it; the same job running again (a redelivered event) recognises its
  own reservation and waits for the batch instead of enqueueing it twice. Reservations are released once the
  batches are stored (and expire after ``reservation_ttl_s`` if the sync dies).
- The ingest API's 24 h de-duplication mark is not consulted: it says a batch was *accepted*, not that it is
  still stored, and would turn a legitimate restore into a no-op.
- The entry carries ``SYNC_FIELD`` (the job id), which the worker mixes into the insert's deduplication token:
  the store would otherwise drop a restored insert whose batches hash to the token of the insert that first
  stored them. Batches read back from the archive also carry ``ARCHIVED_FIELD``, so they are not archived twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec
import redis.asyncio as redis

from sentinel_analytics import StoredBatch, create_client
from sentinel_config import ClickHouseSettings
from sentinel_queue import (
    ARCHIVED_FIELD,
    CONSUMER_GROUP,
    ENTRY_FIELD,
    SYNC_FIELD,
    QueuedBatch,
    partition_for,
    stream_key,
)

AnyBatch = StoredBatch | QueuedBatch
"""A batch read back from the archive (``StoredBatch``) or built by an import (``QueuedBatch``)."""

RESERVATION_PREFIX = "sentinel:sync"
_LOOKUP_CHUNK = 2_000

# KEYS: stream, then one reservation key per batch. ARGV: job id, ttl, entry field, sync field, archived field
# ('' when the batches are new to the archive), then one blob per batch.
# Answers per batch: 1 enqueued, 2 already enqueued by this job, 0 reserved by another sync.
_ENQUEUE = """
local out = {}
for i = 2, #KEYS do
  local holder = redis.call('GET', KEYS[i])
  if holder == ARGV[1] then
    out[#out + 1] = 2
  elseif holder then
    out[#out + 1] = 0
  else
    if ARGV[5] == '' then
      redis.call('XADD', KEYS[1], '*', ARGV[3], ARGV[i + 4], ARGV[4], ARGV[1])
    else
      redis.call('XADD', KEYS[1], '*', ARGV[3], ARGV[i + 4], ARGV[4], ARGV[1], ARGV[5], '1')
    end
    redis.call('SET', KEYS[i], ARGV[1], 'EX', tonumber(ARGV[2]))
    out[#out + 1] = 1
  end
end
return out
"""

# KEYS: reservation keys; ARGV[1]: job id. Deletes only this job's reservations.
_RELEASE = """
local n = 0
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    n = n + redis.call('DEL', KEYS[i])
  end
end
return n
"""

_encoder = msgspec.msgpack.Encoder(uuid_format="bytes")


def reservation_key(partition: int, project_id: str, batch_id: str) -> str:
    """The reservation of one batch being restored, in its partition's hash slot (with its stream)."""
    return f"{RESERVATION_PREFIX}:{{{partition}}}:{project_id}:{batch_id}"


def entry_blob(batch: AnyBatch) -> bytes:
    """The queue entry of a batch: the MessagePack the worker decodes (same layout as ``QueuedBatch``)."""
    return _encoder.encode(batch)


class BatchIndex(Protocol):
    """What the store holds: the batch ids of a project found in its ``batches`` table."""

    async def stored(self, project_id: str, batch_ids: Sequence[str]) -> set[str]: ...


class ClickHouseBatchIndex:
    """``BatchIndex`` over ClickHouse's ``batches`` table. The client opens on first use (a process starts even
    while ClickHouse is down) and closes with ``close``."""

    def __init__(self, settings: ClickHouseSettings) -> None:
        self._settings = settings
        self._client: Any = None
        self._lock = asyncio.Lock()

    async def _query(self, sql: str, parameters: dict[str, Any]) -> Any:
        async with self._lock:
            if self._client is None:
                self._client = await create_client(self._settings)
        return await self._client.query(sql, parameters=parameters)

    async def stored(self, project_id: str, batch_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        ids = list(batch_ids)
        for start in range(0, len(ids), _LOOKUP_CHUNK):
            result = await self._query(
                "SELECT DISTINCT toString(batch_id) FROM batches "
                "WHERE project_id = {project:String} AND batch_id IN {ids:Array(UUID)}",
                {"project": project_id, "ids": ids[start : start + _LOOKUP_CHUNK]},
            )
            found.update(str(row[0]) for row in result.result_rows)
        return found

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


class RequeueTimeout(RuntimeError):
    """The worker did not store the enqueued batches in time."""


@dataclass
class RequeueCounts:
    """What happened to the batches offered to a ``Requeuer``."""

    offered: int = 0
    already_stored: int = 0
    reserved_elsewhere: int = 0
    enqueued: int = 0
    enqueued_events: int = 0
    stored: int = 0
    waiting: set[str] = field(default_factory=set)


class Requeuer:
    """Enqueues one project's batches for one sync job (see the module docstring)."""

    def __init__(
        self,
        client: redis.Redis,
        index: BatchIndex,
        *,
        partitions: int,
        project_id: str,
        job_id: str,
        from_archive: bool,
        reservation_ttl_s: int,
        chunk: int = 100,
    ) -> None:
        self._redis = client
        self._index = index
        self._project_id = project_id
        self._job_id = job_id
        self._from_archive = from_archive
        self._ttl = reservation_ttl_s
        self._chunk = chunk
        self.partition = partition_for(project_id, partitions)
        self.counts = RequeueCounts()
        self._offered: set[str] = set()
        self._script = client.register_script(_ENQUEUE)
        self._release = client.register_script(_RELEASE)

    async def offer(self, batches: Sequence[AnyBatch]) -> None:
        """Enqueue those of ``batches`` the store does not hold and no other sync is restoring."""
        unique: dict[str, AnyBatch] = {}
        for batch in batches:
            unique.setdefault(str(batch.batch_id), batch)
        fresh = [key for key in unique if key not in self._offered]
        self._offered.update(fresh)
        self.counts.offered += len(fresh)
        present = await self._index.stored(self._project_id, fresh)
        self.counts.already_stored += len(present)
        missing = [unique[key] for key in fresh if key not in present]
        for start in range(0, len(missing), self._chunk):
            await self._enqueue(missing[start : start + self._chunk])

    async def _enqueue(self, batches: Sequence[AnyBatch]) -> None:
        keys = [stream_key(self.partition)]
        keys += [reservation_key(self.partition, self._project_id, str(b.batch_id)) for b in batches]
        args: list[Any] = [
            self._job_id,
            self._ttl,
            ENTRY_FIELD,
            SYNC_FIELD,
            ARCHIVED_FIELD if self._from_archive else b"",
            *(entry_blob(b) for b in batches),
        ]
        answers = await self._script(keys=keys, args=args)
        for batch, answer in zip(batches, answers, strict=True):
            if int(answer) == 0:
                self.counts.reserved_elsewhere += 1
                continue
            self.counts.waiting.add(str(batch.batch_id))
            if int(answer) == 1:
                self.counts.enqueued += 1
                self.counts.enqueued_events += len(batch.events)

    async def wait_stored(
        self,
        timeout_s: float,
        poll_s: float,
        progress: Callable[[int, int], Awaitable[None]] | None = None,
    ) -> None:
        """Wait until the worker has stored every batch this job enqueued, then release their reservations.

        ``progress(stored, total)`` is called as batches arrive. Raises ``RequeueTimeout`` (reservations kept
        until they expire, so a retry in the meantime enqueues nothing twice)."""
        total = len(self.counts.waiting)
        deadline = time.monotonic() + timeout_s
        remaining = set(self.counts.waiting)
        while remaining:
            arrived = await self._index.stored(self._project_id, sorted(remaining))
            if arrived:
                remaining -= arrived
                self.counts.stored = total - len(remaining)
                if progress is not None:
                    await progress(self.counts.stored, total)
                continue
            if time.monotonic() >= deadline:
                raise RequeueTimeout(
                    f"{len(remaining)} of {total} batches were not stored within {timeout_s:g} s; "
                    "is a worker consuming the queue?"
                )
            await asyncio.sleep(poll_s)
        self.counts.stored = total
        await self.release(self.counts.waiting)

    async def release(self, batch_ids: Iterable[str]) -> None:
        """Drop this job's reservations of ``batch_ids``."""
        keys = [reservation_key(self.partition, self._project_id, key) for key in batch_ids]
        for start in range(0, len(keys), 1_000):
            await self._release(keys=keys[start : start + 1_000], args=[self._job_id])


async def queue_settled(client: redis.Redis, partition: int, before_ms: int) -> bool:
    """True when the worker has acknowledged every entry the partition's stream received before ``before_ms``
    (none of them is still unread or pending), so the store's ``batches`` table is final for that time."""
    stream = stream_key(partition)
    pending: Any = None
    try:
        groups: Any = await client.xinfo_groups(stream)
    except redis.ResponseError:  # no stream: nothing was ever enqueued there
        return True
    last_delivered = "0-0"
    for info in groups or []:
        name = info.get("name")
        if name in (CONSUMER_GROUP, CONSUMER_GROUP.encode()):
            raw = info.get("last-delivered-id")
            last_delivered = raw.decode() if isinstance(raw, bytes) else str(raw)
            pending = await client.xpending(stream, CONSUMER_GROUP)
    if pending and int(pending.get("pending", 0)) > 0:
        oldest = pending.get("min")
        oldest_text = oldest.decode() if isinstance(oldest, bytes) else str(oldest)
        if int(oldest_text.split("-", 1)[0]) < before_ms:
            return False
    unread: Any = await client.xrange(stream, min=f"({last_delivered}", max=f"{max(0, before_ms - 1)}", count=1)
    return not unread
