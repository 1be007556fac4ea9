"""Load shedding: a bounded number of batches in work at once, and refusals that cost next to nothing.

Past ``max_in_flight`` batches being read, decoded or enqueued by this process, a new batch is refused at once
with 503 and ``Retry-After`` instead of waiting behind the others: offered twice what it can take, the API keeps
answering promptly and its memory stays bounded by the batches it admitted (each at most the body limits).

A refused request's body is read and dropped chunk by chunk before the answer goes out. Answering with the body
unread makes the server close the connection, and a client still writing its body then sees a reset instead of
the 503 and its ``Retry-After``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import structlog

from sentinel_service import ApiError
from sentinel_types import limits

log = structlog.get_logger("sentinel.ingest")

_RETRY_AFTER = {"Retry-After": "1"}
_LOG_EVERY_S = 5.0


class Admission:
    """How many batches are in work in this process, against ``limit``; single event loop, no lock needed."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0
        self.refused = 0
        self._refused_logged = 0
        self._logged_at = float("-inf")

    def enter(self) -> bool:
        """Take a slot, or count a refusal (logged at most every few seconds) and say no."""
        if self.in_flight < self.limit:
            self.in_flight += 1
            return True
        self.refused += 1
        now = time.monotonic()
        if now - self._logged_at >= _LOG_EVERY_S:
            log.warning(
                "ingest_overloaded",
                in_flight=self.in_flight,
                limit=self.limit,
                refused_since_last=self.refused - self._refused_logged,
            )
            self._logged_at, self._refused_logged = now, self.refused
        return False

    def leave(self) -> None:
        self.in_flight -= 1


async def discard_body(
    chunks: AsyncIterator[bytes], declared_length: str | None, limit: int = limits.MAX_BATCH_BYTES_COMPRESSED
) -> None:
    """Read a body and keep none of it, up to ``limit`` bytes (a longer one is left for the server to cut off)."""
    if declared_length is not None and declared_length.isdigit() and int(declared_length) > limit:
        return
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            return


async def refuse(chunks: AsyncIterator[bytes], declared_length: str | None, message: str, error: str) -> ApiError:
    """Drain the body, then the 503 to raise (with ``Retry-After``)."""
    await discard_body(chunks, declared_length)
    return ApiError(503, message, error=error, headers=_RETRY_AFTER)
