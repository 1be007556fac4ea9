"""``s3-access-logs``: import ALB access logs or NDJSON request logs from an S3 prefix as the project's events.

Objects are read in key order (``.gz`` objects are gunzipped, as ALB writes them). Each object's accepted lines
are cut into batches of ``batch_events`` in line order; a batch's id is derived from the project, bucket, key and
its position in the object, and each event's id from its line number. Running the same import again therefore
builds the same batches, which the ``Requeuer`` finds in the store and skips: nothing is imported twice. Lines
that cannot become events are counted per reason in the job's result, with a few samples (key and line number).
"""

from __future__ import annotations

import gzip
import time
import uuid
import zlib
from collections import Counter
from typing import Any

import structlog

from sentinel_connectors.access_logs import LineRejected, parse_alb_line, parse_ndjson_line
from sentinel_connectors.context import SyncContext, SyncFailed
from sentinel_connectors.params import S3AccessLogsParams
from sentinel_connectors.requeue import Requeuer, RequeueTimeout
from sentinel_queue import QueuedBatch
from sentinel_types import Event, SdkInfo

log = structlog.get_logger("sentinel.connectors")

NAMESPACE = uuid.UUID("5d6c1d0e-8c1e-4e55-9a43-0c4b8f7f2a61")
"""Namespace of the deterministic batch and event ids of imports (never change it: re-imports rely on it)."""
SDK_NAME = "sentinel-s3-import"
SDK_VERSION = "1"
MAX_LINE_BYTES = 65_536
MAX_SAMPLES = 10


def batch_id_of(project_id: str, bucket: str, key: str, index: int) -> uuid.UUID:
    """The id of the ``index``-th batch cut from one object."""
    return uuid.uuid5(NAMESPACE, f"batch\n{project_id}\n{bucket}\n{key}\n{index}")


def event_id_of(project_id: str, bucket: str, key: str, line: int) -> uuid.UUID:
    """The id of the event read from line ``line`` (1-based) of one object."""
    return uuid.uuid5(NAMESPACE, f"event\n{project_id}\n{bucket}\n{key}\n{line}")


class _Tally:
    def __init__(self) -> None:
        self.lines = 0
        self.events = 0
        self.reasons: Counter[str] = Counter()
        self.samples: list[dict[str, Any]] = []
        self.unreadable_objects = 0

    def reject(self, key: str, line: int, reason: str) -> None:
        self.reasons[reason] += 1
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append({"key": key, "line": line, "reason": reason})


def events_of(body: bytes, key: str, params: S3AccessLogsParams, project_id: str, tally: _Tally) -> list[Event]:
    """The events of one object's lines, in line order; rejections go to ``tally``."""
    if key.endswith(".gz"):
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError, zlib.error):
            tally.unreadable_objects += 1
            tally.reject(key, 0, "not a readable gzip object")
            return []
    events: list[Event] = []
    for number, raw in enumerate(body.split(b"\n"), start=1):
        line = raw.rstrip(b"\r")
        if not line.strip():
            continue
        tally.lines += 1
        if len(line) > MAX_LINE_BYTES:
            tally.reject(key, number, f"line longer than {MAX_LINE_BYTES} bytes")
            continue
        event_id = event_id_of(project_id, params.bucket, key, number)
        try:
            if params.format == "alb":
                events.append(parse_alb_line(line.decode("utf-8", errors="replace"), event_id))
            else:
                events.append(parse_ndjson_line(line, event_id))
        except LineRejected as exc:
            tally.reject(key, number, str(exc))
    tally.events += len(events)
    return events


def batches_of(
    events: list[Event], key: str, params: S3AccessLogsParams, context: SyncContext, received_at: int
) -> list[QueuedBatch]:
    size = context.settings.batch_events
    return [
        QueuedBatch(
            project_id=context.project_id,
            tenant_id=context.tenant_id,
            batch_id=batch_id_of(context.project_id, params.bucket, key, index),
            received_at=received_at,
            sdk=SdkInfo(name=SDK_NAME, version=SDK_VERSION, runtime=params.format),
            service=params.service,
            environment=params.environment,
            events=events[start : start + size],
            retention_days=context.retention_days,
        )
        for index, start in enumerate(range(0, len(events), size))
    ]


async def import_access_logs(context: SyncContext, params: S3AccessLogsParams) -> dict[str, Any]:
    """Run the import; returns the job's result."""
    source = context.buckets(params.bucket)
    keys: list[str] = []
    async for info in source.list(params.prefix):
        if info.key.endswith("/"):
            continue
        keys.append(info.key)
        if len(keys) > params.max_objects:
            raise SyncFailed(
                f"more than {params.max_objects} objects under s3://{params.bucket}/{params.prefix}; "
                "narrow the prefix or raise max_objects"
            )
    requeuer = Requeuer(
        context.redis,
        context.index,
        partitions=context.partitions,
        project_id=context.project_id,
        job_id=context.job_id,
        from_archive=False,
        reservation_ttl_s=context.settings.reservation_ttl_s,
        chunk=context.settings.enqueue_chunk,
    )
    tally = _Tally()
    received_at = int(time.time() * 1000)
    for done, key in enumerate(keys, start=1):
        events = events_of(await source.get(key), key, params, context.project_id, tally)
        await requeuer.offer(batches_of(events, key, params, context, received_at))
        await context.progress(0.5 * done / len(keys), _summary(len(keys), tally, requeuer))

    async def stored(count: int, total: int) -> None:
        await context.progress(0.5 + 0.5 * count / max(total, 1), _summary(len(keys), tally, requeuer))

    try:
        await requeuer.wait_stored(context.settings.confirm_timeout_s, context.settings.poll_interval_s, stored)
    except RequeueTimeout as exc:
        raise SyncFailed(str(exc)) from None
    summary = _summary(len(keys), tally, requeuer)
    log.info(
        "access_logs_imported",
        job_id=context.job_id,
        project_id=context.project_id,
        **{k: v for k, v in summary.items() if k not in ("rejections", "rejected_samples")},
    )
    return summary


def _summary(objects: int, tally: _Tally, requeuer: Requeuer) -> dict[str, Any]:
    counts = requeuer.counts
    return {
        "objects": objects,
        "unreadable_objects": tally.unreadable_objects,
        "lines": tally.lines,
        "events": tally.events,
        "rejected_lines": sum(tally.reasons.values()) - tally.unreadable_objects,
        "rejections": dict(tally.reasons.most_common(20)),
        "rejected_samples": list(tally.samples),
        "batches": counts.offered,
        "already_stored": counts.already_stored,
        "importing_elsewhere": counts.reserved_elsewhere,
        "batches_enqueued": counts.enqueued,
        "events_enqueued": counts.enqueued_events,
        "batches_stored": counts.stored,
    }
