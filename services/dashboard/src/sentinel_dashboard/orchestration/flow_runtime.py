"""Running flows from the dashboard: the flow runner, its job bookkeeping, and resuming a flow on a callback.

Embedded (``SENTINEL_FLOWS_BACKEND=local``) the ``LocalFlowRunner`` executes the flow here with the handlers of
``sentinel_flowtasks``; on ``aws`` the dashboard starts Step Functions executions (named by the job id) and the
worker's task queue worker runs the handlers. Either way the sandbox callback reaches this process, which answers
the waiting task's token, and a job whose execution ended without its ``notify`` step (an execution timeout, a
runtime error) is finished from the execution's own status: by the local runner's change listener, or on AWS
when the job is read (DescribeExecution).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as redis
import structlog
from litestar import Litestar

from sentinel_connectors.jobs import announce
from sentinel_control import ControlStore, Job, JobChanges, new_id, now_ms
from sentinel_dashboard.settings import Settings
from sentinel_flows import (
    AwsClients,
    ExecutionDescription,
    ExecutionNotFound,
    ExecutionStatus,
    FlowCatalog,
    FlowRunner,
    LocalFlowRunner,
    StepFunctionsRunner,
    TaskTokenInvalid,
)
from sentinel_flowtasks import AnalysisContext, analysis_registry, change_job, merged
from sentinel_flowtasks.context import close_analysis_context, open_analysis_context
from sentinel_service import ApiError

log = structlog.get_logger("sentinel.orchestration")

LOGS_KEPT = 16_384
_ERROR_KEPT = 2_000
REFRESH_TIMEOUT_S = 3.0


class FlowRuntime:
    """The process's flow runner with the control store and Redis it records jobs in."""

    def __init__(
        self,
        settings: Settings,
        control: ControlStore,
        client: redis.Redis,
        context: AnalysisContext,
        clients: AwsClients | None,
    ) -> None:
        self.control = control
        self.redis = client
        self.context = context
        self.clients = clients
        self.catalog = FlowCatalog(settings.flows.flows_dir or None)
        self.runner: FlowRunner
        if settings.flows.backend == "aws":
            if clients is None:
                raise ValueError("the aws backend needs AwsClients")
            self.runner = StepFunctionsRunner(clients, settings.flows, catalog=self.catalog)
        else:
            self.runner = LocalFlowRunner(analysis_registry(context), catalog=self.catalog, on_change=self._changed)
        context.answerer = self.runner
        self._pending: set[asyncio.Task[Any]] = set()

    # --- starting --------------------------------------------------------------------------------------------
    async def start(self, tenant_id: str, project_id: str, flow: str, params: dict[str, Any]) -> Job:
        """Record a job for ``flow`` and start its execution, named by the job's id."""
        at = now_ms()
        job = Job(
            id=new_id("job"),
            tenant_id=tenant_id,
            project_id=project_id,
            kind="flow",
            name=flow,
            status="running",
            params=params,
            result={"flow": flow},
            created_at=at,
            updated_at=at,
            started_at=at,
        )
        await self.control.create_job(job)
        execution_input = {"job_id": job.id, "project_id": project_id, **_flow_input(params)}
        try:
            execution_id = await self.runner.start(flow, execution_input, name=job.id)
        except Exception as exc:
            log.exception("flow_start_failed", job_id=job.id, flow=flow)
            failed = await self._finish(job, "failed", error=f"the flow could not be started: {type(exc).__name__}")
            raise ApiError(
                503, f"the flow could not be started (job {failed.id} failed); try again", error="unavailable"
            ) from exc

        def started(current: Job) -> JobChanges | None:
            if current.external_ref is not None:
                return None
            return JobChanges(external_ref=execution_id, result=merged(current.result, execution_id=execution_id))

        job = await change_job(self.control, tenant_id, job.id, started) or job
        await announce(self.redis, job)
        log.info("flow_started", job_id=job.id, flow=flow, execution_id=execution_id)
        return job

    # --- finishing from the execution's status ---------------------------------------------------------------
    async def refresh(self, job: Job) -> Job:
        """A flow job still running here whose execution has ended is finished from the execution's status."""
        if job.kind != "flow" or job.finished or job.external_ref is None:
            return job
        try:
            # A read of the job must not hang on Step Functions (the clients' own timeouts and retries are long).
            async with asyncio.timeout(REFRESH_TIMEOUT_S):
                if isinstance(self.runner, StepFunctionsRunner):
                    brief = await self.runner.describe(job.external_ref, history=False)
                    if brief.status is ExecutionStatus.RUNNING:
                        return job
                description = await self.runner.describe(job.external_ref)
        except ExecutionNotFound:
            return job
        except Exception as exc:  # the job's stored state is still worth answering with (a timeout included)
            log.warning("flow_describe_failed", job_id=job.id, error=f"{type(exc).__name__}: {exc}")
            return job
        return await self.settle(job, description)

    async def settle(self, job: Job, description: ExecutionDescription) -> Job:
        """Record the ended execution on its job: transitions for cost, and the outcome if notify did not."""
        if description.status is ExecutionStatus.RUNNING:
            return job
        transitions = description.transitions
        if description.status is ExecutionStatus.SUCCEEDED:
            return await self._finish(job, "succeeded", transitions=transitions)
        cause = f": {description.cause}" if description.cause else ""
        error = f"{description.error or description.status.value}{cause}"[:_ERROR_KEPT]
        return await self._finish(job, "failed", error=error, transitions=transitions)

    async def _finish(self, job: Job, status: str, *, error: str | None = None, transitions: int | None = None) -> Job:
        at = now_ms()

        def change(current: Job) -> JobChanges | None:
            usage = {"flow_transitions": transitions} if transitions is not None else {}
            if current.finished:
                if not usage or (current.result or {}).get("usage", {}).get("flow_transitions") == transitions:
                    return None
                return JobChanges(result=merged(current.result, usage=usage))
            result = merged(current.result, usage=usage) if usage else current.result
            return JobChanges(
                status=status,  # type: ignore[arg-type]
                progress=1.0 if status == "succeeded" else None,
                error=error,
                result=result,
                finished_at=at,
            )

        updated = await change_job(self.control, job.tenant_id, job.id, change)
        if updated is None:
            return job
        if updated.version != job.version:
            await announce(self.redis, updated)
        return updated

    def _changed(self, description: ExecutionDescription) -> None:
        if description.status is ExecutionStatus.RUNNING:
            return
        task = asyncio.get_running_loop().create_task(self._settle_by_name(description))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _settle_by_name(self, description: ExecutionDescription) -> None:
        try:
            job = await self.control.find_job(description.name)
            if job is not None:
                await self.settle(job, description)
        except Exception:
            log.exception("flow_settle_failed", execution=description.execution_id)

    # --- the sandbox callback --------------------------------------------------------------------------------
    async def resume(self, job: Job, callback: Any, digest: str) -> tuple[Job, bool]:
        """Record a flow job's sandbox callback once and answer the task waiting for it; (job, was a repeat).

        A repeat of the accepted body answers the token again (a no-op once answered), so a callback retried
        after this process failed between recording and answering still resumes the flow."""
        usage = {name: value for name, value in callback.usage.items() if value is not None}
        applied = False

        def record(current: Job) -> JobChanges | None:
            nonlocal applied
            applied = False
            if current.callback_digest is not None:
                if current.callback_digest != digest:
                    raise ApiError(409, "a different callback was already accepted for this job", error="conflict")
                return None
            if current.finished:
                raise ApiError(409, f"the job already ended as {current.status}", error="conflict")
            applied = True
            script = {"status": callback.status, "result": callback.result, "logs": callback.logs[-LOGS_KEPT:]}
            script["usage"] = usage
            started = (current.result or {}).get("timings", {}).get("script_started_at")
            timings = {"script_ms": now_ms() - started} if isinstance(started, int) else {}
            return JobChanges(
                callback_digest=digest,
                progress=max(current.progress, 0.8),
                result=merged(current.result, script=script, timings=timings),
            )

        updated = await change_job(self.control, job.tenant_id, job.id, record)
        if updated is None:
            raise ApiError(404, f"no job {job.id}", field="job_id")
        token = updated.task_token
        if token is not None and not updated.finished:
            try:
                if callback.status == "succeeded":
                    answer = {"status": callback.status, "result": callback.result, "usage": usage}
                    await self.runner.send_task_success(token, answer)
                else:
                    cause = callback.logs[-_ERROR_KEPT:] or "the script reported a failure"
                    await self.runner.send_task_failure(token, "Sentinel.ScriptFailed", cause)
            except TaskTokenInvalid:
                if applied:
                    log.warning("callback_after_task_ended", job_id=job.id)
        if applied:
            await announce(self.redis, updated)
        return updated, not applied

    async def aclose(self) -> None:
        if isinstance(self.runner, LocalFlowRunner):
            await self.runner.aclose()
        await asyncio.gather(*self._pending, return_exceptions=True)


def _flow_input(params: dict[str, Any]) -> dict[str, Any]:
    """What of a job's params the flow's execution input carries (the sandbox choice stays on the job)."""
    return {name: value for name, value in params.items() if name != "sandbox"}


def flows_lifespan(settings: Settings) -> Any:
    """Open the flow runtime after the control store and Redis; stop executions and sandboxes at shutdown."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        context = await open_analysis_context(
            analysis=settings.analysis,
            public_url=settings.analysis.base_url(settings.dashboard.port),
            server_secret=settings.control.hash_secret,
            control=app.state.control,
            client=app.state.redis,
            analytics=settings.analytics,
            clickhouse=settings.clickhouse,
            archive=settings.archive,
            aws=settings.aws,
            e2b=settings.e2b,
            modal=settings.modal,
            sandbox_local=settings.sandbox_local,
            runners=getattr(app.state, "sandbox_runners", None),
            objects=getattr(app.state, "objects", None),
        )
        clients = AwsClients(settings.aws) if settings.flows.backend == "aws" else None
        runtime = FlowRuntime(settings, app.state.control, app.state.redis, context, clients)
        app.state.flows = runtime
        try:
            yield
        finally:
            await runtime.aclose()
            await close_analysis_context(context)
            if clients is not None:
                await clients.aclose()

    return lifespan
