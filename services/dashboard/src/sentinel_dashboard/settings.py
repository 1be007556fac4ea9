"""Settings of the dashboard and orchestration API, from ``SENTINEL_*`` variables (see ``.env.example``)."""

from __future__ import annotations

from functools import cache
from typing import Annotated

import msgspec
from msgspec import Meta

from sentinel_config import AwsSettings, ControlSettings, HttpServerSettings, LogSettings, RedisSettings, load_or_exit


class DashboardServerSettings(HttpServerSettings, kw_only=True, frozen=True):
    """Where the dashboard and orchestration API listens (``SENTINEL_DASHBOARD_*``)."""

    port: Annotated[int, Meta(description="Port of the dashboard and orchestration API", ge=0, le=65_535)] = 8300


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    """Everything the dashboard and orchestration API reads from its environment."""

    dashboard: DashboardServerSettings = msgspec.field(default_factory=DashboardServerSettings)
    redis: RedisSettings = msgspec.field(default_factory=RedisSettings)
    control: ControlSettings = msgspec.field(default_factory=ControlSettings)
    aws: AwsSettings = msgspec.field(default_factory=AwsSettings)
    log: LogSettings = msgspec.field(default_factory=LogSettings)


@cache
def get_settings() -> Settings:
    """The process's settings, loaded once; a bad variable stops the process with one line."""
    return load_or_exit(Settings, "sentinel-dashboard")
