"""``GET /api/layers/health/connectors`` against real engines, a hung dependency and AWS on moto."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from sentinel_analytics.testing import drop_database, fresh_database
from sentinel_config import ArchiveSettings, AwsSettings, ClickHouseSettings
from sentinel_dashboard.app import create_app
from sentinel_dashboard.layers.testing import layers_settings, new_tenant
from sentinel_flows import FlowSettings
from sentinel_local import ClickHouseEngine, RedisEngine
from sentinel_sandbox import LocalSandboxSettings

URL = "/api/layers/health/connectors"


@pytest.fixture
async def ch(clickhouse_server: ClickHouseEngine) -> AsyncIterator[ClickHouseSettings]:
    settings = await fresh_database(clickhouse_server.url)
    yield settings
    await drop_database(settings)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections (the kernel's backlog) and never answers a byte."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def _warm_up_moto(url: str) -> None:
    """moto loads a service's backend on its first call (seconds for Step Functions): not what is checked here."""
    import boto3

    for service in ("events", "stepfunctions"):
        client = boto3.client(
            service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
        )
        if service == "events":
            client.list_event_buses(Limit=1)
        else:
            client.list_state_machines(maxResults=1)


def _by_name(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in body["items"]}


async def _health(settings: Any, **params: Any) -> tuple[int, dict[str, Any], float]:
    async with AsyncTestClient(create_app(settings)) as client:
        login = await new_tenant(settings, scopes=("read",))
        started = time.monotonic()
        response = await client.get(URL, params=params, headers=login.headers)
        return response.status_code, response.json(), time.monotonic() - started


class TestConnectorsHealth:
    async def test_everything_local_is_healthy_and_unused_parts_are_not_configured(
        self, tmp_path: Path, redis_server: RedisEngine, ch: ClickHouseSettings
    ) -> None:
        settings = layers_settings(
            tmp_path,
            redis_server.url,
            clickhouse=ch,
            archive=ArchiveSettings(local_dir=str(tmp_path / "archive")),
            sandbox_local=LocalSandboxSettings(enabled=True),
        )
        status, body, _ = await _health(settings)
        assert status == 200
        items = _by_name(body)
        assert set(items) == {
            "redis", "clickhouse", "archive (local)", "control (sqlite)", "eventbridge", "stepfunctions",
            "e2b", "modal", "local",
        }  # fmt: skip
        for name in ("redis", "clickhouse", "archive (local)", "control (sqlite)", "local"):
            assert items[name]["status"] in ("healthy", "degraded"), items[name]
            assert items[name]["latency_ms"] is not None
        for name in ("eventbridge", "stepfunctions", "e2b", "modal"):
            assert items[name]["status"] == "not_configured", items[name]
        assert "local" in items["eventbridge"]["detail"]
        assert body["status"] in ("healthy", "degraded")

    async def test_a_hung_dependency_is_down_within_the_timeout(
        self, tmp_path: Path, redis_server: RedisEngine, silent_port: int
    ) -> None:
        hung = f"http://127.0.0.1:{silent_port}"
        settings = layers_settings(
            tmp_path,
            redis_server.url,
            clickhouse=ClickHouseSettings(url=hung, connect_timeout_s=30),
            archive=ArchiveSettings(backend="s3", endpoint_url=hung),
            aws=AwsSettings(access_key_id="x", secret_access_key="y"),
        )
        status, body, elapsed = await _health(settings, timeout_ms=400)
        assert status == 200
        items = _by_name(body)
        for name in ("clickhouse", "archive (s3)"):
            assert items[name]["status"] == "down", items[name]
            assert items[name]["detail"] == "no answer within 400 ms"
            assert items[name]["latency_ms"] == 400.0
        assert body["status"] == "down"
        # Checked concurrently and cut at the timeout: far below the clients' own 30 s timeouts.
        assert elapsed < 10

    async def test_refused_connection_is_down_with_its_error(self, tmp_path: Path, redis_server: RedisEngine) -> None:
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        closed.close()
        settings = layers_settings(
            tmp_path, redis_server.url, clickhouse=ClickHouseSettings(url=f"http://127.0.0.1:{port}")
        )
        _, body, _ = await _health(settings, timeout_ms=3000)
        item = _by_name(body)["clickhouse"]
        assert item["status"] == "down"
        assert item["detail"]
        assert "no answer" not in item["detail"]

    async def test_aws_backend_checks_eventbridge_and_step_functions(
        self, tmp_path: Path, redis_server: RedisEngine, moto_server: Any, ch: ClickHouseSettings
    ) -> None:
        flows = FlowSettings(
            backend="aws",
            state_machine_role_arn="arn:aws:iam::123456789012:role/sentinel-flows",
            task_queue_url=f"{moto_server.url}/123456789012/tasks",
            sync_queue_url=f"{moto_server.url}/123456789012/syncs",
        )
        aws = AwsSettings(endpoint_url=moto_server.url, access_key_id="test", secret_access_key="test")
        settings = layers_settings(tmp_path, redis_server.url, clickhouse=ch, flows=flows, aws=aws)
        await asyncio.to_thread(_warm_up_moto, moto_server.url)
        _, body, _ = await _health(settings, timeout_ms=10_000)
        items = _by_name(body)
        assert items["eventbridge"]["status"] in ("healthy", "degraded"), items["eventbridge"]
        assert items["stepfunctions"]["status"] in ("healthy", "degraded"), items["stepfunctions"]

    async def test_requires_a_token_and_bounds_the_timeout(self, tmp_path: Path, redis_server: RedisEngine) -> None:
        settings = layers_settings(tmp_path, redis_server.url)
        async with AsyncTestClient(create_app(settings)) as client:
            assert (await client.get(URL)).status_code == 401
            login = await new_tenant(settings)
            too_long = await client.get(URL, params={"timeout_ms": 60_000}, headers=login.headers)
            assert too_long.status_code == 400
