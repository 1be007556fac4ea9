"""Request and response bodies of the project and ingest key routes."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from sentinel_control import IngestKey, Project
from sentinel_control.models import Burst, EventsPerSecond, Name, RetentionDays


class ProjectCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    retention_days: RetentionDays = 30
    rate_limit_eps: EventsPerSecond = 10_000
    rate_limit_burst: Burst = 50_000
    enabled: bool = True


class ProjectUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    name: Name | None = None
    retention_days: RetentionDays | None = None
    rate_limit_eps: EventsPerSecond | None = None
    rate_limit_burst: Burst | None = None
    enabled: bool | None = None


class ProjectOut(msgspec.Struct, kw_only=True):
    id: str
    tenant_id: str
    name: str
    retention_days: int
    rate_limit_eps: int
    rate_limit_burst: int
    enabled: bool
    created_at: int
    updated_at: int

    @classmethod
    def of(cls, project: Project) -> ProjectOut:
        return cls(**msgspec.structs.asdict(project))


class ProjectList(msgspec.Struct, kw_only=True):
    items: list[ProjectOut]


class KeyCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name = "default"


class KeyOut(msgspec.Struct, kw_only=True):
    id: str
    project_id: str
    name: str
    visible: Annotated[str, Meta(description="Prefix and first characters of the key, to tell keys apart")]
    created_at: int
    revoked_at: int | None
    revoked: bool

    @classmethod
    def of(cls, key: IngestKey) -> KeyOut:
        return cls(
            id=key.id,
            project_id=key.project_id,
            name=key.name,
            visible=key.visible,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
            revoked=key.revoked,
        )


class KeyCreated(KeyOut, kw_only=True):
    key: Annotated[str, Meta(description="The ingest key itself. Shown once: store it now.")]


class KeyList(msgspec.Struct, kw_only=True):
    items: list[KeyOut]
