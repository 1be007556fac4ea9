"""Typed settings from ``SENTINEL_*`` environment variables, and logging setup, shared by Sentinel's services.

A service composes its settings from sections and loads them once at start-up::

    class Settings(msgspec.Struct, kw_only=True, frozen=True):
        redis: RedisSettings = RedisSettings()
        log: LogSettings = LogSettings()

    settings = load_or_exit(Settings, "sentinel-ingest")   # SENTINEL_REDIS_URL, SENTINEL_LOG_LEVEL, ...
"""

from sentinel_config._loader import (
    PREFIX,
    FieldDoc,
    InvalidSetting,
    SettingsError,
    document,
    env_name,
    load_or_exit,
    load_section,
    load_settings,
    redacted,
    render_env_example,
)
from sentinel_config.logging import RequestIdMiddleware, configure_logging, new_request_id
from sentinel_config.sections import (
    AnalyticsSettings,
    ArchiveSettings,
    AwsSettings,
    ClickHouseSettings,
    ControlSettings,
    HttpServerSettings,
    LogSettings,
    RedisSettings,
    TinybirdSettings,
    require_url,
)

__all__ = [
    "PREFIX",
    "AnalyticsSettings",
    "ArchiveSettings",
    "AwsSettings",
    "ClickHouseSettings",
    "ControlSettings",
    "FieldDoc",
    "HttpServerSettings",
    "InvalidSetting",
    "LogSettings",
    "RedisSettings",
    "RequestIdMiddleware",
    "SettingsError",
    "TinybirdSettings",
    "configure_logging",
    "document",
    "env_name",
    "load_or_exit",
    "load_section",
    "load_settings",
    "new_request_id",
    "redacted",
    "render_env_example",
    "require_url",
]
