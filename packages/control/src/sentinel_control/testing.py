"""Factories that create records in a real store, for tests of the store and of the services using it."""

from __future__ import annotations

from sentinel_control.credentials import INGEST_KEY_PREFIX, TOKEN_PREFIX, SecretHasher
from sentinel_control.ids import new_id
from sentinel_control.models import DashboardToken, IngestKey, Project, Scope, Tenant, TenantLimits
from sentinel_control.store import ControlStore


async def make_tenant(store: ControlStore, name: str = "Acme", **limits: int) -> Tenant:
    tenant = Tenant(id=new_id("ten"), name=name, limits=TenantLimits(**limits))
    await store.create_tenant(tenant)
    return tenant


async def make_project(store: ControlStore, tenant: Tenant, name: str = "shop", **fields: object) -> Project:
    project = Project(id=new_id("prj"), tenant_id=tenant.id, name=name, **fields)  # type: ignore[arg-type]
    await store.create_project(project)
    return project


async def make_key(
    store: ControlStore, hasher: SecretHasher, project: Project, *, name: str = "default", created_at: int | None = None
) -> tuple[str, IngestKey]:
    issued = hasher.issue(INGEST_KEY_PREFIX)
    key = IngestKey(
        id=new_id("key"),
        tenant_id=project.tenant_id,
        project_id=project.id,
        name=name,
        visible=issued.visible,
        key_hash=issued.hash,
        **({"created_at": created_at} if created_at is not None else {}),
    )
    await store.create_key(key)
    return issued.value, key


async def make_token(
    store: ControlStore,
    hasher: SecretHasher,
    tenant: Tenant,
    *,
    scopes: tuple[Scope, ...] = ("read", "write"),
    expires_at: int | None = None,
) -> tuple[str, DashboardToken]:
    issued = hasher.issue(TOKEN_PREFIX)
    token = DashboardToken(
        id=new_id("tok"),
        tenant_id=tenant.id,
        name="ci",
        scopes=scopes,
        visible=issued.visible,
        token_hash=issued.hash,
        expires_at=expires_at,
    )
    await store.create_token(token)
    return issued.value, token
