"""``POST /api/webhooks/sandbox-callback``: a sandbox script reports its result.

The body is ``{job_id, status, result, logs, usage}``; ``X-Sentinel-Signature: t=<unix s>,v1=<hex>`` signs
``"<t>." + raw body`` with the job's secret (derived from the server secret and the job id, handed to the script when it
starts). Checks, in order: a declared Content-Type is JSON (415), the body is a callback (400), the signature and a
timestamp at most five minutes old (401), a result of at most 128 KiB of JSON (413), the job exists (404). The first
accepted callback updates the job, its node in the state tree and both SSE topics; a repeat of the same body gets the
same answer and changes nothing; a different body for a job that already has its callback is a 409. When a flow waits
for the script (the job holds a task token), the callback is recorded on the job and resumes the flow, whose last step
finishes the job.
"""

from __future__ import annotations

import hashlib
import time
from typing import Annotated, Any, Literal

import msgspec
import structlog
from litestar import Request, Response, post
from msgspec import Meta

from sentinel_control import ConflictError, ControlStore, Job, JobChanges, now_ms
from sentinel_control.ids import JOB_ID_PATTERN
from sentinel_dashboard.body import json_content_type, undecodable
from sentinel_dashboard.jobs.service import announce, job_secret
from sentinel_dashboard.responses import errors
from sentinel_sandbox import SIGNATURE_HEADER, verify
from sentinel_service import ApiError
from sentinel_service.openapi import request_body_operation
from sentinel_types import split_error

log = structlog.get_logger("sentinel.webhooks")

MAX_CALLBACK_BYTES = 1024 * 1024
MAX_RESULT_BYTES = 128 * 1024
"""A result is kept on the job record (a DynamoDB item holds at most 400 KB) and answers the flow's waiting task
(a Step Functions payload is at most 256 KB); larger outputs belong in a file the script writes."""
MAX_USAGE_FIGURES = 64
LOGS_KEPT = 16_384


class SandboxCallback(msgspec.Struct, kw_only=True):
    job_id: Annotated[str, Meta(pattern=JOB_ID_PATTERN)]
    status: Literal["succeeded", "failed"]
    result: Any = None
    logs: str = ""
    usage: Annotated[dict[str, float | None], Meta(max_length=MAX_USAGE_FIGURES)] = msgspec.field(default_factory=dict)


class CallbackAnswer(msgspec.Struct, kw_only=True):
    job_id: str
    status: str
    duplicate: bool


def _changes(callback: SandboxCallback, digest: str) -> JobChanges:
    at = now_ms()
    usage = {name: value for name, value in callback.usage.items() if value is not None}
    return JobChanges(
        status=callback.status,
        progress=1.0,
        result={"output": callback.result, "usage": usage, "logs": callback.logs[-LOGS_KEPT:]},
        error=None if callback.status == "succeeded" else (callback.logs[-2_000:] or "the script reported a failure"),
        callback_digest=digest,
        finished_at=at,
    )


async def _apply(store: ControlStore, job: Job, callback: SandboxCallback, digest: str) -> tuple[Job, bool]:
    """(job after the callback, whether this body was already applied)."""
    for _ in range(5):
        if job.callback_digest is not None:
            if job.callback_digest == digest:
                return job, True
            raise ApiError(409, "a different callback was already accepted for this job", error="conflict")
        if job.finished:
            raise ApiError(409, f"the job already ended as {job.status}", error="conflict")
        try:
            updated = await store.update_job(job.tenant_id, job.id, _changes(callback, digest), job.version)
        except ConflictError:
            reread = await store.get_job(job.tenant_id, job.id)
            if reread is None:
                break
            job = reread
            continue
        if updated is None:
            break
        return updated, False
    raise ApiError(404, f"no job {job.id}", field="job_id")


@post(
    "/api/webhooks/sandbox-callback",
    status_code=200,
    tags=["webhooks"],
    summary="A sandbox script reports its result (signed)",
    description=__doc__,
    request_max_body_size=MAX_CALLBACK_BYTES,
    # The route reads its raw body (the signature covers the exact bytes): its shape is declared here.
    operation_class=request_body_operation(
        SandboxCallback, ("application/json",), f"The callback as JSON, signed in {SIGNATURE_HEADER}."
    ),
    responses=errors(401, 404, 409, 413, 415, 503),
)
async def sandbox_callback(request: Request[Any, Any, Any]) -> Response[CallbackAnswer]:
    json_content_type(request)
    raw = await request.body()
    try:
        callback = msgspec.json.decode(raw, type=SandboxCallback)
    except msgspec.ValidationError as exc:
        path, message = split_error(exc)
        raise ApiError(400, f"not a sandbox callback: {message}", error="invalid_callback", field=path) from exc
    except msgspec.DecodeError as exc:
        raise ApiError(400, f"the body is not JSON: {exc}", error="invalid_callback", field="$") from exc
    except (RecursionError, UnicodeDecodeError) as exc:
        raise ApiError(400, undecodable(exc), error="invalid_callback", field="$") from None

    server_secret: str = request.app.state.settings.control.hash_secret
    check = verify(
        job_secret(server_secret, callback.job_id), request.headers.get(SIGNATURE_HEADER), raw, int(time.time())
    )
    if not check:
        log.warning("callback_refused", job_id=callback.job_id, reason=str(check.failure), detail=check.detail)
        raise ApiError(401, f"bad {SIGNATURE_HEADER}: {check.detail}", error="invalid_signature")

    result_bytes = len(msgspec.json.encode(callback.result))
    if result_bytes > MAX_RESULT_BYTES:
        raise ApiError(
            413,
            f"result is {result_bytes} bytes of JSON, more than {MAX_RESULT_BYTES}; post a summary and keep the rest "
            "in the script's own output",
            error="payload_too_large",
            field="result",
        )

    store: ControlStore = request.app.state.control
    job = await store.find_job(callback.job_id)
    if job is None:
        raise ApiError(404, f"no job {callback.job_id}", field="job_id")
    if job.task_token is not None:  # a flow waits for this script: the flow finishes the job
        job, duplicate = await request.app.state.flows.resume(job, callback, hashlib.sha256(raw).hexdigest())
        return Response(CallbackAnswer(job_id=job.id, status=job.status, duplicate=duplicate), status_code=200)
    job, duplicate = await _apply(store, job, callback, hashlib.sha256(raw).hexdigest())
    if not duplicate:
        await announce(request.app.state.redis, job)
        log.info("job_finished", job_id=job.id, status=job.status)
    return Response(CallbackAnswer(job_id=job.id, status=job.status, duplicate=duplicate), status_code=200)
