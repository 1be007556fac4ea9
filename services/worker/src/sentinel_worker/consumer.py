"""The consumer: read batches from the partitioned streams, write them in large deduplicated inserts to the
analytics store and the archive, and acknowledge only once both writes are durable.

Flow per insert ("group"): entries are read with XREADGROUP (or claimed from dead consumers), decoded and merged
until ``flush_events`` or ``flush_interval_s``; the group is journaled (see ``journal.py``), written to the store
and the archive (each retried with backoff until it succeeds: an outage stalls acknowledgement, it never loses
or duplicates), then acknowledged. Up to ``max_inflight`` groups are written while reading goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as redis
import structlog
from redis.exceptions import RedisError, ResponseError

from sentinel_analytics import AnalyticsStore, StoreError
from sentinel_queue import CONSUMER_GROUP, DEAD_LETTER_STREAM, partition_lag, stream_key
from sentinel_worker.archive import Archive, ArchiveError
from sentinel_worker.groups import Entry, Group
from sentinel_worker.journal import DONE, Journal, Member
from sentinel_worker.metrics import Metrics
from sentinel_worker.settings import WorkerProcessSettings
from sentinel_worker.tail import LiveMetrics, TailPublisher

log = structlog.get_logger("sentinel.worker")

T = TypeVar("T")
_SLOT_WAIT_S = 0.5
"""How often a group waiting for a write slot checks for shutdown and refreshes the lag gauge."""
_ZERO_ID = (b"0-0", "0-0")


class _Stopping(Exception):
    """Shutdown's deadline passed while a write was still failing: leave the entries pending for others."""


class _Rejected(Exception):
    """The store refused a merged insert's data: split it to find the batch at fault."""


def unique_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Consumer:
    """One consumer in ``CONSUMER_GROUP`` over every partition's stream."""

    def __init__(
        self,
        settings: WorkerProcessSettings,
        partitions: int,
        client: redis.Redis,
        store: AnalyticsStore,
        archive: Archive,
        *,
        metrics: Metrics | None = None,
        group: str = CONSUMER_GROUP,
    ) -> None:
        self.settings = settings
        self.partitions = list(range(partitions))
        self.redis: Any = client  # redis-py's stubs type stream replies loosely; treated as Any here
        self.store = store
        self.archive = archive
        self.group = group
        self.name = settings.consumer_name or unique_consumer_name()
        self.metrics = metrics or Metrics()
        self.journal = Journal(client)
        self.tail = TailPublisher(client, settings.tail_events_per_s)
        self.live = LiveMetrics(client)
        self._next_tick = 0.0
        self._slots = asyncio.Semaphore(settings.max_inflight)
        self._tasks: set[asyncio.Task[None]] = set()
        self._inflight: set[str] = set()
        self._deadline: float | None = None
        self._stop: asyncio.Event | None = None
        self._next_claim = 0.0
        self._next_trim = 0.0
        self._next_lag = 0.0
        self._held: dict[int, Group] = {}
        self._next_keepalive = 0.0
        self._next_gc = time.monotonic() + 10.0
        self._events_per_entry = 500

    # --- setup ---------------------------------------------------------------------------------------------
    async def ensure_groups(self) -> None:
        """Create the consumer group on every partition's stream (and the stream), reading from the start."""
        for partition in self.partitions:
            try:
                await self.redis.xgroup_create(stream_key(partition), self.group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def _group(self, **fields: Any) -> Group:
        """An empty insert group, keeping what the live tail and the live figures need of each batch."""
        return Group(
            tail_sample=math.ceil(self.settings.tail_events_per_s),
            live_figures=self.settings.metrics_tick_s > 0,
            **fields,
        )

    # --- main loop -----------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set, then write and acknowledge what was read, within the shutdown timeout."""
        log.info("consumer_started", consumer=self.name, partitions=len(self.partitions))
        self._stop = stop
        pending = self._group()
        failures = 1  # creates the groups on the first pass
        while not stop.is_set():
            try:
                if failures:
                    await self.ensure_groups()
                pending = await self._step(pending)
                failures = 0
            except RedisError as exc:
                failures += 1
                self.metrics.queue_errors_total += 1
                delay = min(self.settings.retry_max_s, self.settings.retry_initial_s * 2 ** min(failures, 10))
                log.warning("queue_error", error=str(exc), retry_in_s=delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
        await self.drain(pending)

    async def drain(self, pending: Group) -> None:
        """Shutdown: submit what was read, then wait for in-flight inserts up to the shutdown timeout."""
        if self._deadline is None:
            self._deadline = time.monotonic() + self.settings.shutdown_timeout_s
        if len(pending):
            await self._submit(pending)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self.settings.shutdown_timeout_s + 1)
        for task in list(self._tasks):
            task.cancel()
        if self.live.pending():
            with contextlib.suppress(RedisError):
                self.metrics.metrics_ticks_published_total += await self.live.flush()
        log.info("consumer_stopped", consumer=self.name, left_pending=len(self._tasks))

    async def _step(self, pending: Group) -> Group:
        now = time.monotonic()
        if now >= self._next_claim:
            self._next_claim = now + self.settings.claim_interval_s
            await self.claim(pending)
        if now >= self._next_trim:
            self._next_trim = now + self.settings.trim_interval_s
            await self.trim()
        if now >= self._next_keepalive:
            self._next_keepalive = now + self.settings.claim_idle_s / 3
            await self._keepalive(pending)
        if now >= self._next_gc:
            self._next_gc = now + 10.0
            gc.collect()
        if self.settings.metrics_tick_s > 0 and now >= self._next_tick and self.live.pending():
            self._next_tick = now + self.settings.metrics_tick_s
            try:
                self.metrics.metrics_ticks_published_total += await self.live.flush()
            except RedisError as exc:
                log.warning("metrics_tick_failed", error=str(exc))
        await self._refresh_lag(now)
        wait_s = max(0.0, pending.started + self.settings.flush_interval_s - time.monotonic()) if len(pending) else 0.1
        # Read about what the insert still has room for, spread over the partitions.
        room = max(1, (self.settings.flush_events - pending.events) // self._events_per_entry)
        count = max(1, min(self.settings.read_count, -(-room // len(self.partitions))))
        entries = await self.read(block_ms=max(1, int(wait_s * 1000)), count=count)
        for entry in entries:
            pending.add(entry, self.settings.default_retention_days)
        if pending.batches:
            self._events_per_entry = max(1, pending.events // len(pending.batches))
        if len(pending) and (
            pending.events >= self.settings.flush_events
            or time.monotonic() - pending.started >= self.settings.flush_interval_s
        ):
            await self._submit(pending)
            pending = self._group()
        return pending

    async def read(self, block_ms: int, count: int | None = None) -> list[Entry]:
        """New entries for this consumer across every partition (at most ``count`` per partition)."""
        streams = {stream_key(p): ">" for p in self.partitions}
        answer = await self.redis.xreadgroup(
            self.group, self.name, streams, count=count or self.settings.read_count, block=block_ms
        )
        entries: list[Entry] = []
        for stream, items in answer or []:
            partition = _partition_of(stream)
            for entry_id, fields in items:
                entries.append(Entry.of(partition, _text(entry_id), fields))
        self.metrics.entries_processed_total += len(entries)
        return entries

    # --- writing -------------------------------------------------------------------------------------------
    async def _submit(self, group: Group) -> None:
        """Start writing ``group``; waits while ``max_inflight`` writes are already running (back-pressure). Once
        shutdown's deadline passes while waiting, the group is left unwritten: its entries stay pending, for this
        consumer's successor or another consumer to claim."""
        self._held[id(group)] = group
        next_keepalive = time.monotonic() + self.settings.claim_idle_s / 3
        while True:
            try:
                await asyncio.wait_for(self._slots.acquire(), timeout=_SLOT_WAIT_S)
                break
            except TimeoutError:
                pass
            try:
                self._check_deadline()
            except _Stopping:
                self._held.pop(id(group), None)
                log.warning("insert_left_pending", token=group.token, entries=len(group))
                return
            now = time.monotonic()
            if now >= next_keepalive:
                next_keepalive = now + self.settings.claim_idle_s / 3
                await self._keepalive(Group())
            with contextlib.suppress(RedisError):
                await self._refresh_lag(now)  # the lag grows while writes fail: keep the gauge current
        self._inflight.add(group.token)
        self.metrics.inflight_inserts += 1
        task = asyncio.create_task(self._commit(group))
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            self._inflight.discard(group.token)
            self.metrics.inflight_inserts -= 1
            self._slots.release()
            if not finished.cancelled() and finished.exception() is not None:
                log.error("insert_failed", token=group.token, error=repr(finished.exception()))

        task.add_done_callback(done)

    async def _journal(self, group: Group) -> Group:
        """Journal ``group``, dropping entries another consumer claimed meanwhile (it will write them)."""
        while True:
            lost = await self._retry(
                lambda g=group: self.journal.record(g.token, g.members, stream_key, self.group, self.name),  # type: ignore[misc]
                "journal",
            )
            if not lost:
                group.journaled = True
                return group
            log.info("entries_taken_over", token=group.token, entries=len(lost))
            await self._retry(lambda g=group: self.journal.forget(g.token, g.members), "journal")  # type: ignore[misc]
            group = group.without(lost, self.settings.default_retention_days)

    async def _commit(self, group: Group) -> None:
        self._held[id(group)] = group
        try:
            await self._commit_held(group)
        finally:
            self._held.pop(id(group), None)

    async def _commit_held(self, group: Group) -> None:
        try:
            if not group.journaled:
                group = await self._journal(group)
                if not len(group):
                    return
            try:
                await self._write_durably(group)
            except _Rejected:
                await self._split(group)
                return
            await self._retry(lambda: self._finish(group), "acknowledge")
        except _Stopping:
            log.warning("insert_left_pending", token=group.token, entries=len(group))
            return
        self.metrics.inserts_total += 1
        self.metrics.batches_inserted_total += len(group.batches)
        self.metrics.events_inserted_total += group.events
        self.metrics.events_processed_total += group.events
        self.metrics.duplicate_batches_total += group.duplicates
        self.metrics.dead_letters_total += len(group.dead)
        for _, letter in group.dead:
            log.warning("dead_lettered", stream=letter.stream, entry_id=letter.entry_id, error=letter.error)
        live = group.live  # replays and imports are not live traffic
        if self.settings.metrics_tick_s > 0:
            self.live.add(held.figures for held in live if held.figures is not None)
        try:
            self.metrics.tail_events_published_total += await self.tail.publish([(h.batch, h.sample) for h in live])
        except RedisError as exc:
            log.warning("tail_publish_failed", error=str(exc))

    async def _write_durably(self, group: Group) -> None:
        """Store, archive and dead-letter table writes, each retried until it succeeds."""
        lines, to_archive = group.encoded()
        store_done, archive_done, dead_done = not lines, not to_archive, not group.dead
        delay = self.settings.retry_initial_s
        while True:
            jobs: dict[str, Awaitable[None]] = {}
            if not store_done:
                jobs["store"] = self.store.write_rows(group.token, lines)
            if not archive_done:
                jobs["archive"] = self.archive.write(group.token, to_archive)
            if not dead_done:
                jobs["dead_letters"] = self.store.write_dead_letters([letter for _, letter in group.dead])
            results = await asyncio.gather(*jobs.values(), return_exceptions=True)
            for name, result in zip(jobs, results, strict=True):
                if isinstance(result, BaseException):
                    if not isinstance(result, StoreError | ArchiveError):
                        raise result
                    if isinstance(result, StoreError) and not result.retryable and name == "store":
                        if len(group.batches) > 1:
                            raise _Rejected(str(result))
                        group.reject(str(result))
                        lines, store_done, dead_done = [], True, False
                        continue
                    if name == "archive":
                        self.metrics.archive_retries_total += 1
                    else:
                        self.metrics.store_retries_total += 1
                    log.warning("write_failed", target=name, token=group.token, error=str(result), retry_in_s=delay)
                elif name == "store":
                    store_done = True
                elif name == "archive":
                    archive_done = True
                else:
                    dead_done = True
            if store_done and archive_done and dead_done:
                return
            self._check_deadline()
            await self._touch(group.members)
            await asyncio.sleep(delay)
            delay = min(self.settings.retry_max_s, delay * 2)

    async def _split(self, group: Group) -> None:
        """Write each entry of a refused insert alone; the batch the store refuses becomes a dead letter."""
        log.warning("insert_refused_splitting", token=group.token, entries=len(group))
        await self._retry(lambda: self.journal.forget(group.token, group.members), "journal")
        for entry in group.entries:
            single = self._group()
            single.add(entry, self.settings.default_retention_days)
            await self._commit(single)

    async def _finish(self, group: Group) -> None:
        if group.dead:
            pipe = self.redis.pipeline(transaction=False)
            for entry, letter in group.dead:
                pipe.xadd(
                    DEAD_LETTER_STREAM,
                    {
                        "stream": letter.stream,
                        "entry_id": letter.entry_id,
                        "error": letter.error,
                        "deliveries": str(letter.deliveries),
                        "payload": entry.blob or b"",
                    },
                )
            await pipe.execute()
        await self.journal.finish(group.token, group.members, stream_key, self.group)

    async def _keepalive(self, pending: Group) -> None:
        """Reset the idle time of every entry this consumer holds (read, queued or being written), so that
        only a dead consumer's entries ever become idle enough to be claimed."""
        members = pending.members
        for group in list(self._held.values()):
            members += group.members
        if members:
            await self._touch(members)

    async def _touch(self, members: list[Member]) -> None:
        """Reset the idle time of entries still held, so no other worker claims them meanwhile."""
        try:
            await self.journal.touch(members, stream_key, self.group, self.name)
        except RedisError as exc:
            log.warning("touch_failed", error=str(exc))

    async def _retry(self, operation: Callable[[], Awaitable[T]], what: str) -> T:
        delay = self.settings.retry_initial_s
        while True:
            try:
                return await operation()
            except RedisError as exc:
                self.metrics.queue_errors_total += 1
                log.warning("queue_write_failed", step=what, error=str(exc), retry_in_s=delay)
            self._check_deadline()
            await asyncio.sleep(delay)
            delay = min(self.settings.retry_max_s, delay * 2)

    async def _refresh_lag(self, now: float) -> None:
        """Update the lag gauge, at most once a second."""
        if now >= self._next_lag:
            self._next_lag = now + 1.0
            lags = await partition_lag(self.redis, len(self.partitions), self.group)
            self.metrics.lag_entries = sum(lags.values())

    def _check_deadline(self) -> None:
        """Raise ``_Stopping`` once shutdown's deadline has passed; the deadline starts when the stop is asked for
        (a write failing since before keeps retrying until then)."""
        if self._deadline is None and self._stop is not None and self._stop.is_set():
            self._deadline = time.monotonic() + self.settings.shutdown_timeout_s
        if self._deadline is not None and time.monotonic() >= self._deadline:
            raise _Stopping

    # --- recovery ------------------------------------------------------------------------------------------
    async def claim(self, pending: Group) -> None:
        """Take over entries idle longer than ``claim_idle_s``: replay journaled groups whole under their token,
        dead-letter entries delivered too often, and add the rest to ``pending``."""
        idle_ms = int(self.settings.claim_idle_s * 1000)
        for partition in self.partitions:
            stream = stream_key(partition)
            cursor: Any = "0-0"
            for _ in range(100):
                answer = await self.redis.xautoclaim(
                    stream, self.group, self.name, idle_ms, start_id=cursor, count=self.settings.read_count
                )
                cursor, claimed = answer[0], answer[1]
                if claimed:
                    await self._adopt(partition, claimed, pending)
                if cursor in _ZERO_ID:
                    break

    async def _adopt(self, partition: int, claimed: list[Any], pending: Group) -> None:
        stream = stream_key(partition)
        entries = [Entry.of(partition, _text(i), f) for i, f in claimed]
        self.metrics.entries_claimed_total += len(entries)
        details = await self.redis.xpending_range(
            stream,
            self.group,
            min=entries[0].entry_id,
            max=entries[-1].entry_id,
            count=len(entries) + 10_000,
            consumername=self.name,
        )
        deliveries = {_text(d["message_id"]): int(d["times_delivered"]) for d in details}
        tokens = await self.journal.tokens(partition, [e.entry_id for e in entries])
        journaled: dict[str, list[Entry]] = {}
        for entry, token in zip(entries, tokens, strict=True):
            entry.deliveries = deliveries.get(entry.entry_id, 1)
            if token is None:
                self._add_free(entry, pending)
            elif token not in self._inflight:
                journaled.setdefault(token, []).append(entry)
        for token, held in journaled.items():
            members = await self.journal.members(token)
            if members is None:
                for entry in held:
                    self._add_free(entry, pending)
            elif members == DONE:
                await self.journal.settle([(e.partition, e.entry_id) for e in held], stream_key, self.group)
            else:
                assert isinstance(members, list)
                await self._replay(token, members, held)

    def _add_free(self, entry: Entry, pending: Group) -> None:
        if entry.deliveries > self.settings.max_deliveries:
            pending.add_dead(entry, f"delivered {entry.deliveries} times without being stored")
        else:
            pending.add(entry, self.settings.default_retention_days)

    async def _replay(self, token: str, members: list[Member], held: list[Entry]) -> None:
        """Rebuild a journaled group from exactly its members (claiming those other consumers hold) and write
        it again under the same token: the store drops it if the first write went through."""
        have = {(e.partition, e.entry_id): e for e in held}
        missing: dict[int, list[str]] = {}
        for partition, entry_id in members:
            if (partition, entry_id) not in have:
                missing.setdefault(partition, []).append(entry_id)
        for partition, ids in missing.items():
            for entry_id, fields in await self.redis.xclaim(stream_key(partition), self.group, self.name, 0, ids):
                entry = Entry.of(partition, _text(entry_id), fields)
                have[(partition, entry.entry_id)] = entry
        group = self._group(journaled=True, replay_token=token)
        lost = 0
        for member in members:
            found = have.get(member)
            if found is None:
                lost += 1
                continue
            entry = found
            if entry.deliveries > self.settings.max_deliveries:
                group.add_dead(entry, f"delivered {entry.deliveries} times without being stored")
            else:
                group.add(entry, self.settings.default_retention_days)
        if lost:
            log.warning("replay_incomplete", token=token, missing=lost)
        self.metrics.groups_replayed_total += 1
        log.info("replaying_insert", token=token, entries=len(group))
        await self._submit(group)

    # --- housekeeping --------------------------------------------------------------------------------------
    async def trim(self) -> None:
        """Drop stream history every group has acknowledged: below the oldest pending entry of every group, and
        never past what a group has yet to read."""
        for partition in self.partitions:
            stream = stream_key(partition)
            groups = await self.redis.xinfo_groups(stream)
            if not groups:
                continue
            floor: tuple[int, int] | None = None
            for info in groups:
                name = _text(info["name"])
                summary = await self.redis.xpending(stream, name)
                if summary and int(summary["pending"]) > 0:
                    bound = _parse_id(_text(summary["min"]))
                else:
                    last = _parse_id(_text(info["last-delivered-id"]))
                    bound = (last[0], last[1] + 1)
                floor = bound if floor is None else min(floor, bound)
            if floor is None or floor == (0, 1):
                continue
            trimmed = await self.redis.xtrim(stream, minid=f"{floor[0]}-{floor[1]}", approximate=True)
            self.metrics.stream_entries_trimmed_total += int(trimmed or 0)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _parse_id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _partition_of(stream: Any) -> int:
    name = _text(stream)
    return int(name[name.rindex("{") + 1 : name.rindex("}")])
