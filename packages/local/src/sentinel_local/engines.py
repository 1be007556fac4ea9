"""Every local engine by name."""

from __future__ import annotations

from sentinel_local._engine import Engine
from sentinel_local.clickhouse import ClickHouseEngine
from sentinel_local.dynamodb import DynamoDBEngine
from sentinel_local.moto import MotoEngine
from sentinel_local.redis import RedisEngine
from sentinel_local.s3 import SeaweedS3Engine

ENGINES: dict[str, type[Engine]] = {
    "redis": RedisEngine,
    "clickhouse": ClickHouseEngine,
    "dynamodb": DynamoDBEngine,
    "s3": SeaweedS3Engine,
    "moto": MotoEngine,
}

#: What ``make dev`` needs on embedded defaults (SQLite control store, local archive, in-process jobs).
DEV_ENGINES = ("redis", "clickhouse")
