"""Settings of the ingest API, from ``SENTINEL_*`` variables (see ``.env.example``)."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from sentinel_config import AwsSettings, ControlSettings, HttpServerSettings, LogSettings, RedisSettings, load_or_exit


class IngestServerSettings(HttpServerSettings, kw_only=True, frozen=True):
    """The ingest API (``SENTINEL_INGEST_*``)."""

    port: Annotated[int, Meta(description="Port of the ingest API", ge=0, le=65_535)] = 8301
    server: Annotated[
        Literal["uvicorn", "granian"], Meta(description="ASGI server: granian (measured faster here) or uvicorn")
    ] = "granian"
    high_water_entries: Annotated[
        int,
        Meta(description="Backlog of a queue partition, in batches, above which batches are refused with 503", ge=1),
    ] = 20_000
    max_in_flight: Annotated[
        int,
        Meta(
            description="Batches one process reads, decodes and enqueues at once; past it a batch is refused at once "
            "with 503 and Retry-After (load shedding). Memory in use grows with it",
            ge=1,
            le=10_000,
        ),
    ] = 64
    max_body_bytes_in_flight: Annotated[
        int,
        Meta(
            description="Decompressed batch bytes one process holds at once between decoding and the queue's "
            "answer; past it a batch is refused with 503 and Retry-After (one batch alone is always served)",
            ge=1_048_576,
        ),
    ] = 256 * 1024 * 1024
    lag_max_age_s: Annotated[
        float, Meta(description="How old the cached view of the queue's backlog may be, seconds", gt=0, le=60)
    ] = 0.5
    dedup_ttl_s: Annotated[
        int, Meta(description="How long a batch id is remembered to refuse duplicates, seconds", ge=60, le=604_800)
    ] = 86_400


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    """Everything the ingest API reads from its environment."""

    ingest: IngestServerSettings = msgspec.field(default_factory=IngestServerSettings)
    redis: RedisSettings = msgspec.field(default_factory=RedisSettings)
    control: ControlSettings = msgspec.field(default_factory=ControlSettings)
    aws: AwsSettings = msgspec.field(default_factory=AwsSettings)
    log: LogSettings = msgspec.field(default_factory=LogSettings)


@cache
def get_settings() -> Settings:
    """The process's settings, loaded once; a bad variable stops the process with one line."""
    return load_or_exit(Settings, "sentinel-ingest")
