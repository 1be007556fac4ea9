"""``POST /v1/events/batch``: authenticate, read within limits, validate, rate-limit, de-duplicate, enqueue.

Answers: 202 (accepted, possibly with per-event rejections, or a duplicate), 400 (not a batch, or no valid
event), 401 (unknown or revoked key), 403 (project disabled), 413 (too large, too many events), 415 (content
type or encoding), 429 (rate limit, with Retry-After), 503 (this process already at its limit of batches in
work, the queue backlog above the high-water mark, or Redis or the control store unreachable, with Retry-After).
Every answer is JSON. Refusals for load come before the body is decoded: they cost a fraction of an acceptance
(the limit of batches in work is enforced by ``LoadShedder``, in front of the app).
"""

from __future__ import annotations

import math
from typing import Any

import redis.asyncio as redis
import structlog
from litestar import Request, Response, post
from litestar.openapi import ResponseSpec
from litestar.status_codes import HTTP_202_ACCEPTED

from sentinel_control import KeyResolution, KeyResolver, StoreUnavailableError, now_ms
from sentinel_ingest.batches.admission import OVERLOADED_BYTES, ByteBudget, refuse
from sentinel_ingest.batches.body import content_encoding, read_body
from sentinel_ingest.batches.checks import check_timestamps
from sentinel_ingest.batches.enqueue import BatchQueue, EnqueueResult
from sentinel_queue import QueuedBatch, encode_entry
from sentinel_service import ApiError
from sentinel_service.openapi import request_body_operation
from sentinel_types import (
    JSON_CONTENT_TYPE,
    MSGPACK_CONTENT_TYPE,
    BatchDecodeError,
    ErrorResponse,
    EventBatch,
    IngestResponse,
    TooManyEventsError,
    WireFormat,
    decode_batch_lenient,
    format_for_content_type,
    raw_events,
)

log = structlog.get_logger("sentinel.ingest")

_UNAVAILABLE = {"Retry-After": "1"}
BATCH_PATH = "/v1/events/batch"


async def authenticate(request: Request[Any, Any, Any], resolver: KeyResolver) -> KeyResolution:
    header = request.headers.get("authorization") or ""
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(
            401,
            "missing ingest key: send 'Authorization: Bearer <ingest key>'",
            headers={"WWW-Authenticate": 'Bearer realm="sentinel-ingest"'},
        )
    try:
        resolution = await resolver.resolve(key.strip())
    except StoreUnavailableError as exc:
        log.warning("control_store_unavailable", error=str(exc))
        raise ApiError(503, "key lookup is unavailable; retry shortly", headers=_UNAVAILABLE) from exc
    if resolution is None or resolution.revoked:
        raise ApiError(
            401,
            "unknown or revoked ingest key",
            headers={"WWW-Authenticate": 'Bearer realm="sentinel-ingest", error="invalid_token"'},
        )
    if not resolution.project_enabled:
        raise ApiError(403, "this project is disabled: ingestion is refused", error="project_disabled")
    return resolution


def rate_headers(resolution: KeyResolution, result: EnqueueResult | None) -> dict[str, str]:
    headers = {"X-RateLimit-Limit": str(resolution.rate_limit_eps)}
    if result is not None and result.remaining >= 0:
        headers["X-RateLimit-Remaining"] = str(result.remaining)
        refill = max(0, resolution.rate_limit_burst - result.remaining) / resolution.rate_limit_eps
        headers["X-RateLimit-Reset"] = str(math.ceil(refill))
    return headers


@post(
    BATCH_PATH,
    status_code=HTTP_202_ACCEPTED,
    summary="Send a batch of events",
    description=__doc__,
    tags=["ingest"],
    operation_class=request_body_operation(EventBatch, (JSON_CONTENT_TYPE, MSGPACK_CONTENT_TYPE)),
    responses={
        status: ResponseSpec(ErrorResponse, description=description)
        for status, description in (
            (400, "Not a batch, or no valid event (the rejections are listed)"),
            (401, "Missing, unknown or revoked ingest key"),
            (403, "The project is disabled"),
            (413, "Body or event count over the limit"),
            (415, "Unsupported Content-Type or Content-Encoding"),
            (429, "Rate limit reached: see Retry-After and X-RateLimit-*"),
            (503, "Overloaded, queue over its high-water mark, or a dependency unreachable: see Retry-After"),
        )
    },
    request_max_body_size=None,  # read_body enforces the limits while receiving
)
async def ingest_batch(request: Request[Any, Any, Any]) -> Response[IngestResponse]:
    state = request.app.state
    resolution = await authenticate(request, state.resolver)
    structlog.contextvars.bind_contextvars(project_id=resolution.project_id)

    fmt = format_for_content_type(request.headers.get("content-type"))
    if fmt is None:
        raise ApiError(
            415,
            f"Content-Type {request.headers.get('content-type')!r} is not supported: send "
            f"{JSON_CONTENT_TYPE} or {MSGPACK_CONTENT_TYPE}",
            field="Content-Type",
        )
    encoding = content_encoding(request.headers.get("content-encoding"))
    queue: BatchQueue = state.queue
    partition = queue.partition_of(resolution.project_id)
    try:
        backlog = await state.lag.lag(partition)
    except redis.RedisError as exc:
        log.warning("queue_unavailable", error=str(exc))
        length = request.headers.get("content-length")
        raise await refuse(request.stream(), length, "the queue is unavailable; retry shortly", "unavailable") from exc
    if backlog > state.settings.ingest.high_water_entries:
        raise await refuse(
            request.stream(),
            request.headers.get("content-length"),
            "the queue is over its high-water mark; retry shortly",
            "backpressure",
        )
    body = await read_body(request.stream(), request.headers.get("content-length"), encoding)
    budget: ByteBudget = state.body_budget
    if not budget.take(len(body)):
        raise ApiError(503, OVERLOADED_BYTES, error="overloaded", headers=_UNAVAILABLE)
    try:
        return await _accept(state, resolution, fmt, body)
    finally:
        budget.give(len(body))


async def _accept(state: Any, resolution: KeyResolution, fmt: WireFormat, body: bytes) -> Response[IngestResponse]:
    """Decode, check, rate-limit, de-duplicate and enqueue a body that was read within the limits."""
    queue: BatchQueue = state.queue
    try:
        decoded = decode_batch_lenient(body, fmt)
    except TooManyEventsError as exc:
        raise ApiError(413, exc.message, error="too_many_events", field=exc.field) from exc
    except BatchDecodeError as exc:
        raise ApiError(400, exc.message, error="invalid_batch", field=exc.field) from exc

    received_at = now_ms()
    events, late = check_timestamps(
        decoded.batch.events, decoded.indexes, now_ms=received_at, retention_days=resolution.retention_days
    )
    rejected = sorted([*decoded.rejected, *late], key=lambda r: r.index)
    if not events:
        raise ApiError(
            400,
            f"none of the {decoded.received} events is valid",
            error="no_valid_event",
            field="$.events",
            body={"rejected": rejected},
        )

    batch = decoded.batch
    entry = QueuedBatch(
        project_id=resolution.project_id,
        tenant_id=resolution.tenant_id,
        batch_id=batch.batch_id,
        received_at=received_at,
        retention_days=resolution.retention_days,
        sdk=batch.sdk,
        service=batch.service,
        environment=batch.environment,
        sample_rate=batch.sample_rate,
        dropped=batch.dropped,
        overhead=batch.overhead,
        events=events,
    )
    # A MessagePack batch accepted whole is forwarded as it came: its events array is copied, not re-encoded.
    forward = fmt == "msgpack" and not rejected
    blob = encode_entry(entry, events_msgpack=raw_events(body, "msgpack")) if forward else encode_entry(entry)
    try:
        result = await queue.enqueue(
            project_id=resolution.project_id,
            batch_id=str(batch.batch_id),
            blob=blob,
            events=len(events),
            rate_eps=resolution.rate_limit_eps,
            burst=resolution.rate_limit_burst,
        )
    except redis.RedisError as exc:
        log.warning("enqueue_failed", error=str(exc), batch_id=str(batch.batch_id))
        raise ApiError(503, "the queue is unavailable; retry shortly", headers=_UNAVAILABLE) from exc

    headers = rate_headers(resolution, result)
    if result.outcome == "limited":
        retry_after = max(1, math.ceil(result.retry_after_ms / 1000))
        raise ApiError(
            429,
            f"rate limit of {resolution.rate_limit_eps} events/s (burst {resolution.rate_limit_burst}) reached: "
            f"retry after {retry_after} s",
            headers={**headers, "Retry-After": str(retry_after)},
        )
    answer = IngestResponse(
        batch_id=batch.batch_id,
        accepted=0 if result.outcome == "duplicate" else len(events),
        duplicate=result.outcome == "duplicate",
        rejected=rejected,
    )
    return Response(answer, status_code=HTTP_202_ACCEPTED, headers=headers)
