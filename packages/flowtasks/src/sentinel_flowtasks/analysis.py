"""The analysis flow's task handlers (``infra/flows/analysis.asl.json``), one registry for both backends.

``analysis_registry(context)`` returns a ``HandlerRegistry`` with ``export_window``, ``run_script``,
``store_artifact`` and ``notify``. The dashboard's local runner calls them in-process; on Step Functions the
worker's ``TaskQueueWorker`` calls them. Every handler is idempotent per job: a redelivered request finds the job's
record of its step and repeats nothing the job already shows.

What each job records in ``job.result`` (read by the API, the state tree and cost-calc) is documented in the
package README ("The job record").
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
import redis.asyncio as redis
import structlog

from sentinel_connectors.jobs import announce
from sentinel_control import ControlStore, Job, JobChanges, now_ms
from sentinel_flows import AWAIT_CALLBACK, HandlerRegistry, TaskAnswerer, TaskContext, TaskError, TaskTokenInvalid
from sentinel_flowtasks import keys
from sentinel_flowtasks.export import ExportTooLarge
from sentinel_flowtasks.jobs import change_job, merged
from sentinel_flowtasks.settings import AnalysisSettings
from sentinel_sandbox import (
    SandboxDisabled,
    SandboxHandle,
    SandboxLimits,
    SandboxRun,
    SandboxRunner,
    SandboxStatus,
    SandboxUnavailable,
    job_secret,
    script_env,
)
from sentinel_storage import ObjectNotFound, ObjectStore

log = structlog.get_logger("sentinel.flows.analysis")

Exporter = Callable[[str, int, int], Awaitable[tuple[bytes, int]]]
"""``(project_id, start_ms, end_ms) -> (ndjson, rows)``: the project's events over a window."""

_POLL_S = 0.5
_ERROR_TAIL = 2_000


@dataclass
class AnalysisContext:
    """What the handlers need, opened once per process (the dashboard's lifespan or the worker's)."""

    settings: AnalysisSettings
    server_secret: str
    """``SENTINEL_CONTROL_HASH_SECRET``: each job's callback secret is derived from it."""
    callback_url: str
    control: ControlStore
    redis: redis.Redis
    objects: ObjectStore
    export: Exporter
    runners: Mapping[str, SandboxRunner]
    """Sandbox provider (``e2b``, ``modal``, ``local``) → its runner; a provider missing here is not configured."""
    answerer: TaskAnswerer | None = None
    """Where a run that ended without calling back is reported (the flow runner); set once it exists."""
    owns_objects: bool = True
    """Whether closing the context closes ``objects`` (False when the service shares its own store)."""
    watchers: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    async def aclose(self) -> None:
        """Stop watching sandbox runs (the runs themselves are the runners' to stop)."""
        for watcher in list(self.watchers.values()):
            watcher.cancel()
        await asyncio.gather(*self.watchers.values(), return_exceptions=True)
        self.watchers.clear()


def analysis_registry(context: AnalysisContext) -> HandlerRegistry:
    """The analysis flow's four handlers bound to ``context``."""
    return HandlerRegistry(
        {
            "export_window": lambda payload, task: export_window(context, payload, task),
            "run_script": lambda payload, task: run_script(context, payload, task),
            "store_artifact": lambda payload, task: store_artifact(context, payload, task),
            "notify": lambda payload, task: notify(context, payload, task),
        }
    )


def window_ms(window: Any) -> tuple[int, int]:
    """``(start_ms, end_ms)`` of ``{"start": iso8601, "end": iso8601}``; ``ValueError`` naming the bad field."""
    if not isinstance(window, dict):
        raise ValueError("window must be an object {start, end}")
    bounds = []
    for name in ("start", "end"):
        value = window.get(name)
        if not isinstance(value, str):
            raise ValueError(f"window.{name} must be an ISO 8601 date-time string")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"window.{name}: {value!r} is not an ISO 8601 date-time") from None
        if moment.tzinfo is None:
            raise ValueError(f"window.{name}: {value!r} needs a time zone (e.g. a trailing Z)")
        bounds.append(int(moment.astimezone(UTC).timestamp() * 1000))
    if bounds[1] <= bounds[0]:
        raise ValueError("window.end must be after window.start")
    return bounds[0], bounds[1]


async def _job(context: AnalysisContext, payload: Any) -> Job:
    if not isinstance(payload, dict) or not isinstance(payload.get("job_id"), str):
        raise TaskError("Sentinel.InvalidInput", "the task input has no job_id")
    job = await context.control.find_job(payload["job_id"])
    if job is None or job.project_id != payload.get("project_id"):
        raise TaskError("Sentinel.JobMissing", f"no job {payload['job_id']} in project {payload.get('project_id')}")
    return job


async def _record(context: AnalysisContext, job: Job, progress: float | None = None, **sections: Any) -> Job:
    """Merge ``sections`` into the job's result (and raise its progress), then publish the change."""

    def change(current: Job) -> JobChanges | None:
        if current.finished:
            return None
        step = max(current.progress, progress) if progress is not None else None
        return JobChanges(result=merged(current.result, **sections), progress=step)

    updated = await change_job(context.control, job.tenant_id, job.id, change)
    if updated is not None and updated.version != job.version:
        await announce(context.redis, updated)
    return updated or job


def _elapsed(job: Job, started_field: str) -> int | None:
    started = (job.result or {}).get("timings", {}).get(started_field)
    return now_ms() - started if isinstance(started, int) else None


# --- export_window ---------------------------------------------------------------------------------------------
async def export_window(context: AnalysisContext, payload: Any, task: TaskContext) -> Any:
    job = await _job(context, payload)
    try:
        start_ms, end_ms = window_ms(payload.get("window"))
    except ValueError as exc:
        raise TaskError("Sentinel.InvalidInput", str(exc)) from None
    job = await _record(context, job, 0.1, timings={"export_started_at": now_ms()})
    key = keys.export_key(job.tenant_id, job.project_id, job.id)
    try:
        body, rows = await context.export(job.project_id, start_ms, end_ms)
        await context.objects.put(key, body, content_type="application/x-ndjson")
    except ExportTooLarge as exc:  # no retry makes it smaller
        raise TaskError("Sentinel.ExportTooLarge", str(exc)) from None
    except Exception as exc:  # the store or the object store is down or slow: the flow retries
        log.warning("export_failed", job_id=job.id, error=f"{type(exc).__name__}: {exc}")
        raise TaskError("Sentinel.Retryable", f"export failed: {type(exc).__name__}: {exc}") from exc
    export = {"key": key, "rows": rows, "bytes": len(body)}
    await _record(context, job, 0.3, export=export, timings={"export_ms": _elapsed(job, "export_started_at")})
    return {"archive_key": key, "rows": rows, "bytes": len(body)}


# --- run_script ------------------------------------------------------------------------------------------------
async def run_script(context: AnalysisContext, payload: Any, task: TaskContext) -> Any:
    job = await _job(context, payload)
    if job.task_token == task.token and (job.result or {}).get("sandbox", {}).get("run_id"):
        return AWAIT_CALLBACK  # a redelivered request: the run is underway and holds this token already
    provider = str(job.params.get("sandbox") or context.settings.sandbox)
    runner = context.runners.get(provider)
    if runner is None:
        raise TaskError("Sentinel.SandboxDisabled", f"the {provider} sandbox is not configured on this server")
    script_key, data_key = payload.get("script_key"), payload.get("data_key")
    if not isinstance(script_key, str) or not keys.is_script_key(script_key, job.tenant_id, job.project_id):
        raise TaskError("Sentinel.InvalidInput", f"script_key {script_key!r} is not one of the project's scripts")
    try:
        source = (await context.objects.get(script_key)).decode("utf-8")
    except ObjectNotFound:
        raise TaskError("Sentinel.ScriptMissing", f"no script stored at {script_key}") from None
    except UnicodeDecodeError:
        raise TaskError("Sentinel.InvalidInput", f"the script at {script_key} is not UTF-8 text") from None
    except Exception as exc:
        raise TaskError("Sentinel.SandboxUnavailable", f"reading the script failed: {exc}") from exc
    try:
        data_url = await context.objects.presign_get(str(data_key), context.settings.data_url_ttl_s)
    except Exception as exc:
        raise TaskError("Sentinel.SandboxUnavailable", f"presigning the data URL failed: {exc}") from exc

    # The token goes on the job before the script starts: a fast script's callback must find it.
    started_at = now_ms()

    def keep_token(current: Job) -> JobChanges | None:
        if current.finished:
            return None
        sections = {"sandbox": {"provider": provider}, "timings": {"script_started_at": started_at}}
        return JobChanges(
            task_token=task.token, progress=max(current.progress, 0.4), result=merged(current.result, **sections)
        )

    job = await change_job(context.control, job.tenant_id, job.id, keep_token) or job
    if job.finished:
        raise TaskError("Sentinel.JobEnded", f"job {job.id} already ended as {job.status}")
    limits = SandboxLimits(
        wall_s=context.settings.wall_s, cpu_s=context.settings.cpu_s, memory_mb=context.settings.memory_mb
    )
    env = script_env(
        data_url=data_url,
        callback_url=context.callback_url,
        job_id=job.id,
        job_secret=job_secret(context.server_secret, job.id),
    )
    try:
        handle = await runner.start(SandboxRun(job_id=job.id, source=source, env=env, limits=limits))
    except SandboxDisabled as exc:
        raise TaskError("Sentinel.SandboxDisabled", str(exc)) from None
    except SandboxUnavailable as exc:
        raise TaskError("Sentinel.SandboxUnavailable", str(exc)) from None
    await _record(context, job, 0.5, sandbox={"provider": provider, "run_id": handle.run_id})
    _watch(context, runner, handle, job, task.token)
    log.info("script_started", job_id=job.id, provider=provider, run_id=handle.run_id)
    return AWAIT_CALLBACK


def _watch(context: AnalysisContext, runner: SandboxRunner, handle: SandboxHandle, job: Job, token: str) -> None:
    previous = context.watchers.pop(job.id, None)
    if previous is not None:
        previous.cancel()
    watcher = asyncio.create_task(_watch_run(context, runner, handle, job, token), name=f"sandbox:{job.id}")
    context.watchers[job.id] = watcher
    watcher.add_done_callback(
        lambda done: context.watchers.pop(job.id, None) if context.watchers.get(job.id) is done else None
    )


async def _watch_run(
    context: AnalysisContext, runner: SandboxRunner, handle: SandboxHandle, job: Job, token: str
) -> None:
    """Record the run's billed seconds when it ends; fail the task if it ended without calling back."""
    deadline = time.monotonic() + context.settings.wall_s + 120
    status: SandboxStatus | None = None
    while time.monotonic() < deadline:
        try:
            status = await runner.status(handle)
        except SandboxUnavailable:
            status = None
        if status is not None and (status.final or status.state == "unknown"):
            break
        await asyncio.sleep(_POLL_S)
    if status is None or not status.final:
        return
    sandbox = {"seconds": round(status.usage.wall_s, 3), "cpu_s": status.usage.cpu_s, "state": str(status.state)}
    if status.limit_exceeded:
        sandbox["limit_exceeded"] = status.limit_exceeded
    await _record_sandbox(context, job, sandbox)
    await asyncio.sleep(
        context.settings.no_callback_grace_s if status.error is None else min(2.0, context.settings.no_callback_grace_s)
    )
    current = await context.control.get_job(job.tenant_id, job.id)
    if current is None or current.finished or current.callback_digest is not None or context.answerer is None:
        return
    error = "Sentinel.ScriptFailed" if status.state != "finished" else "Sentinel.NoCallback"
    cause = status.error or (status.stderr or "")[-_ERROR_TAIL:] or "the script ended without calling back"
    if error == "Sentinel.NoCallback":
        cause = "the script ended without posting its result to SENTINEL_CALLBACK_URL"
    with contextlib.suppress(TaskTokenInvalid):
        await context.answerer.send_task_failure(token, error, cause)
        log.info("script_ended_without_callback", job_id=job.id, error=error)


async def _record_sandbox(context: AnalysisContext, job: Job, sandbox: dict[str, Any]) -> None:
    """The billed seconds go on the job even once it has ended: cost-calc reads them whenever they arrive."""

    def change(current: Job) -> JobChanges:
        usage = {"sandbox_seconds": sandbox["seconds"], "sandbox_cpu_s": sandbox["cpu_s"]}
        return JobChanges(result=merged(current.result, sandbox=sandbox, usage=usage))

    updated = await change_job(context.control, job.tenant_id, job.id, change)
    if updated is not None:
        await announce(context.redis, updated)


# --- store_artifact --------------------------------------------------------------------------------------------
async def store_artifact(context: AnalysisContext, payload: Any, task: TaskContext) -> Any:
    job = await _job(context, payload)
    job = await _record(context, job, timings={"artifact_started_at": now_ms()})
    script = payload.get("script") if isinstance(payload.get("script"), dict) else {}
    artifact = {
        "job_id": job.id,
        "project_id": job.project_id,
        "flow": job.name,
        "window": payload.get("window"),
        "rows": (job.result or {}).get("export", {}).get("rows"),
        "script_key": job.params.get("script_key"),
        "status": script.get("status"),
        "result": script.get("result"),
        "usage": script.get("usage", {}),
        "created_at": now_ms(),
    }
    body = msgspec.json.encode(artifact)
    key = keys.artifact_key(job.tenant_id, job.project_id, job.id)
    try:
        await context.objects.put(key, body, content_type="application/json")
    except Exception as exc:
        raise TaskError("Sentinel.Retryable", f"storing the artifact failed: {type(exc).__name__}: {exc}") from exc
    await _record(
        context,
        job,
        0.9,
        artifact={"key": key, "bytes": len(body)},
        timings={"artifact_ms": _elapsed(job, "artifact_started_at")},
    )
    return {"artifact_key": key, "bytes": len(body)}


# --- notify ----------------------------------------------------------------------------------------------------
async def notify(context: AnalysisContext, payload: Any, task: TaskContext) -> Any:
    job = await _job(context, payload)
    watcher = context.watchers.get(job.id)
    if watcher is not None and payload.get("status") == "succeeded":
        # The sandbox's billed seconds are part of the job's record: give the run a moment to end.
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(watcher), timeout=context.settings.usage_wait_s)
    at = now_ms()
    failed = payload.get("status") != "succeeded"
    error = None
    if failed:
        detail = payload.get("error") if isinstance(payload.get("error"), dict) else {}
        name, cause = detail.get("Error") or "Sentinel.Failed", detail.get("Cause") or ""
        error = f"{name}: {cause}"[:_ERROR_TAIL] if cause else str(name)

    def finish(current: Job) -> JobChanges | None:
        if current.finished:
            return None
        total = at - current.started_at if current.started_at is not None else None
        result = merged(current.result, timings={"total_ms": total})
        if not failed:
            return JobChanges(status="succeeded", progress=1.0, result=result, finished_at=at)
        return JobChanges(status="failed", result=result, error=error, finished_at=at)

    updated = await change_job(context.control, job.tenant_id, job.id, finish)
    if updated is not None and updated.version != job.version:
        await announce(context.redis, updated)
        log.info("flow_job_finished", job_id=job.id, status=updated.status, error=error)
    return {"job_id": job.id, "status": updated.status if updated else None}
