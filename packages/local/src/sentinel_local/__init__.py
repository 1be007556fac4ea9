"""Runs Sentinel's engines on this machine, on loopback ports, for ``make dev`` and for the tests.

>>> from sentinel_local import RedisEngine
>>> with RedisEngine(tmp_dir) as redis:
...     print(redis.url)
"""

from sentinel_local._engine import Engine, answers_ok, http_status
from sentinel_local._process import EngineError, EngineNotInstalled, free_port, memory_mb, process_tree
from sentinel_local.clickhouse import ClickHouseEngine
from sentinel_local.dynamodb import DynamoDBEngine
from sentinel_local.engines import DEV_ENGINES, ENGINES
from sentinel_local.moto import MotoEngine
from sentinel_local.redis import RedisEngine
from sentinel_local.s3 import SeaweedS3Engine

__all__ = [
    "DEV_ENGINES",
    "ENGINES",
    "ClickHouseEngine",
    "DynamoDBEngine",
    "Engine",
    "EngineError",
    "EngineNotInstalled",
    "MotoEngine",
    "RedisEngine",
    "SeaweedS3Engine",
    "answers_ok",
    "free_port",
    "http_status",
    "memory_mb",
    "process_tree",
]
