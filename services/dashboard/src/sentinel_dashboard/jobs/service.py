"""Job bookkeeping shared by the orchestration routes and the sandbox webhook."""

from __future__ import annotations

import hashlib
import hmac

import redis.asyncio as redis
import structlog

from sentinel_control import Job
from sentinel_dashboard.jobs.payloads import JobOut
from sentinel_queue import publish_update

log = structlog.get_logger("sentinel.jobs")


def job_secret(server_secret: str, job_id: str) -> str:
    """The secret a job's sandbox signs its callback with: derived from the server secret, never stored."""
    return hmac.new(server_secret.encode(), f"sentinel job-callback v1:{job_id}".encode(), hashlib.sha256).hexdigest()


async def announce(client: redis.Redis, job: Job) -> None:
    """Publish a job change on the project's ``jobs`` topic and its node on the ``state`` topic (best effort:
    a Redis hiccup never fails the change itself, which is already stored)."""
    try:
        await publish_update(client, job.project_id, "jobs", JobOut.of(job))
        node = {"id": f"job:{job.id}", "kind": "job", "name": job.name, "status": job.status}
        await publish_update(client, job.project_id, "state", node)
    except redis.RedisError as exc:
        log.warning("job_update_not_published", job_id=job.id, error=str(exc))
