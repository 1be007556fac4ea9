"""``POST /api/orchestration/trigger-sync``: run a connector for a project, as a job.

The body is ``{project_id, connector, params}``; ``connector`` is ``archive-replay`` or ``s3-access-logs`` and
``params`` are checked for it (400 naming the field, e.g. ``params.to``). Another tenant's project is a 404; the
token needs the ``write`` scope. The answer is the job (202); its progress and result follow on
``GET /api/jobs/{id}`` and the SSE topic ``jobs``. Embedded, the sync runs in this process; on AWS the request is
published on EventBridge (``sentinel.orchestration`` / ``SyncRequested``) and the worker runs it.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import structlog
from litestar import Request, post
from litestar.di import Provide
from litestar.params import JSONBody
from msgspec import Meta

from sentinel_connectors import ParamsError, announce, parse_params
from sentinel_connectors.jobs import JobReporter
from sentinel_control import Job, JobChanges, new_id, now_ms
from sentinel_control.ids import PROJECT_ID_PATTERN
from sentinel_control.views import JobOut
from sentinel_dashboard.auth import provide_principal
from sentinel_dashboard.deps import ControlDep, PrincipalDep
from sentinel_dashboard.projects.routes import project_of
from sentinel_dashboard.responses import JSON_BODY, authed
from sentinel_flows import SyncTrigger
from sentinel_service import ApiError

log = structlog.get_logger("sentinel.orchestration")


class TriggerSync(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    project_id: Annotated[str, Meta(pattern=PROJECT_ID_PATTERN, description="The project to sync into")]
    connector: Annotated[str, Meta(min_length=1, max_length=64, description="archive-replay or s3-access-logs")]
    params: dict[str, Any] = msgspec.field(default_factory=dict)


@post(
    "/api/orchestration/trigger-sync",
    status_code=202,
    tags=["orchestration"],
    summary="Run a connector sync for a project (archive-replay, s3-access-logs)",
    description=__doc__,
    dependencies={"principal": Provide(provide_principal)},
    responses=authed(404, *JSON_BODY),
)
async def trigger_sync(
    request: Request[Any, Any, Any], principal: PrincipalDep, control: ControlDep, data: JSONBody[TriggerSync]
) -> JobOut:
    principal.require("write")
    project = await project_of(control, principal, data.project_id)
    try:
        parse_params(data.connector, data.params)
    except ParamsError as exc:
        raise ApiError(400, exc.message, field=exc.field) from None
    at = now_ms()
    job = Job(
        id=new_id("job"),
        tenant_id=principal.tenant_id,
        project_id=project.id,
        kind="sync",
        name=data.connector,
        params=data.params,
        created_at=at,
        updated_at=at,
    )
    await control.create_job(job)
    await announce(request.app.state.redis, job)
    trigger: SyncTrigger = request.app.state.sync_trigger
    reporter = JobReporter(control, request.app.state.redis, job)
    try:
        event_id = await trigger.put_sync_requested(job.id, project.id, data.connector, data.params)
    except Exception as exc:  # the bus refused or is unreachable: the job cannot run
        log.warning("sync_not_requested", job_id=job.id, error=repr(exc))
        await reporter.fail(f"the sync could not be requested: {exc}")
        raise ApiError(503, "the sync could not be requested; try again", headers={"Retry-After": "5"}) from None
    await reporter.change(JobChanges(external_ref=event_id))
    latest = await control.get_job(principal.tenant_id, job.id)
    return JobOut.of(latest or reporter.job)
