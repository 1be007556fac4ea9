"""What a connector run is given: the queue, the store's batch index, object sources, settings and a reporter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio as redis

from sentinel_connectors.requeue import BatchIndex
from sentinel_connectors.settings import ConnectorSettings


class ObjectSource(Protocol):
    """The part of ``sentinel_storage.ObjectStore`` connectors read through: listing and reading objects."""

    def list(self, prefix: str = "") -> AsyncIterator[Any]:
        """Objects (with ``.key`` and ``.size``) whose key starts with ``prefix``, in key order."""
        ...

    async def get(self, key: str) -> bytes:
        """The object's bytes."""
        ...


class SyncFailed(Exception):
    """A sync that cannot go on, for a reason the job should show (bad bucket, worker not storing, ...)."""


Progress = Callable[[float, dict[str, Any]], Awaitable[None]]


@dataclass
class SyncContext:
    """Everything a connector needs for one job."""

    job_id: str
    tenant_id: str
    project_id: str
    retention_days: int
    redis: redis.Redis
    partitions: int
    index: BatchIndex
    archive: ObjectSource
    buckets: Callable[[str], ObjectSource]
    """The ``ObjectSource`` of a named S3 bucket (for imports)."""
    settings: ConnectorSettings
    progress: Progress
