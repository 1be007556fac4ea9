"""``/api/tokens``: the tenant's dashboard tokens. Managing tokens takes the ``admin`` scope."""

from __future__ import annotations

from litestar import Controller, delete, get, post
from litestar.di import Provide
from litestar.params import JSONBody
from litestar.status_codes import HTTP_201_CREATED

from sentinel_control import now_ms
from sentinel_dashboard.auth import provide_principal
from sentinel_dashboard.deps import ControlDep, HasherDep, PrincipalDep
from sentinel_dashboard.params import TokenIdParam
from sentinel_dashboard.responses import JSON_BODY, authed
from sentinel_dashboard.tokens.payloads import TokenCreate, TokenCreated, TokenList, TokenOut
from sentinel_dashboard.tokens.service import issue_token
from sentinel_service import ApiError


class TokenController(Controller):
    path = "/api/tokens"
    tags = ["tokens"]
    dependencies = {"principal": Provide(provide_principal)}

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        summary="Create a dashboard token (shown once)",
        responses=authed(409, *JSON_BODY),
    )
    async def create_token(
        self, principal: PrincipalDep, control: ControlDep, hasher: HasherDep, data: JSONBody[TokenCreate]
    ) -> TokenCreated:
        principal.require("admin")
        return await issue_token(control, hasher, principal.tenant_id, data.name, data.scopes, data.expires_in_days)

    @get("/", summary="List the tenant's dashboard tokens (never the secrets)", responses=authed())
    async def list_tokens(self, principal: PrincipalDep, control: ControlDep) -> TokenList:
        principal.require("admin")
        return TokenList(items=[TokenOut.of(t) for t in await control.list_tokens(principal.tenant_id)])

    @delete("/{token_id:str}", status_code=200, summary="Revoke a dashboard token", responses=authed(404))
    async def revoke_token(self, principal: PrincipalDep, control: ControlDep, token_id: TokenIdParam) -> TokenOut:
        principal.require("admin")
        token = await control.revoke_token(principal.tenant_id, token_id, at=now_ms())
        if token is None:
            raise ApiError(404, f"no token {token_id}", field="token_id")
        return TokenOut.of(token)
