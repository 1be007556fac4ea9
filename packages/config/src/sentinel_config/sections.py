"""Settings sections shared by Sentinel's services.

Each field is read from ``SENTINEL_<SECTION>_<FIELD>`` (the section name is the field name in the service's
``Settings``: ``redis``, ``clickhouse``, ...). Every field has a default that works on a developer machine.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec
from msgspec import Meta

from sentinel_config._loader import InvalidSetting


def _doc(description: str, **constraints: Any) -> Meta:
    meta: Meta = Meta(description=description, **constraints)
    return meta


def _secret(description: str) -> Meta:
    return Meta(description=description, extra={"secret": True})


def require_url(field: str, value: str, schemes: tuple[str, ...], *, allow_empty: bool = False) -> None:
    """Raise ``InvalidSetting`` unless ``value`` is an absolute URL with one of ``schemes``."""
    if allow_empty and value == "":
        return
    parts = urlsplit(value)
    if parts.scheme not in schemes or not (parts.netloc or parts.scheme == "unix"):
        expected = " or ".join(f"{scheme}://" for scheme in schemes)
        raise InvalidSetting(field, f"must be a {expected} URL, got {value!r}")


PositiveSeconds = Annotated[float, Meta(gt=0, le=86_400)]
Port = Annotated[int, Meta(ge=0, le=65_535)]


class RedisSettings(msgspec.Struct, kw_only=True, frozen=True):
    """The queue: Redis or ElastiCache (``SENTINEL_REDIS_*``)."""

    url: Annotated[str, _doc("Redis URL (redis://, rediss:// or unix://), database included")] = (
        "redis://127.0.0.1:6379/0"
    )
    partitions: Annotated[
        int, _doc("Number of event stream partitions (same value for ingest and worker)", ge=1, le=1024)
    ] = 8
    max_connections: Annotated[int, _doc("Connection pool size per process", ge=1, le=10_000)] = 64
    socket_timeout_s: Annotated[float, _doc("Socket timeout for Redis commands, seconds", gt=0, le=300)] = 5.0

    def __post_init__(self) -> None:
        require_url("url", self.url, ("redis", "rediss", "unix"))


class ClickHouseSettings(msgspec.Struct, kw_only=True, frozen=True):
    """The analytics store when the backend is ClickHouse (``SENTINEL_CLICKHOUSE_*``)."""

    url: Annotated[str, _doc("ClickHouse HTTP(S) endpoint")] = "http://127.0.0.1:8123"
    database: Annotated[str, _doc("Database holding Sentinel's tables", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = (
        "sentinel"
    )
    user: Annotated[str, _doc("ClickHouse user")] = "default"
    password: Annotated[str, _secret("ClickHouse password")] = ""
    query_timeout_s: Annotated[float, _doc("Server-side limit per query, seconds", gt=0, le=3_600)] = 10.0
    connect_timeout_s: Annotated[float, _doc("Connection timeout, seconds", gt=0, le=300)] = 5.0

    def __post_init__(self) -> None:
        require_url("url", self.url, ("http", "https"))


class TinybirdSettings(msgspec.Struct, kw_only=True, frozen=True):
    """The analytics store when the backend is Tinybird (``SENTINEL_TINYBIRD_*``)."""

    api_url: Annotated[str, _doc("Tinybird API base URL of your region")] = "https://api.tinybird.co"
    token: Annotated[str, _secret("Tinybird token with append rights on the datasources and read on the pipes")] = ""
    timeout_s: Annotated[float, _doc("HTTP timeout per request, seconds", gt=0, le=300)] = 10.0

    def __post_init__(self) -> None:
        require_url("api_url", self.api_url, ("http", "https"))


class AnalyticsSettings(msgspec.Struct, kw_only=True, frozen=True):
    """Which analytics store to use (``SENTINEL_ANALYTICS_*``)."""

    backend: Annotated[Literal["clickhouse", "tinybird"], _doc("Analytics store: clickhouse or tinybird")] = (
        "clickhouse"
    )


class AwsSettings(msgspec.Struct, kw_only=True, frozen=True):
    """AWS credentials and region shared by S3, DynamoDB, EventBridge and Step Functions (``SENTINEL_AWS_*``)."""

    region: Annotated[str, _doc("AWS region")] = "us-east-1"
    endpoint_url: Annotated[str, _doc("Endpoint of EventBridge, Step Functions and SQS; empty means AWS")] = ""
    access_key_id: Annotated[str, _doc("Access key id; empty means the default credential chain")] = ""
    secret_access_key: Annotated[str, _secret("Secret access key; empty means the default credential chain")] = ""

    def __post_init__(self) -> None:
        require_url("endpoint_url", self.endpoint_url, ("http", "https"), allow_empty=True)


class ArchiveSettings(msgspec.Struct, kw_only=True, frozen=True):
    """The raw (bronze) archive and script storage: S3 or a local directory (``SENTINEL_ARCHIVE_*``)."""

    backend: Annotated[Literal["local", "s3"], _doc("Archive backend: local (a directory) or s3")] = "local"
    local_dir: Annotated[str, _doc("Directory of the local archive", min_length=1)] = ".sentinel/archive"
    bucket: Annotated[str, _doc("S3 bucket of the archive", pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")] = (
        "sentinel-archive"
    )
    endpoint_url: Annotated[str, _doc("S3 endpoint URL; empty means AWS")] = ""
    presign_ttl_s: Annotated[int, _doc("Lifetime of presigned URLs, seconds", ge=1, le=604_800)] = 300

    def __post_init__(self) -> None:
        require_url("endpoint_url", self.endpoint_url, ("http", "https"), allow_empty=True)


class ControlSettings(msgspec.Struct, kw_only=True, frozen=True):
    """The control store of tenants, projects and keys: SQLite or DynamoDB (``SENTINEL_CONTROL_*``)."""

    backend: Annotated[Literal["sqlite", "dynamodb"], _doc("Control store backend: sqlite or dynamodb")] = "sqlite"
    sqlite_path: Annotated[str, _doc("SQLite database file", min_length=1)] = ".sentinel/control.db"
    dynamodb_table: Annotated[str, _doc("DynamoDB table name", pattern=r"^[A-Za-z0-9_.-]{3,255}$")] = "sentinel"
    dynamodb_endpoint_url: Annotated[str, _doc("DynamoDB endpoint URL; empty means AWS")] = ""
    hash_secret: Annotated[
        str, _secret("Server secret keying the hashes of ingest keys and tokens (at least 32 characters)")
    ] = ""
    key_cache_ttl_s: Annotated[
        float, _doc("How long a resolved ingest key is cached; revocations take effect within it", ge=0, le=3600)
    ] = 30.0
    key_cache_negative_ttl_s: Annotated[
        float, _doc("How long an unknown ingest key is remembered as unknown", ge=0, le=3600)
    ] = 5.0

    def __post_init__(self) -> None:
        require_url("dynamodb_endpoint_url", self.dynamodb_endpoint_url, ("http", "https"), allow_empty=True)
        if self.hash_secret and len(self.hash_secret) < 32:
            raise InvalidSetting("hash_secret", "must be at least 32 characters")


class LogSettings(msgspec.Struct, kw_only=True, frozen=True):
    """Logging (``SENTINEL_LOG_*``)."""

    level: Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], _doc("Lowest level logged")] = "INFO"
    format: Annotated[Literal["json", "console"], _doc("json (one object per line) or console (for people)")] = "json"


class HttpServerSettings(msgspec.Struct, kw_only=True, frozen=True):
    """Where an HTTP service listens; each service has its own section (``SENTINEL_INGEST_*``, ...)."""

    host: Annotated[str, _doc("Address to bind")] = "127.0.0.1"
    port: Annotated[int, _doc("Port to bind", ge=0, le=65_535)] = 8000
    workers: Annotated[int, _doc("Server worker processes", ge=1, le=256)] = 1
    server: Annotated[Literal["uvicorn", "granian"], _doc("ASGI server: uvicorn or granian")] = "uvicorn"
    graceful_timeout_s: Annotated[
        float, _doc("Time given to in-flight requests at shutdown, seconds", gt=0, le=600)
    ] = 10.0
    max_connections: Annotated[
        int,
        _doc(
            "Open connections one server worker serves, idle keep-alive ones included: past it granian leaves a "
            "new connection unserved until another closes, uvicorn answers 503. Needs as many file descriptors",
            ge=16,
            le=1_000_000,
        ),
    ] = 10_000
