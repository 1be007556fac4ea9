"""Session fixtures that start real engines on free loopback ports (registered as a pytest plugin).

Use them by name: ``redis_server``, ``clickhouse_server``, ``dynamodb_server``, ``s3_server``, ``moto_server``.
Each starts on first use, is shared by the session and stops at its end. A missing engine fails the test with one
line saying how to install it: it is never skipped.

Tests under a ``unit``, ``integration`` or ``e2e`` folder get that marker automatically.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from sentinel_local._engine import Engine
from sentinel_local._process import EngineError, EngineNotInstalled
from sentinel_local.clickhouse import ClickHouseEngine
from sentinel_local.dynamodb import DynamoDBEngine
from sentinel_local.moto import MotoEngine
from sentinel_local.redis import RedisEngine
from sentinel_local.s3 import SeaweedS3Engine

E = TypeVar("E", bound=Engine)

_FOLDER_MARKERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.path)).parts
        for marker in _FOLDER_MARKERS:
            if marker in parts and item.get_closest_marker(marker) is None:
                item.add_marker(getattr(pytest.mark, marker))


def _run(engine: E) -> Iterator[E]:
    try:
        engine.start()
    except EngineNotInstalled as exc:
        pytest.fail(f"{engine.name} engine is not installed: {exc}", pytrace=False)
    except EngineError as exc:
        pytest.fail(f"{engine.name} engine failed to start: {exc}", pytrace=False)
    try:
        yield engine
    finally:
        engine.stop()


def _engine_dir(factory: pytest.TempPathFactory, name: str) -> Path:
    return factory.mktemp(f"engine-{name}", numbered=True)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisEngine]:
    """A real redis-server, with the append-only file on (so a restart keeps the data)."""
    yield from _run(RedisEngine(_engine_dir(tmp_path_factory, "redis"), persistent=True))


@pytest.fixture(scope="session")
def clickhouse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseEngine]:
    """The real ClickHouse engine served over HTTP."""
    yield from _run(ClickHouseEngine(_engine_dir(tmp_path_factory, "clickhouse")))


@pytest.fixture(scope="session")
def dynamodb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DynamoDBEngine]:
    """DynamoDB Local, in memory."""
    yield from _run(DynamoDBEngine(_engine_dir(tmp_path_factory, "dynamodb")))


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3Engine]:
    """SeaweedFS S3 with SigV4 credentials ``s3_server.access_key`` / ``s3_server.secret_key``."""
    yield from _run(SeaweedS3Engine(_engine_dir(tmp_path_factory, "s3")))


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoEngine]:
    """moto server for EventBridge, Step Functions (executions on) and SQS."""
    yield from _run(MotoEngine(_engine_dir(tmp_path_factory, "moto")))
