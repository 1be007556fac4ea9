"""Load shedding: a bounded number of batches in work at once, and refusals that cost next to nothing.

``LoadShedder`` wraps the whole ASGI app. Past ``limit`` batches being read, decoded or enqueued by this process,
a new batch is refused at once with 503 ``overloaded`` and ``Retry-After``, before routing, authentication or
any framework code: offered twice what it can take, the API keeps answering and its memory stays bounded by the
batches it admitted (each at most the body limits).

A refused request's body is read and dropped chunk by chunk before the answer goes out. Answering with the body
unread makes the server close the connection, and a client still writing its body then sees a reset instead of
the 503 and its ``Retry-After``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

import msgspec
import structlog

from sentinel_config.logging import REQUEST_ID_HEADER, request_id_from_headers
from sentinel_ingest.batches.body import discard_rest
from sentinel_service import ApiError
from sentinel_types import ErrorResponse, limits

log = structlog.get_logger("sentinel.ingest")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]

_RETRY_AFTER = {"Retry-After": "1"}
_LOG_EVERY_S = 5.0
_OVERLOADED = "the ingest API is at its limit of batches in work; retry shortly"
OVERLOADED_BYTES = "the ingest API is at its limit of batch bytes in work; retry shortly"


class LoadShedder:
    """At most ``limit`` requests to ``path`` inside ``app`` at once; one event loop, so no lock is needed."""

    def __init__(self, app: ASGIApp, *, limit: int, path: str) -> None:
        self.app = app
        self.limit = limit
        self.path = path
        self.in_flight = 0
        self.refused = 0
        self._refused_logged = 0
        self._logged_at = float("-inf")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
        elif self.in_flight >= self.limit:
            await self._refuse(scope, receive, send)
        else:
            self.in_flight += 1
            try:
                await self.app(scope, receive, send)
            finally:
                self.in_flight -= 1

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.refused += 1
        request_id = request_id_from_headers(scope["headers"])
        now = time.monotonic()
        if now - self._logged_at >= _LOG_EVERY_S:
            log.warning(
                "ingest_overloaded",
                in_flight=self.in_flight,
                limit=self.limit,
                refused_since_last=self.refused - self._refused_logged,
                request_id=request_id,
            )
            self._logged_at, self._refused_logged = now, self.refused
        if not await _drain(receive, _declared_length(scope["headers"])):
            return  # the client went away: nobody to answer
        body = msgspec.json.encode(
            ErrorResponse(status=503, error="overloaded", message=_OVERLOADED, request_id=request_id)
        )
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", b"1"),
            (REQUEST_ID_HEADER.encode(), request_id.encode()),
        ]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class ByteBudget:
    """Decompressed body bytes held at once by the batches between decoding and the queue's answer.

    A body is admitted when it fits under ``limit`` beside the others, or when it is alone (a body larger than the
    whole budget is still served, one at a time). One event loop, so no lock is needed.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0

    def take(self, size: int) -> bool:
        if self.in_use and self.in_use + size > self.limit:
            return False
        self.in_use += size
        return True

    def give(self, size: int) -> None:
        self.in_use -= size


def _declared_length(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            return value.decode("latin-1")
    return None


async def _drain(receive: Receive, declared_length: str | None, limit: int = limits.MAX_BATCH_BYTES_COMPRESSED) -> bool:
    """Read and drop the request body (up to ``limit`` bytes); False when the client disconnected."""
    if declared_length is not None and declared_length.isdigit() and int(declared_length) > limit:
        return True
    size = 0
    while size <= limit:
        message = await receive()
        if message["type"] == "http.disconnect":
            return False
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return True


async def refuse(chunks: AsyncIterator[bytes], declared_length: str | None, message: str, error: str) -> ApiError:
    """Drain the body, then the 503 to raise (with ``Retry-After``), for refusals made inside the route."""
    limit = limits.MAX_BATCH_BYTES_COMPRESSED
    if not (declared_length is not None and declared_length.isdigit() and int(declared_length) > limit):
        await discard_rest(chunks, 0, limit)
    return ApiError(503, message, error=error, headers=_RETRY_AFTER)
