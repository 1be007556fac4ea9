"""Request and response bodies of the dashboard token routes."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from sentinel_control import DashboardToken, Scope, now_ms
from sentinel_control.models import Name


class TokenCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    scopes: Annotated[list[Scope], Meta(min_length=1, max_length=3)] = msgspec.field(default_factory=lambda: ["read"])
    expires_in_days: Annotated[int, Meta(ge=1, le=3650, description="Lifetime in days; omit for no expiry")] | None = (
        None
    )


class TokenOut(msgspec.Struct, kw_only=True):
    id: str
    name: str
    scopes: list[Scope]
    visible: str
    created_at: int
    expires_at: int | None
    revoked_at: int | None
    usable: bool

    @classmethod
    def of(cls, token: DashboardToken) -> TokenOut:
        return cls(
            id=token.id,
            name=token.name,
            scopes=list(token.scopes),
            visible=token.visible,
            created_at=token.created_at,
            expires_at=token.expires_at,
            revoked_at=token.revoked_at,
            usable=token.usable(now_ms()),
        )


class TokenCreated(TokenOut, kw_only=True):
    token: Annotated[str, Meta(description="The token itself. Shown once: store it now.")]


class TokenList(msgspec.Struct, kw_only=True):
    items: list[TokenOut]
