"""``GET /api/projects/{project_id}/jobs`` and ``GET /api/jobs/{job_id}``, scoped to the caller's tenant."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import Provide
from litestar.params import Parameter, QueryParameter

from sentinel_control.ids import JOB_ID_PATTERN
from sentinel_dashboard.auth import provide_principal
from sentinel_dashboard.deps import ControlDep, PrincipalDep
from sentinel_dashboard.jobs.payloads import JobList, JobOut
from sentinel_dashboard.params import ProjectIdParam
from sentinel_dashboard.projects.routes import project_of
from sentinel_dashboard.responses import authed
from sentinel_service import ApiError

JobIdParam = Annotated[str, Parameter(pattern=JOB_ID_PATTERN, description="Job id (job_ and 22 characters)")]


class JobController(Controller):
    tags = ["jobs"]
    dependencies = {"principal": Provide(provide_principal)}

    @get("/api/projects/{project_id:str}/jobs", summary="A project's recent jobs, newest first", responses=authed(404))
    async def list_jobs(
        self,
        principal: PrincipalDep,
        control: ControlDep,
        project_id: ProjectIdParam,
        limit: Annotated[int, QueryParameter(ge=1, le=200, description="How many jobs")] = 50,
    ) -> JobList:
        principal.require("read")
        project = await project_of(control, principal, project_id)
        jobs = await control.list_jobs(principal.tenant_id, project.id, limit=limit)
        return JobList(items=[JobOut.of(job) for job in jobs])

    @get("/api/jobs/{job_id:str}", summary="A job: status, progress, timings, cost and result", responses=authed(404))
    async def get_job(
        self, request: Request[Any, Any, Any], principal: PrincipalDep, control: ControlDep, job_id: JobIdParam
    ) -> JobOut:
        principal.require("read")
        job = await control.get_job(principal.tenant_id, job_id)
        if job is None:
            raise ApiError(404, f"no job {job_id}", field="job_id")
        if job.kind == "flow" and not job.finished:  # an execution may have ended without its notify step
            job = await request.app.state.flows.refresh(job)
        return JobOut.of(job)
