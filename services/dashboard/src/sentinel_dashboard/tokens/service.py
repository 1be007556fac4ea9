"""Dashboard token operations, shared by the HTTP routes and the admin command line."""

from __future__ import annotations

from collections.abc import Iterable

from sentinel_control import (
    SCOPES,
    TOKEN_PREFIX,
    ControlStore,
    DashboardToken,
    Scope,
    SecretHasher,
    Tenant,
    TenantLimits,
    new_id,
    now_ms,
)
from sentinel_dashboard.tokens.payloads import TokenCreated, TokenOut

DAY_MS = 24 * 3600 * 1000


async def issue_token(
    store: ControlStore,
    hasher: SecretHasher,
    tenant_id: str,
    name: str,
    scopes: Iterable[Scope],
    expires_in_days: int | None = None,
) -> TokenCreated:
    """Create a token; the answer holds the secret, shown this once."""
    issued = hasher.issue(TOKEN_PREFIX)
    now = now_ms()
    ordered = tuple(scope for scope in SCOPES if scope in set(scopes))
    token = DashboardToken(
        id=new_id("tok"),
        tenant_id=tenant_id,
        name=name,
        scopes=ordered,
        visible=issued.visible,
        token_hash=issued.hash,
        created_at=now,
        expires_at=now + expires_in_days * DAY_MS if expires_in_days else None,
    )
    await store.create_token(token)
    out = TokenOut.of(token)
    return TokenCreated(**{field: getattr(out, field) for field in out.__struct_fields__}, token=issued.value)


async def create_tenant(
    store: ControlStore, hasher: SecretHasher, name: str, limits: TenantLimits | None = None
) -> tuple[Tenant, TokenCreated]:
    """A new tenant and its first admin token (for bootstrapping: there is no other way to get one)."""
    tenant = Tenant(id=new_id("ten"), name=name, limits=limits or TenantLimits(), created_at=now_ms())
    await store.create_tenant(tenant)
    token = await issue_token(store, hasher, tenant.id, "admin", ("admin",))
    return tenant, token
