"""``GET /api/layers/health/connectors``: status and latency of every dependency (any scope)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get
from litestar.di import Provide
from litestar.params import Parameter

from sentinel_dashboard.auth import provide_principal
from sentinel_dashboard.deps import ControlDep, PrincipalDep
from sentinel_dashboard.layers.health import ConnectorsHealth, check_connectors
from sentinel_dashboard.responses import authed
from sentinel_dashboard.storage import ObjectsDep, provide_objects


@get(
    "/api/layers/health/connectors",
    tags=["layers"],
    summary="Health and latency of Redis, the analytics store, the archive, the control store, AWS and sandboxes",
    dependencies={"principal": Provide(provide_principal), "objects": Provide(provide_objects, sync_to_thread=False)},
    responses=authed(),
)
async def connectors_health(
    request: Request[Any, Any, Any],
    principal: PrincipalDep,
    control: ControlDep,
    objects: ObjectsDep,
    timeout_ms: Annotated[
        int, Parameter(ge=50, le=10_000, description="Time each check may take before it counts as down, ms")
    ] = 2_000,
) -> ConnectorsHealth:
    """Each connector is ``not_configured``, ``healthy``, ``degraded`` (answered in more than half the timeout)
    or ``down`` (failed, or no answer within ``timeout_ms``); all are checked at once."""
    state = request.app.state
    return await check_connectors(
        settings=state.settings,
        redis=state.redis,
        control=control,
        objects=objects,
        layers=state.layers,
        runners=state.health_runners,
        timeout_s=timeout_ms / 1000,
    )
