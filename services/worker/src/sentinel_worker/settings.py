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
    ControlSettings,
    LogSettings,
    RedisSettings,
    TinybirdSettings,
    load_or_exit,
)
from sentinel_connectors import ConnectorSettings
from sentinel_flows import FlowSettings
from sentinel_flowtasks import AnalysisSettings
from sentinel_sandbox.settings import E2BSettings, LocalSandboxSettings, ModalSettings

DASHBOARD_DEFAULT_PORT = 8300
"""Where sandboxes call back when ``SENTINEL_ANALYSIS_PUBLIC_URL`` is empty (the dashboard on this host)."""


class WorkerProcessSettings(msgspec.Struct, kw_only=True, frozen=True):
    """The worker process itself (``SENTINEL_WORKER_*``)."""

    host: Annotated[str, Meta(description="Address of the worker's health and metrics endpoint")] = "127.0.0.1"
    port: Annotated[int, Meta(description="Port of the worker's health and metrics endpoint", ge=0, le=65_535)] = 8302
    shutdown_timeout_s: Annotated[
        float, Meta(description="Time given to finish, write and acknowledge at shutdown, seconds", gt=0, le=600)
    ] = 30.0
    consumer_name: Annotated[
        str, Meta(description="Consumer name in the group; empty means host-pid-random (unique per process)")
    ] = ""
    read_count: Annotated[
        int, Meta(description="Most entries (batches) read per partition per read", ge=1, le=10_000)
    ] = 200
    flush_events: Annotated[
        int, Meta(description="An insert is sent once it holds this many events", ge=1, le=5_000_000)
    ] = 200_000
    flush_interval_s: Annotated[
        float, Meta(description="An insert is sent at the latest this long after its first batch, seconds", gt=0, le=60)
    ] = 0.25
    max_inflight: Annotated[
        int, Meta(description="Inserts being written at once (reading goes on meanwhile)", ge=1, le=16)
    ] = 2
    claim_idle_s: Annotated[
        float, Meta(description="Entries pending this long with another consumer are claimed, seconds", gt=0, le=86_400)
    ] = 60.0
    claim_interval_s: Annotated[
        float, Meta(description="How often to look for idle entries to claim, seconds", gt=0, le=3_600)
    ] = 5.0
    max_deliveries: Annotated[
        int, Meta(description="An entry delivered more times than this goes to the dead-letter stream", ge=1, le=1_000)
    ] = 5
    retry_initial_s: Annotated[
        float, Meta(description="First wait after a failed store or archive write, seconds", gt=0, le=60)
    ] = 0.5
    retry_max_s: Annotated[float, Meta(description="Longest wait between write retries, seconds", gt=0, le=600)] = 30.0
    trim_interval_s: Annotated[
        float, Meta(description="How often fully acknowledged stream history is trimmed, seconds", gt=0, le=3_600)
    ] = 10.0
    tail_events_per_s: Annotated[
        float, Meta(description="Live-tail events published per project per second at most", ge=0, le=10_000)
    ] = 20.0
    metrics_tick_s: Annotated[
        float,
        Meta(
            description="Live figures (SSE topic metrics) published per project at most this often, seconds; 0 off",
            ge=0,
            le=3_600,
        ),
    ] = 1.0
    default_retention_days: Annotated[
        int, Meta(description="Retention of rows whose batch does not say, days", ge=1, le=36_500)
    ] = 30
    migrate_on_start: Annotated[bool, Meta(description="Apply pending ClickHouse migrations before consuming")] = True
    migrations_dir: Annotated[
        str, Meta(description="Directory of the NNNN_name.sql migrations; empty means infra/clickhouse of the source")
    ] = ""


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    """Everything the worker reads from its environment."""

    worker: WorkerProcessSettings = msgspec.field(default_factory=WorkerProcessSettings)
    redis: RedisSettings = msgspec.field(default_factory=RedisSettings)
    analytics: AnalyticsSettings = msgspec.field(default_factory=AnalyticsSettings)
    clickhouse: ClickHouseSettings = msgspec.field(default_factory=ClickHouseSettings)
    tinybird: TinybirdSettings = msgspec.field(default_factory=TinybirdSettings)
    archive: ArchiveSettings = msgspec.field(default_factory=ArchiveSettings)
    aws: AwsSettings = msgspec.field(default_factory=AwsSettings)
    flows: FlowSettings = msgspec.field(default_factory=FlowSettings)
    control: ControlSettings = msgspec.field(default_factory=ControlSettings)
    """Where sync jobs are reported (the aws flows backend runs connector syncs in the worker)."""
    connectors: ConnectorSettings = msgspec.field(default_factory=ConnectorSettings)
    analysis: AnalysisSettings = msgspec.field(default_factory=AnalysisSettings)
    """The analysis flow's tasks (the aws flows backend runs them in the worker)."""
    e2b: E2BSettings = msgspec.field(default_factory=E2BSettings)
    modal: ModalSettings = msgspec.field(default_factory=ModalSettings)
    sandbox_local: LocalSandboxSettings = msgspec.field(default_factory=LocalSandboxSettings)
    log: LogSettings = msgspec.field(default_factory=LogSettings)


@cache
def get_settings() -> Settings:
    """The process's settings, loaded once; a bad variable stops the process with one line."""
    return load_or_exit(Settings, "sentinel-worker")
