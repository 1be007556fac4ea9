"""``archive-replay``: put the project's archived batches of a time range back through the queue.

The bronze archive holds every stored batch as a line of gzipped NDJSON under
``bronze/project=<id>/date=YYYY-MM-DD/hour=HH/``, by arrival time. A replay lists the dates of the range, reads
the objects of its hours, keeps the project's batches that arrived within ``[from, to)``, and hands them to a
``Requeuer``, which skips those the store holds. Replaying twice, or replaying data that was never lost, stores
nothing twice.

Before it looks at the store, the replay waits until the worker has acknowledged every entry of the range still in
the queue: a batch the archive already holds may still be on its way into the store, and must not be counted as
missing. The part of a range that lies in the future is left out.
"""

from __future__ import annotations

import asyncio
import gzip
import time
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from sentinel_analytics import StoredBatch, read_archive
from sentinel_connectors.context import SyncContext, SyncFailed
from sentinel_connectors.params import ArchiveReplayParams
from sentinel_connectors.requeue import Requeuer, RequeueTimeout, queue_settled

log = structlog.get_logger("sentinel.connectors")

ARCHIVE_PREFIX = "bronze"
SETTLE_MARGIN_MS = 5_000
"""Entries up to this long after the range's end must be acknowledged too: the ingest API stamps a batch's
arrival before Redis stamps its entry id, on another clock."""


def date_prefixes(project_id: str, start: datetime, end: datetime) -> list[str]:
    """The archive prefixes of each date the range touches."""
    day = start.astimezone(UTC).date()
    last = (end.astimezone(UTC) - timedelta(microseconds=1)).date()
    prefixes = []
    while day <= last:
        prefixes.append(f"{ARCHIVE_PREFIX}/project={project_id}/date={day:%Y-%m-%d}/")
        day += timedelta(days=1)
    return prefixes


def hour_of(key: str) -> datetime | None:
    """The arrival hour an archive key is filed under, or None for a key of another layout."""
    try:
        date = key.split("/date=", 1)[1][:10]
        hour = key.split("/hour=", 1)[1][:2]
        return datetime.strptime(f"{date} {hour}", "%Y-%m-%d %H").replace(tzinfo=UTC)
    except (IndexError, ValueError):
        return None


def read_object(body: bytes) -> tuple[list[StoredBatch], int]:
    """The batches of one archive object, and how many of its lines could not be read."""
    try:
        text = gzip.decompress(body)
    except (OSError, EOFError, zlib.error):
        return [], 1
    return read_archive(text)


async def _wait_settled(context: SyncContext, partition: int, before_ms: int) -> None:
    deadline = time.monotonic() + context.settings.confirm_timeout_s
    while not await queue_settled(context.redis, partition, before_ms):
        if time.monotonic() >= deadline:
            raise SyncFailed(
                f"batches of the range are still in the queue after {context.settings.confirm_timeout_s:g} s; "
                "is a worker consuming it? Retry once the queue has drained"
            )
        await context.progress(0.0, {"state": "waiting for the queue to drain"})
        await asyncio.sleep(context.settings.poll_interval_s)


async def replay_archive(context: SyncContext, params: ArchiveReplayParams) -> dict[str, Any]:
    """Run the replay; returns the job's result (counts of batches at each step)."""
    start_ms = params.start_ms
    horizon_ms = min(params.end_ms, int(time.time() * 1000))
    requeuer = Requeuer(
        context.redis,
        context.index,
        partitions=context.partitions,
        project_id=context.project_id,
        job_id=context.job_id,
        from_archive=True,
        reservation_ttl_s=context.settings.reservation_ttl_s,
        chunk=context.settings.enqueue_chunk,
    )
    await _wait_settled(context, requeuer.partition, horizon_ms + SETTLE_MARGIN_MS)

    keys: list[str] = []
    first_hour = datetime.fromtimestamp(start_ms / 1000, UTC).replace(minute=0, second=0, microsecond=0)
    horizon = datetime.fromtimestamp(horizon_ms / 1000, UTC)
    for prefix in date_prefixes(context.project_id, params.start, horizon) if horizon_ms > start_ms else []:
        async for info in context.archive.list(prefix):
            hour = hour_of(info.key)
            if hour is not None and first_hour <= hour < horizon and info.key.endswith(".ndjson.gz"):
                keys.append(info.key)

    result: dict[str, Any] = {"objects": len(keys), "batches_in_range": 0, "unreadable_lines": 0}
    for done, key in enumerate(keys, start=1):
        batches, bad = read_object(await context.archive.get(key))
        result["unreadable_lines"] += bad
        wanted = [b for b in batches if b.project_id == context.project_id and start_ms <= b.received_at < horizon_ms]
        result["batches_in_range"] += len(wanted)
        await requeuer.offer(wanted)
        await context.progress(0.5 * done / len(keys), _summary(result, requeuer))

    async def stored(count: int, total: int) -> None:
        await context.progress(0.5 + 0.5 * count / max(total, 1), _summary(result, requeuer))

    try:
        await requeuer.wait_stored(context.settings.confirm_timeout_s, context.settings.poll_interval_s, stored)
    except RequeueTimeout as exc:
        raise SyncFailed(str(exc)) from None
    summary = _summary(result, requeuer)
    log.info("archive_replayed", job_id=context.job_id, project_id=context.project_id, **summary)
    return summary


def _summary(result: dict[str, Any], requeuer: Requeuer) -> dict[str, Any]:
    counts = requeuer.counts
    return {
        **result,
        "already_stored": counts.already_stored,
        "restoring_elsewhere": counts.reserved_elsewhere,
        "batches_enqueued": counts.enqueued,
        "events_enqueued": counts.enqueued_events,
        "batches_stored": counts.stored,
    }
