"""Jobs: connector syncs, flows and sandbox scripts run for a project, with status, progress, cost and result.

A job is updated by compare-and-set on ``version``: the runner, the webhook and the poller may race, and the
loser re-reads instead of overwriting. Terminal states (succeeded, failed, cancelled) never change again.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from sentinel_control.ids import JobId, ProjectId, TenantId

JobKind = Literal["sync", "flow", "script"]
JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})


class Job(msgspec.Struct, kw_only=True, frozen=True):
    id: JobId
    tenant_id: TenantId
    project_id: ProjectId
    kind: JobKind
    name: Annotated[str, Meta(min_length=1, max_length=100)]
    """Connector, flow or script name."""
    status: JobStatus = "queued"
    progress: Annotated[float, Meta(ge=0, le=1)] = 0.0
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    result: dict[str, Any] | None = None
    error: str | None = None
    external_ref: str | None = None
    """Where the job runs: a Step Functions execution ARN, a sandbox run id, an EventBridge event id."""
    cost: dict[str, float] = msgspec.field(default_factory=dict)
    """Cost breakdown in USD by item, filled as the job runs."""
    callback_digest: str | None = None
    """SHA-256 of the first accepted callback body: a repeated callback gets the same answer, no second effect."""
    task_token: str | None = None
    """The flow task waiting for this job's sandbox callback (a Step Functions or local task token); never shown."""
    created_at: int
    updated_at: int
    started_at: int | None = None
    finished_at: int | None = None
    version: int = 1

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL


class JobChanges(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """Fields to change on a job; unset fields keep their value."""

    status: JobStatus | None = None
    progress: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    external_ref: str | None = None
    cost: dict[str, float] | None = None
    callback_digest: str | None = None
    task_token: str | None = None
    started_at: int | None = None
    finished_at: int | None = None

    def apply(self, job: Job, at: int) -> Job:
        changes = {field: value for field in self.__struct_fields__ if (value := getattr(self, field)) is not None}
        return msgspec.structs.replace(job, **changes, updated_at=at, version=job.version + 1)
