"""The ``ControlStore`` protocol: one contract, two implementations (SQLite and DynamoDB single-table).

Every tenant-scoped read takes the tenant id and never returns another tenant's record, so a caller that
passes the authenticated tenant cannot reach across tenants by guessing ids.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from sentinel_control.jobs import Job, JobChanges
from sentinel_control.models import DashboardToken, IngestKey, KeyResolution, Project, ProjectChanges, Tenant


@runtime_checkable
class ControlStore(Protocol):
    """Tenants, projects, ingest keys and dashboard tokens."""

    async def setup(self) -> None:
        """Create tables if missing (idempotent)."""

    async def close(self) -> None:
        """Release connections."""

    async def ping(self) -> None:
        """Raise ``StoreUnavailableError`` unless the store answers."""

    # tenants
    async def create_tenant(self, tenant: Tenant) -> None:
        """Insert; ``ConflictError`` if the id exists."""

    async def get_tenant(self, tenant_id: str) -> Tenant | None: ...

    # projects
    async def create_project(self, project: Project) -> None:
        """Insert; ``ConflictError`` if the id or the name (case-insensitive, per tenant) exists;
        ``LimitExceededError`` past the tenant's ``max_projects``."""

    async def get_project(self, tenant_id: str, project_id: str) -> Project | None: ...

    async def list_projects(self, tenant_id: str) -> list[Project]:
        """The tenant's projects, oldest first."""

    async def update_project(self, tenant_id: str, project_id: str, changes: ProjectChanges) -> Project | None:
        """Apply ``changes``; None if there is no such project; ``ConflictError`` on a taken name."""

    async def delete_project(self, tenant_id: str, project_id: str) -> bool:
        """Delete the project and its keys (they stop resolving at once). False if it did not exist."""

    # ingest keys
    async def create_key(self, key: IngestKey) -> None:
        """Insert; ``LimitExceededError`` past the tenant's ``max_keys_per_project`` active keys; the project
        must exist in the key's tenant (else ``LookupError``)."""

    async def list_keys(self, tenant_id: str, project_id: str) -> list[IngestKey]:
        """The project's keys, revoked ones included, oldest first."""

    async def revoke_key(self, tenant_id: str, project_id: str, key_id: str, at: int) -> IngestKey | None:
        """Mark revoked (idempotent: the first revocation time is kept). None if there is no such key."""

    async def rotate_key(self, tenant_id: str, project_id: str, old_key_id: str, new_key: IngestKey, at: int) -> bool:
        """Atomically insert ``new_key`` and revoke the old one. False (and nothing written) if the old key is
        missing or already revoked."""

    async def resolve_key(self, key_hash: str) -> KeyResolution | None:
        """The key's project, tenant and limits from one lookup; None if no key has this hash."""

    # dashboard tokens
    async def create_token(self, token: DashboardToken) -> None:
        """Insert; ``LimitExceededError`` past the tenant's ``max_tokens`` usable tokens."""

    async def get_token_by_hash(self, token_hash: str) -> DashboardToken | None: ...

    async def list_tokens(self, tenant_id: str) -> list[DashboardToken]:
        """The tenant's tokens, revoked and expired included, oldest first."""

    async def revoke_token(self, tenant_id: str, token_id: str, at: int) -> DashboardToken | None:
        """Mark revoked (idempotent). None if there is no such token in the tenant."""

    # jobs
    async def create_job(self, job: Job) -> None:
        """Insert; ``ConflictError`` if the id exists."""

    async def get_job(self, tenant_id: str, job_id: str) -> Job | None:
        """The tenant's job, or None (also for another tenant's job)."""

    async def find_job(self, job_id: str) -> Job | None:
        """A job by id alone, whatever its tenant (for signed callbacks, which carry only the job id)."""

    async def list_jobs(
        self, tenant_id: str, project_id: str, limit: int = 50, *, before: tuple[int, str] | None = None
    ) -> list[Job]:
        """The project's most recent jobs, newest first (by ``created_at``, then id); with ``before``, only jobs
        older than that ``(created_at, id)``: the next page after a job."""

    async def update_job(self, tenant_id: str, job_id: str, changes: JobChanges, expected_version: int) -> Job | None:
        """Apply ``changes`` if the job is still at ``expected_version`` (then ``ConflictError`` otherwise);
        None if there is no such job."""
