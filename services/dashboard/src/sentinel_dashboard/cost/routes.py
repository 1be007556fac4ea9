"""``GET /api/projects/{project_id}/cost?month=YYYY-MM``: cost-calc for one of the caller's projects."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Request, get
from litestar.di import Provide
from litestar.params import Parameter

from sentinel_dashboard.auth import provide_principal
from sentinel_dashboard.cost.payloads import CostReport
from sentinel_dashboard.cost.prices import load_prices
from sentinel_dashboard.cost.service import project_cost
from sentinel_dashboard.deps import ControlDep, PrincipalDep
from sentinel_dashboard.params import ProjectIdParam
from sentinel_dashboard.projects.routes import project_of
from sentinel_dashboard.responses import authed
from sentinel_dashboard.scripts.service import storage_unavailable
from sentinel_dashboard.storage import ObjectsDep, provide_objects
from sentinel_storage import StorageError

# Years 0001-9999: there is no year 0 to count a month of.
MONTH_PATTERN = r"^(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-(0[1-9]|1[0-2])$"


@get(
    "/api/projects/{project_id:str}/cost",
    tags=["cost"],
    summary="What a project cost in a month: storage, compute, sandboxes and AWS requests, with a breakdown",
    dependencies={"principal": Provide(provide_principal), "objects": Provide(provide_objects, sync_to_thread=False)},
    responses=authed(404, 504),
)
async def project_cost_report(
    request: Request[Any, Any, Any],
    principal: PrincipalDep,
    control: ControlDep,
    objects: ObjectsDep,
    project_id: ProjectIdParam,
    month: Annotated[
        str | None, Parameter(pattern=MONTH_PATTERN, description="Month as YYYY-MM (UTC); the current month if absent")
    ] = None,
) -> CostReport:
    """Unit prices come from ``SENTINEL_COST_PRICES_FILE`` (public list prices by default); the method of each
    line is in the report's ``method`` and each line's ``basis``."""
    principal.require("read")
    project = await project_of(control, principal, project_id)
    settings = request.app.state.settings
    try:
        return await project_cost(
            tenant_id=principal.tenant_id,
            project_id=project.id,
            month=month or datetime.now(UTC).strftime("%Y-%m"),
            prices=load_prices(settings.cost.prices_file),
            settings=settings.cost,
            control=control,
            objects=objects,
            layers=request.app.state.layers,
            flows_backend=settings.flows.backend,
            archive_backend=settings.archive.backend,
            control_backend=settings.control.backend,
        )
    except StorageError as exc:
        raise storage_unavailable(exc) from exc
