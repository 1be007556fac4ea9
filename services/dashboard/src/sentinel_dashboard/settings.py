"""Settings of the dashboard and orchestration API, from ``SENTINEL_*`` variables (see ``.env.example``)."""

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
    HttpServerSettings,
    LogSettings,
    RedisSettings,
    TinybirdSettings,
    load_or_exit,
)
from sentinel_connectors import ConnectorSettings
from sentinel_dashboard.cost.settings import CostSettings
from sentinel_dashboard.state.settings import StateSettings
from sentinel_flows import FlowSettings
from sentinel_flowtasks import AnalysisSettings
from sentinel_sandbox.settings import E2BSettings, LocalSandboxSettings, ModalSettings


class DashboardServerSettings(HttpServerSettings, kw_only=True, frozen=True):
    """Where the dashboard and orchestration API listens (``SENTINEL_DASHBOARD_*``)."""

    port: Annotated[int, Meta(description="Port of the dashboard and orchestration API", ge=0, le=65_535)] = 8300
    sse_heartbeat_s: Annotated[float, Meta(description="Seconds between SSE heartbeat comments", gt=0, le=300)] = 15.0
    sse_max_lifetime_s: Annotated[
        float, Meta(description="Longest life of one SSE connection before the client is told to reconnect", gt=0)
    ] = 900.0
    sse_retry_ms: Annotated[int, Meta(description="Reconnection delay advised to SSE clients, ms", ge=0)] = 3_000
    sse_queue_size: Annotated[
        int, Meta(description="Updates buffered per SSE connection before a slow client misses some", ge=1)
    ] = 1_000
    sse_max_connections_per_tenant: Annotated[
        int, Meta(description="Live SSE connections one tenant may hold per dashboard process", ge=1)
    ] = 50
    sse_token_ttl_s: Annotated[
        int, Meta(description="Lifetime of SSE access tokens minted by POST /api/sse-tokens, seconds", ge=10, le=3600)
    ] = 300


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    """Everything the dashboard and orchestration API reads from its environment."""

    dashboard: DashboardServerSettings = msgspec.field(default_factory=DashboardServerSettings)
    redis: RedisSettings = msgspec.field(default_factory=RedisSettings)
    control: ControlSettings = msgspec.field(default_factory=ControlSettings)
    analytics: AnalyticsSettings = msgspec.field(default_factory=AnalyticsSettings)
    clickhouse: ClickHouseSettings = msgspec.field(default_factory=ClickHouseSettings)
    tinybird: TinybirdSettings = msgspec.field(default_factory=TinybirdSettings)
    archive: ArchiveSettings = msgspec.field(default_factory=ArchiveSettings)
    aws: AwsSettings = msgspec.field(default_factory=AwsSettings)
    flows: FlowSettings = msgspec.field(default_factory=FlowSettings)
    connectors: ConnectorSettings = msgspec.field(default_factory=ConnectorSettings)
    analysis: AnalysisSettings = msgspec.field(default_factory=AnalysisSettings)
    e2b: E2BSettings = msgspec.field(default_factory=E2BSettings)
    modal: ModalSettings = msgspec.field(default_factory=ModalSettings)
    sandbox_local: LocalSandboxSettings = msgspec.field(default_factory=LocalSandboxSettings)
    cost: CostSettings = msgspec.field(default_factory=CostSettings)
    state: StateSettings = msgspec.field(default_factory=StateSettings)
    log: LogSettings = msgspec.field(default_factory=LogSettings)


@cache
def get_settings() -> Settings:
    """The process's settings, loaded once; a bad variable stops the process with one line."""
    return load_or_exit(Settings, "sentinel-dashboard")
