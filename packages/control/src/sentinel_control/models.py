"""The control plane's records. Times are UTC milliseconds since the Unix epoch."""

from __future__ import annotations

import time
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from sentinel_control.ids import KeyId, ProjectId, TenantId, TokenId

Scope = Literal["read", "write", "admin"]
"""read: metrics and lists; write: change projects and keys; admin: manage tokens and everything else."""

SCOPES: tuple[Scope, ...] = ("read", "write", "admin")

Name = Annotated[str, Meta(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$")]
RetentionDays = Annotated[int, Meta(ge=1, le=3650, description="Days events are kept")]
EventsPerSecond = Annotated[int, Meta(ge=1, le=10_000_000, description="Sustained ingest rate, events per second")]
Burst = Annotated[int, Meta(ge=1, le=100_000_000, description="Events accepted at once above the sustained rate")]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class TenantLimits(msgspec.Struct, kw_only=True, frozen=True):
    """What a tenant may use."""

    max_projects: Annotated[int, Meta(ge=0, le=10_000)] = 100
    max_keys_per_project: Annotated[int, Meta(ge=1, le=50)] = 20
    max_tokens: Annotated[int, Meta(ge=1, le=1_000)] = 100


class Tenant(msgspec.Struct, kw_only=True, frozen=True):
    id: TenantId
    name: Name
    limits: TenantLimits = msgspec.field(default_factory=TenantLimits)
    created_at: int = msgspec.field(default_factory=now_ms)


class Project(msgspec.Struct, kw_only=True, frozen=True):
    id: ProjectId
    tenant_id: TenantId
    name: Name
    retention_days: RetentionDays = 30
    rate_limit_eps: EventsPerSecond = 10_000
    rate_limit_burst: Burst = 50_000
    enabled: bool = True
    created_at: int = msgspec.field(default_factory=now_ms)
    updated_at: int = msgspec.field(default_factory=now_ms)


class ProjectChanges(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """A partial update: fields left unset keep their value."""

    name: Name | None = None
    retention_days: RetentionDays | None = None
    rate_limit_eps: EventsPerSecond | None = None
    rate_limit_burst: Burst | None = None
    enabled: bool | None = None

    def apply(self, project: Project, at: int) -> Project:
        changes = {field: value for field in self.__struct_fields__ if (value := getattr(self, field)) is not None}
        return msgspec.structs.replace(project, **changes, updated_at=at)


class IngestKey(msgspec.Struct, kw_only=True, frozen=True):
    """An ingest key's record; the secret itself is never stored."""

    id: KeyId
    tenant_id: TenantId
    project_id: ProjectId
    name: Name
    visible: str
    """Prefix and first characters of the secret, such as ``snt_4Vh2x9Qa``."""
    key_hash: str
    created_at: int = msgspec.field(default_factory=now_ms)
    revoked_at: int | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class DashboardToken(msgspec.Struct, kw_only=True, frozen=True):
    """A dashboard API token's record; the secret itself is never stored."""

    id: TokenId
    tenant_id: TenantId
    name: Name
    scopes: tuple[Scope, ...]
    visible: str
    token_hash: str
    created_at: int = msgspec.field(default_factory=now_ms)
    expires_at: int | None = None
    revoked_at: int | None = None

    def usable(self, at: int) -> bool:
        return self.revoked_at is None and (self.expires_at is None or at < self.expires_at)


class KeyResolution(msgspec.Struct, kw_only=True, frozen=True):
    """What the ingest API needs to know about a presented key, from one lookup."""

    key_id: KeyId
    project_id: ProjectId
    tenant_id: TenantId
    project_enabled: bool
    retention_days: int
    rate_limit_eps: int
    rate_limit_burst: int
    revoked: bool
