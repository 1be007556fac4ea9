"""Settings of the worker, from ``SENTINEL_*`` variables (see ``.env.example``)."""

from __future__ import annotations

from functools import cache
from typing import Annotated

import msgspec
from msgspec import Meta

from sentinel_config import (
    AnalyticsSettings,
    ArchiveSettings,
    AwsSettings,
    ClickHouseSettings,
    LogSettings,
    RedisSettings,
    TinybirdSettings,
    load_or_exit,
)


class WorkerProcessSettings(msgspec.Struct, kw_only=True, frozen=True):
    """The worker process itself (``SENTINEL_WORKER_*``)."""

    host: Annotated[str, Meta(description="Address of the worker's health and metrics endpoint")] = "127.0.0.1"
    port: Annotated[int, Meta(description="Port of the worker's health and metrics endpoint", ge=0, le=65_535)] = 8302
    shutdown_timeout_s: Annotated[
        float, Meta(description="Time given to finish, write and acknowledge at shutdown, seconds", gt=0, le=600)
    ] = 30.0


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    """Everything the worker reads from its environment."""

    worker: WorkerProcessSettings = msgspec.field(default_factory=WorkerProcessSettings)
    redis: RedisSettings = msgspec.field(default_factory=RedisSettings)
    analytics: AnalyticsSettings = msgspec.field(default_factory=AnalyticsSettings)
    clickhouse: ClickHouseSettings = msgspec.field(default_factory=ClickHouseSettings)
    tinybird: TinybirdSettings = msgspec.field(default_factory=TinybirdSettings)
    archive: ArchiveSettings = msgspec.field(default_factory=ArchiveSettings)
    aws: AwsSettings = msgspec.field(default_factory=AwsSettings)
    log: LogSettings = msgspec.field(default_factory=LogSettings)


@cache
def get_settings() -> Settings:
    """The process's settings, loaded once; a bad variable stops the process with one line."""
    return load_or_exit(Settings, "sentinel-worker")
