"""What the worker writes through, whichever analytics store is configured."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import msgspec

from sentinel_analytics.wire import StoredBatch


class StoreError(RuntimeError):
    """A write failed. ``retryable`` is False when the store rejected the data itself (retrying cannot help)."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class DeadLetter(msgspec.Struct, kw_only=True):
    """A queue entry the worker gave up on, with why."""

    stream: str
    entry_id: str
    first_seen: int
    """When the entry entered the stream, UTC ms (from its id)."""
    dead_lettered_at: int
    deliveries: int
    error: str
    payload: bytes
    project_id: str = ""
    batch_id: str | None = None


class AnalyticsStore(Protocol):
    """The write side of the analytics store."""

    async def write(self, token: str, batches: Sequence[StoredBatch]) -> None:
        """Store ``batches`` durably, at most once per ``token``: writing the same token and batches again
        changes nothing. Raises ``StoreError``."""

    async def write_rows(self, token: str, lines: Sequence[bytes]) -> None:
        """``write`` for batches already encoded as their ``landing_line`` (what the worker holds): the same
        contract. Raises ``StoreError``."""

    async def write_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        """Record dead letters (idempotent per stream and entry id). Raises ``StoreError``."""

    async def ping(self) -> bool:
        """True when the store answers."""

    async def close(self) -> None:
        """Release connections."""
