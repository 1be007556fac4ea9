"""How a job is shown: the body of the job routes and of job updates on the SSE ``jobs`` topic, whichever
process (the dashboard, or the worker running a sync) publishes it."""

from __future__ import annotations

from typing import Any

import msgspec

from sentinel_control.jobs import Job


class JobOut(msgspec.Struct, kw_only=True):
    id: str
    project_id: str
    kind: str
    name: str
    status: str
    progress: float
    params: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    cost: dict[str, float]
    cost_total_usd: float
    created_at: int
    updated_at: int
    started_at: int | None
    finished_at: int | None
    duration_ms: int | None

    @classmethod
    def of(cls, job: Job) -> JobOut:
        end = job.finished_at
        return cls(
            id=job.id,
            project_id=job.project_id,
            kind=job.kind,
            name=job.name,
            status=job.status,
            progress=job.progress,
            params=job.params,
            result=job.result,
            error=job.error,
            cost=job.cost,
            cost_total_usd=round(sum(job.cost.values()), 6),
            created_at=job.created_at,
            updated_at=job.updated_at,
            started_at=job.started_at,
            finished_at=end,
            duration_ms=(end - job.started_at) if end is not None and job.started_at is not None else None,
        )
