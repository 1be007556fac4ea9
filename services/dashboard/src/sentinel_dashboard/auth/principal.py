"""Authenticate a dashboard request and check its scopes and tenant.

A request carries ``Authorization: Bearer <dashboard token>``. The token is hashed with the server secret,
looked up, compared in constant time, and must be neither revoked nor expired (401 otherwise). The optional
``X-Tenant-ID`` header is a check, not a choice: when present it must name the token's tenant (403 otherwise).
"""

from __future__ import annotations

from typing import Any

import msgspec
import structlog
from litestar import Request

from sentinel_control import TOKEN_PREFIX, ControlStore, Scope, SecretHasher, looks_like, now_ms
from sentinel_service import ApiError

_WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="sentinel"'}

# admin includes write, write includes read.
_IMPLIED: dict[Scope, frozenset[Scope]] = {
    "read": frozenset({"read"}),
    "write": frozenset({"read", "write"}),
    "admin": frozenset({"read", "write", "admin"}),
}


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """The authenticated caller."""

    tenant_id: str
    token_id: str
    scopes: frozenset[Scope]

    def require(self, scope: Scope) -> None:
        """403 unless the caller's scopes include ``scope``."""
        if scope not in self.scopes:
            raise ApiError(403, f"this token lacks the {scope!r} scope", error="insufficient_scope")


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, headers=_WWW_AUTHENTICATE)


def bearer_token(request: Request[Any, Any, Any]) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise _unauthorized("missing Authorization header: send 'Authorization: Bearer <dashboard token>'")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise _unauthorized("the Authorization header must be 'Bearer <dashboard token>'")
    return value.strip()


async def authenticate(token: str, store: ControlStore, hasher: SecretHasher) -> Principal:
    """The principal a dashboard token stands for; ``ApiError(401)`` when it is unknown, revoked or expired."""
    if not looks_like(token, TOKEN_PREFIX):
        raise _unauthorized("invalid token")
    record = await store.get_token_by_hash(hasher.hash(token))
    if record is None or not hasher.matches(token, record.token_hash):
        raise _unauthorized("invalid token")
    if record.revoked_at is not None:
        raise _unauthorized("this token was revoked")
    if not record.usable(now_ms()):
        raise _unauthorized("this token has expired")
    scopes: set[Scope] = set()
    for scope in record.scopes:
        scopes |= _IMPLIED[scope]
    return Principal(tenant_id=record.tenant_id, token_id=record.id, scopes=frozenset(scopes))


async def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    """Dependency: authenticate the request and apply the ``X-Tenant-ID`` check."""
    principal = await authenticate(bearer_token(request), request.app.state.control, request.app.state.hasher)
    claimed = request.headers.get("x-tenant-id")
    if claimed is not None and claimed != principal.tenant_id:
        raise ApiError(403, "X-Tenant-ID does not match the token's tenant", error="tenant_mismatch")
    structlog.contextvars.bind_contextvars(tenant_id=principal.tenant_id)
    return principal
