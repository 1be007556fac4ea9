"""Project and ingest key operations, shared by the HTTP routes and the admin command line."""

from __future__ import annotations

from sentinel_control import (
    INGEST_KEY_PREFIX,
    ControlStore,
    IngestKey,
    Project,
    ProjectChanges,
    SecretHasher,
    new_id,
    now_ms,
)
from sentinel_dashboard.projects.payloads import KeyCreated, ProjectCreate, ProjectUpdate


async def create_project(store: ControlStore, tenant_id: str, request: ProjectCreate) -> Project:
    now = now_ms()
    project = Project(
        id=new_id("prj"),
        tenant_id=tenant_id,
        name=request.name,
        retention_days=request.retention_days,
        rate_limit_eps=request.rate_limit_eps,
        rate_limit_burst=request.rate_limit_burst,
        enabled=request.enabled,
        created_at=now,
        updated_at=now,
    )
    await store.create_project(project)
    return project


async def update_project(
    store: ControlStore, tenant_id: str, project_id: str, request: ProjectUpdate
) -> Project | None:
    changes = ProjectChanges(
        name=request.name,
        retention_days=request.retention_days,
        rate_limit_eps=request.rate_limit_eps,
        rate_limit_burst=request.rate_limit_burst,
        enabled=request.enabled,
    )
    return await store.update_project(tenant_id, project_id, changes)


def _new_key(hasher: SecretHasher, project: Project, name: str) -> tuple[str, IngestKey]:
    issued = hasher.issue(INGEST_KEY_PREFIX)
    key = IngestKey(
        id=new_id("key"),
        tenant_id=project.tenant_id,
        project_id=project.id,
        name=name,
        visible=issued.visible,
        key_hash=issued.hash,
        created_at=now_ms(),
    )
    return issued.value, key


def _created(secret: str, key: IngestKey) -> KeyCreated:
    return KeyCreated(
        id=key.id,
        project_id=key.project_id,
        name=key.name,
        visible=key.visible,
        created_at=key.created_at,
        revoked_at=None,
        revoked=False,
        key=secret,
    )


async def create_key(store: ControlStore, hasher: SecretHasher, project: Project, name: str) -> KeyCreated:
    """Issue a key for ``project``; the answer holds the secret, shown this once."""
    secret, key = _new_key(hasher, project, name)
    await store.create_key(key)
    return _created(secret, key)


async def rotate_key(
    store: ControlStore, hasher: SecretHasher, project: Project, old_key_id: str, name: str | None = None
) -> KeyCreated | None:
    """Issue a replacement and revoke ``old_key_id`` in one step; None if that key is unknown or revoked."""
    old = next((key for key in await store.list_keys(project.tenant_id, project.id) if key.id == old_key_id), None)
    if old is None or old.revoked:
        return None
    secret, key = _new_key(hasher, project, name or old.name)
    if not await store.rotate_key(project.tenant_id, project.id, old_key_id, key, at=now_ms()):
        return None
    return _created(secret, key)
