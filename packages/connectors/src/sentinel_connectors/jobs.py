"""Reporting on a job from wherever it runs: compare-and-set updates in the control store, each change published
on the project's SSE ``jobs`` topic (and its node on ``state``)."""

from __future__ import annotations

import time
from typing import Any

import redis.asyncio as redis
import structlog

from sentinel_control import ConflictError, ControlStore, Job, JobChanges, now_ms
from sentinel_control.views import JobOut
from sentinel_queue import publish_update

log = structlog.get_logger("sentinel.jobs")

_UPDATE_ATTEMPTS = 8


def job_meta(job: Job) -> dict[str, Any]:
    """The ``meta`` of a job's node in its project's state tree."""
    return {
        "job_kind": job.kind,
        "progress": job.progress,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "error": job.error,
        "cost_usd": round(sum(job.cost.values()), 6),
    }


def job_node_update(job: Job) -> dict[str, Any]:
    """A job's node as the ``state`` topic carries it: the same fields as in the tree, under ``layer:jobs``."""
    return {
        "id": f"job:{job.id}",
        "name": job.name,
        "kind": "job",
        "status": job.status,
        "meta": job_meta(job),
        "parent": "layer:jobs",
        "removed": False,
    }


async def announce(client: redis.Redis, job: Job) -> None:
    """Publish a job change on the project's ``jobs`` topic and its node on the ``state`` topic (best effort:
    a Redis hiccup never fails the change itself, which is already stored)."""
    try:
        await publish_update(client, job.project_id, "jobs", JobOut.of(job))
        await publish_update(client, job.project_id, "state", job_node_update(job))
    except redis.RedisError as exc:
        log.warning("job_update_not_published", job_id=job.id, error=str(exc))


class JobReporter:
    """Moves one job along: running, progress, then succeeded or failed; every stored change is announced.

    Updates are compare-and-set on the job's version; on a conflict the job is read again and the change applied
    to the fresh copy, unless the job has ended meanwhile (it was cancelled): then the change is dropped.
    """

    def __init__(self, control: ControlStore, client: redis.Redis, job: Job, *, min_interval_s: float = 0.5) -> None:
        self._control = control
        self._redis = client
        self.job = job
        self._min_interval_s = min_interval_s
        self._last_progress = 0.0

    async def change(self, changes: JobChanges) -> bool:
        """Apply ``changes``; False when the job is gone or has already ended."""
        job = self.job
        for _ in range(_UPDATE_ATTEMPTS):
            if job.finished:
                self.job = job
                return False
            try:
                updated = await self._control.update_job(job.tenant_id, job.id, changes, job.version)
            except ConflictError:
                reread = await self._control.get_job(job.tenant_id, job.id)
                if reread is None:
                    return False
                job = reread
                continue
            if updated is None:
                return False
            self.job = updated
            await announce(self._redis, updated)
            return True
        log.warning("job_update_gave_up", job_id=job.id)
        return False

    async def start(self) -> bool:
        """Mark the job running (a job already running, as after a redelivery, stays so)."""
        if self.job.status == "running":
            return not self.job.finished
        return await self.change(JobChanges(status="running", started_at=now_ms()))

    async def progress(self, fraction: float, result: dict[str, Any] | None = None, *, force: bool = False) -> None:
        """Report progress (at most every ``min_interval_s`` unless ``force``)."""
        now = time.monotonic()
        if not force and now - self._last_progress < self._min_interval_s:
            return
        self._last_progress = now
        await self.change(JobChanges(progress=round(min(max(fraction, 0.0), 0.99), 4), result=result))

    async def succeed(self, result: dict[str, Any]) -> bool:
        return await self.change(JobChanges(status="succeeded", progress=1.0, result=result, finished_at=now_ms()))

    async def fail(self, error: str, result: dict[str, Any] | None = None) -> bool:
        return await self.change(JobChanges(status="failed", error=error[:2_000], result=result, finished_at=now_ms()))
