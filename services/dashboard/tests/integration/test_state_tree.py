"""The project state tree on real engines, and its changes on the ``state`` topic."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis
from litestar.testing import AsyncTestClient

from sentinel_analytics import ClickHouseStore, decode_stored, group_token
from sentinel_analytics.testing import drop_database, fresh_database, make_batch
from sentinel_config import ArchiveSettings, ClickHouseSettings
from sentinel_control import Job, JobChanges, new_id, now_ms, open_control_store
from sentinel_dashboard.app import create_app
from sentinel_dashboard.layers.testing import layers_settings, new_project, new_tenant
from sentinel_dashboard.state.settings import StateSettings
from sentinel_local import ClickHouseEngine, RedisEngine
from sentinel_queue import QueuedBatch, encode_entry, updates_stream
from sentinel_storage import LocalObjectStore

SOURCE = "print('report')\n"


@pytest.fixture
async def ch(clickhouse_server: ClickHouseEngine) -> AsyncIterator[ClickHouseSettings]:
    settings = await fresh_database(clickhouse_server.url)
    yield settings
    await drop_database(settings)


def _index(node: dict[str, Any], parent: str | None = None, out: dict[str, Any] | None = None) -> dict[str, Any]:
    out = {} if out is None else out
    out[node["id"]] = dict(node, parent=parent)
    for child in node["children"]:
        _index(child, node["id"], out)
    return out


async def _wait_for_update(
    client: redis.Redis, project_id: str, after: str, match: Callable[[dict[str, Any]], bool], timeout_s: float = 15
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        entries = await client.xrange(updates_stream(project_id, "state"), min=f"({after}")
        for _, fields in entries:
            update = json.loads(fields[b"d"])
            if match(update):
                return dict(update)
        await asyncio.sleep(0.1)
    raise AssertionError(f"no matching state update within {timeout_s} s")


async def _last_id(client: redis.Redis, project_id: str) -> str:
    entries = await client.xrevrange(updates_stream(project_id, "state"), count=1)
    return entries[0][0].decode() if entries else "0-0"


def _batches(project_id: str, tenant_id: str, count: int, seed: int) -> list[QueuedBatch]:
    rng = random.Random(seed)
    now = now_ms()
    return [make_batch(rng, project_id=project_id, tenant_id=tenant_id, events=60, now_ms=now) for _ in range(count)]


async def test_state_tree_and_its_live_updates(
    tmp_path: Path, redis_server: RedisEngine, ch: ClickHouseSettings
) -> None:
    archive = ArchiveSettings(local_dir=str(tmp_path / "archive"))
    settings = layers_settings(
        tmp_path, redis_server.url, clickhouse=ch, archive=archive, state=StateSettings(refresh_s=0.3)
    )
    control = open_control_store(settings.control, settings.aws)
    analytics = await ClickHouseStore.open(ch)
    objects = LocalObjectStore(archive.local_dir)
    listener = redis.Redis.from_url(redis_server.url)
    try:
        async with AsyncTestClient(create_app(settings)) as client:
            a, b = await new_tenant(settings, "A"), await new_tenant(settings, "B")
            project = await new_project(client, a)
            await control.setup()

            batches = _batches(project, a.id, 6, seed=3)
            for batch in batches:
                await analytics.write(group_token([str(batch.batch_id)]), [decode_stored(encode_entry(batch), 30)])
            upload = await client.post(
                f"/api/projects/{project}/scripts", json={"name": "report.py", "source": SOURCE}, headers=a.headers
            )
            script_key = upload.json()["key"]
            at = now_ms()
            job = Job(
                id=new_id("job"), tenant_id=a.id, project_id=project, kind="flow", name="analysis", status="running",
                params={"script_key": script_key}, created_at=at, updated_at=at, started_at=at,
            )  # fmt: skip
            await control.create_job(job)
            artifact = f"tenants/{a.id}/projects/{project}/gold/{job.id}.json"
            await objects.put(artifact, b'{"rows": 1}')

            response = await client.get(f"/api/projects/{project}/state", headers=a.headers)
            assert response.status_code == 200, response.text
            body = response.json()
            root = body["root"]
            assert (root["id"], root["kind"]) == (f"project:{project}", "project")
            assert [child["id"] for child in root["children"]] == [
                "layer:ingestion", "layer:scripts", "layer:gold", "layer:jobs",
            ]  # fmt: skip
            nodes = _index(root)
            for node in nodes.values():
                assert set(node) >= {"id", "name", "kind", "status", "meta", "children"}

            services = {(batch.service, batch.environment) for batch in batches}
            sources = {n["id"]: n for n in nodes.values() if n["kind"] == "source"}
            assert set(sources) == {f"source:{s}/{e}" for s, e in services}
            for service, environment in services:
                node = sources[f"source:{service}/{environment}"]
                mine = [b for b in batches if (b.service, b.environment) == (service, environment)]
                assert node["parent"] == "layer:ingestion"
                assert node["meta"]["events_24h"] == 60 * len(mine)
                assert node["meta"]["events_per_min"] == pytest.approx(60 * len(mine) / 5)
                assert node["meta"]["last_seen_ms"] == max(b.received_at for b in mine)
                assert node["status"] in ("live", "degraded")
            connectors = {n["name"]: n for n in nodes.values() if n["kind"] == "connector"}
            assert connectors["redis"]["status"] in ("healthy", "degraded")
            assert connectors["clickhouse"]["status"] in ("healthy", "degraded")

            script = nodes["script:report.py"]
            assert script["parent"] == "layer:scripts"
            assert script["meta"]["last_run"]["job_id"] == job.id
            assert script["status"] == "running"

            events_table = nodes["table:events"]
            assert (events_table["parent"], events_table["meta"]["rows"], events_table["status"]) == (
                "layer:gold",
                360,
                "fresh",
            )
            assert nodes["table:requests_1m"]["kind"] == "rollup"
            assert nodes[f"artifact:{job.id}.json"]["meta"]["key"] == artifact
            assert nodes[f"job:{job.id}"]["status"] == "running"
            assert nodes[f"job:{job.id}"]["parent"] == "layer:jobs"

            assert (await client.get(f"/api/projects/{project}/state", headers=b.headers)).status_code == 404

            # A job finishing: its node and its script's last run are pushed by the periodic recompute.
            mark = await _last_id(listener, project)
            await control.update_job(a.id, job.id, JobChanges(status="succeeded", finished_at=now_ms()), job.version)
            job_update = await _wait_for_update(listener, project, mark, lambda u: u["id"] == f"job:{job.id}")
            assert (job_update["status"], job_update["parent"]) == ("succeeded", "layer:jobs")
            script_update = await _wait_for_update(listener, project, mark, lambda u: u["id"] == "script:report.py")
            assert script_update["meta"]["last_run"]["status"] == "succeeded"

            # New events: the source's figures move and are pushed.
            before = sources[f"source:{batches[0].service}/{batches[0].environment}"]["meta"]["events_24h"]
            mark = await _last_id(listener, project)
            more = _batches(project, a.id, 1, seed=99)[0]
            more.service, more.environment = batches[0].service, batches[0].environment
            await analytics.write(group_token([str(more.batch_id)]), [decode_stored(encode_entry(more), 30)])
            source_id = f"source:{more.service}/{more.environment}"
            figures = await _wait_for_update(listener, project, mark, lambda u: u["id"] == source_id)
            assert figures["meta"]["events_24h"] == before + 60

            # A node leaving the tree is pushed as removed.
            mark = await _last_id(listener, project)
            await objects.delete(artifact)
            gone = await _wait_for_update(listener, project, mark, lambda u: u["id"] == f"artifact:{job.id}.json")
            assert gone["removed"] is True

            # Nothing changes: nothing more is published (latencies that move are not changes).
            mark = await _last_id(listener, project)
            await asyncio.sleep(1.5)
            entries = await listener.xrange(updates_stream(project, "state"), min=f"({mark}")
            # A connector's health may flip between healthy and degraded on a loaded machine: a real change.
            quiet = [json.loads(fields[b"d"]) for _, fields in entries]
            assert [update["id"] for update in quiet if not update["id"].startswith("connector:")] == []
    finally:
        await listener.aclose()
        await analytics.close()
        await control.close()
