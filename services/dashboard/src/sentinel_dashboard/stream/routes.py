"""Live updates over server-sent events: ``GET /events`` and ``POST /api/sse-tokens``.

``GET /events?project_id=...&topics=requests,metrics,jobs,state`` authenticates with ``Authorization: Bearer``
(a dashboard token with the read scope) or ``?access_token=`` (an SSE token for that project). Another tenant's
project is refused with 403. The stream starts with ``retry:`` advice, sends a heartbeat comment every
``SENTINEL_DASHBOARD_SSE_HEARTBEAT_S``, resumes ``jobs`` and ``state`` after ``Last-Event-ID``, tells a slow client
how many updates it missed (``event: dropped``), and ends when the token expires or the connection reaches its
maximum lifetime (``event: reconnect``) so clients reconnect with fresh credentials.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.di import Provide
from litestar.params import HeaderParameter, JSONBody, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_201_CREATED

from sentinel_control import ControlStore, now_ms
from sentinel_control.ids import PROJECT_ID_PATTERN
from sentinel_dashboard.auth.principal import Principal, authenticate, bearer_token, provide_principal
from sentinel_dashboard.deps import ControlDep, PrincipalDep
from sentinel_dashboard.responses import JSON_BODY, authed
from sentinel_dashboard.stream.hub import Hub, Subscriber, TooManyConnectionsError, Update
from sentinel_dashboard.stream.tokens import SseClaims, SseTokenSigner
from sentinel_queue import TOPICS, Topic, backlog_after, channel, id_key
from sentinel_service import ApiError


class SseTokenCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    project_id: Annotated[str, msgspec.Meta(pattern=PROJECT_ID_PATTERN)]
    ttl_s: Annotated[int, msgspec.Meta(ge=10, le=3600)] | None = None


class SseToken(msgspec.Struct, kw_only=True):
    access_token: str
    project_id: str
    expires_at: int


@post(
    "/api/sse-tokens",
    status_code=HTTP_201_CREATED,
    tags=["stream"],
    summary="Mint a short-lived SSE token",
    dependencies={"principal": Provide(provide_principal)},
    responses=authed(404, *JSON_BODY),
)
async def create_sse_token(
    request: Request[Any, Any, Any], principal: PrincipalDep, control: ControlDep, data: JSONBody[SseTokenCreate]
) -> SseToken:
    principal.require("read")
    if await control.get_project(principal.tenant_id, data.project_id) is None:
        raise ApiError(404, f"no project {data.project_id}", field="project_id")
    settings = request.app.state.settings.dashboard
    ttl_ms = min(data.ttl_s or settings.sse_token_ttl_s, settings.sse_token_ttl_s) * 1000
    claims = SseClaims(
        tenant_id=principal.tenant_id,
        project_id=data.project_id,
        token_id=principal.token_id,
        expires_at=now_ms() + ttl_ms,
    )
    signer: SseTokenSigner = request.app.state.sse_signer
    return SseToken(access_token=signer.mint(claims), project_id=data.project_id, expires_at=claims.expires_at)


def _topics(raw: str) -> list[Topic]:
    names = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = [name for name in names if name not in TOPICS]
    if unknown or not names:
        raise ApiError(400, f"topics must be among {', '.join(TOPICS)}", field="topics")
    return list(dict.fromkeys(names))  # type: ignore[arg-type]


async def _connect(
    request: Request[Any, Any, Any], project_id: str, access_token: str | None
) -> tuple[str, int | None]:
    """(tenant id, expiry in ms or None) of an authorised connection to ``project_id``."""
    store: ControlStore = request.app.state.control
    if access_token is not None:
        claims = request.app.state.sse_signer.verify(access_token, now_ms())
        if claims is None:
            raise ApiError(401, "invalid or expired SSE token: mint a new one with POST /api/sse-tokens")
        if claims.project_id != project_id:
            raise ApiError(403, "this SSE token is for another project", error="forbidden")
        minted_with = next((t for t in await store.list_tokens(claims.tenant_id) if t.id == claims.token_id), None)
        if minted_with is None or not minted_with.usable(now_ms()):
            raise ApiError(401, "the token this SSE token was minted with is no longer valid")
        return claims.tenant_id, claims.expires_at
    principal: Principal = await authenticate(bearer_token(request), store, request.app.state.hasher)
    principal.require("read")
    claimed = request.headers.get("x-tenant-id")
    if claimed is not None and claimed != principal.tenant_id:
        raise ApiError(403, "X-Tenant-ID does not match the token's tenant", error="tenant_mismatch")
    if await store.get_project(principal.tenant_id, project_id) is None:
        raise ApiError(403, "this project is not one of your tenant's", error="forbidden")
    token = await store.get_token_by_hash(request.app.state.hasher.hash(bearer_token(request)))
    return principal.tenant_id, token.expires_at if token else None


def _event(update: Update) -> bytes:
    head = f"id: {update.id}\n" if update.id else ""
    return f"{head}event: {update.topic}\ndata: ".encode() + update.data.replace(b"\n", b"") + b"\n\n"


async def _stream(
    hub: Hub,
    subscriber: Subscriber,
    request: Request[Any, Any, Any],
    project_id: str,
    topics: list[Topic],
    last_event_id: str | None,
    deadline: float,
) -> AsyncIterator[bytes]:
    settings = request.app.state.settings.dashboard
    try:
        yield f"retry: {settings.sse_retry_ms}\n\n".encode()
        # Subscribed before reading the backlog: nothing falls between the two; ids already sent are skipped.
        sent: dict[Topic, str] = {}
        if last_event_id:
            # In id order across the topics, read as one snapshot: a client cut off part-way resumes from the
            # last id it saw, so an update of one topic must never follow a later one of another.
            for update_id, topic, data in await backlog_after(
                request.app.state.redis, project_id, topics, last_event_id
            ):
                sent[topic] = update_id
                yield _event(Update(topic=topic, id=update_id, data=data))
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                yield b'event: reconnect\ndata: {"reason":"lifetime"}\n\n'
                return
            try:
                update = await asyncio.wait_for(
                    subscriber.queue.get(), timeout=min(settings.sse_heartbeat_s, remaining)
                )
            except TimeoutError:
                if deadline - time.monotonic() > 0:
                    yield b": heartbeat\n\n"
                continue
            if subscriber.dropped:
                yield f'event: dropped\ndata: {{"dropped":{subscriber.dropped}}}\n\n'.encode()
                subscriber.dropped = 0
            if update.id and update.topic in sent and _not_after(update.id, sent[update.topic]):
                continue
            yield _event(update)
    finally:
        await hub.leave(subscriber)


def _not_after(candidate: str, last: str) -> bool:
    return id_key(candidate) <= id_key(last)


@get(
    "/events",
    tags=["stream"],
    summary="Live updates of a project (server-sent events)",
    media_type="text/event-stream",
    responses=authed(429),
)
async def events(
    request: Request[Any, Any, Any],
    project_id: Annotated[str, QueryParameter(pattern=PROJECT_ID_PATTERN, description="Project to follow")],
    topics: Annotated[str, QueryParameter(description="Comma-separated: requests, metrics, jobs, state")] = (
        "requests,metrics,jobs,state"
    ),
    access_token: Annotated[str | None, QueryParameter(description="SSE token, for clients without headers")] = None,
    last_event_id: Annotated[
        str,
        HeaderParameter(
            name="Last-Event-ID",
            pattern=r"^([0-9]{1,19}(-[0-9]{1,19})?)?$",  # empty: no resume, as with no header
            description="Resume jobs and state after this update id (sent by EventSource when it reconnects)",
        ),
    ] = "",
) -> Stream:
    # Authenticated before the topics are read: a caller without credentials learns nothing of them.
    tenant_id, expires_at = await _connect(request, project_id, access_token)
    wanted = _topics(topics)
    settings = request.app.state.settings.dashboard
    lifetime = settings.sse_max_lifetime_s
    if expires_at is not None:
        lifetime = min(lifetime, max(0.0, (expires_at - now_ms()) / 1000))
    hub: Hub = request.app.state.hub
    try:
        subscriber = await hub.join(tenant_id, {channel(project_id, topic): topic for topic in wanted})
    except TooManyConnectionsError as exc:
        raise ApiError(
            429,
            f"this tenant already holds {settings.sse_max_connections_per_tenant} live connections",
            headers={"Retry-After": "30"},
        ) from exc
    return Stream(
        _stream(hub, subscriber, request, project_id, wanted, last_event_id, time.monotonic() + lifetime),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
