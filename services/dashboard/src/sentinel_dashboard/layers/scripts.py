"""``GET /api/layers/scripts?key=...``: a short-lived presigned GET URL for one of the caller's scripts."""

from __future__ import annotations

import time
from typing import Annotated, Any

from litestar import Request, get
from litestar.di import Provide
from litestar.params import Parameter

from sentinel_dashboard.auth import provide_principal
from sentinel_dashboard.deps import ControlDep, PrincipalDep
from sentinel_dashboard.responses import authed
from sentinel_dashboard.scripts.payloads import PresignedUrl
from sentinel_dashboard.scripts.service import parse_script_key, storage_unavailable
from sentinel_dashboard.storage import ObjectsDep, provide_objects
from sentinel_service import ApiError
from sentinel_storage import StorageError


@get(
    "/api/layers/scripts",
    tags=["layers"],
    summary="A short-lived presigned GET URL for a script of the caller's tenant",
    dependencies={"principal": Provide(provide_principal), "objects": Provide(provide_objects, sync_to_thread=False)},
    responses=authed(404),
)
async def presign_script(
    request: Request[Any, Any, Any],
    principal: PrincipalDep,
    control: ControlDep,
    objects: ObjectsDep,
    key: Annotated[str, Parameter(min_length=1, max_length=1024, description="The script's key, as listed")],
) -> PresignedUrl:
    """Only a key ``tenants/<your tenant>/projects/<your project>/scripts/<name>`` of a stored script gets a URL;
    traversal, another tenant's or project's key and a missing script are all the same 404."""
    principal.require("read")
    parsed = parse_script_key(key)
    not_found = ApiError(404, "no script with this key", field="key")
    if parsed is None or parsed[0] != principal.tenant_id:
        raise not_found
    if await control.get_project(principal.tenant_id, parsed[1]) is None:
        raise not_found
    ttl_s: int = request.app.state.settings.archive.presign_ttl_s
    try:
        if not await objects.exists(key):
            raise not_found
        url = await objects.presign_get(key, ttl_s)
    except StorageError as exc:
        raise storage_unavailable(exc) from exc
    return PresignedUrl(key=key, url=url, expires_at=int(time.time()) + ttl_s)
