"""Cost-calc against ClickHouse, SeaweedFS and the control store: every line traced to what was stored."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from sentinel_analytics import ClickHouseStore, decode_stored, group_token
from sentinel_analytics.testing import drop_database, fresh_database, make_batch
from sentinel_config import ClickHouseSettings, ControlSettings
from sentinel_control import Job, new_id, now_ms, open_control_store
from sentinel_control.testing import make_project, make_tenant
from sentinel_dashboard.app import create_app
from sentinel_dashboard.cost import service
from sentinel_dashboard.cost.settings import CostSettings
from sentinel_dashboard.layers.testing import layers_settings, new_project, new_tenant
from sentinel_local import ClickHouseEngine, RedisEngine
from sentinel_queue import encode_entry
from sentinel_storage import S3ObjectStore
from sentinel_storage.testing import s3_settings

NOW = int(time.time() * 1000)
MONTH = datetime.fromtimestamp(NOW / 1000, UTC).strftime("%Y-%m")
PRICES = """
[meta]
as_of = "test prices"
[analytics]
storage_gb_month = 1000.0
[compute]
vcpu_hour = 3600.0
[s3]
storage_gb_month = 10000.0
put_per_1000 = 5.0
get_per_1000 = 1.0
[eventbridge]
events_per_million = 1.0
[stepfunctions]
transitions_per_1000 = 25.0
[dynamodb]
write_units_per_million = 1.0
read_units_per_million = 1.0
[sandbox]
e2b_per_second = 0.5
modal_per_second = 0.25
"""


@pytest.fixture
async def ch(clickhouse_server: ClickHouseEngine) -> AsyncIterator[ClickHouseSettings]:
    settings = await fresh_database(clickhouse_server.url)
    yield settings
    await drop_database(settings)


def _line(body: dict[str, Any], category: str, item: str, *, from_jobs: bool = False) -> dict[str, Any]:
    matches = [
        entry
        for entry in body["lines"]
        if (entry["category"], entry["item"]) == (category, item)
        and (entry["basis"] == "sum over the month's jobs") == from_jobs
    ]
    assert len(matches) == 1, (category, item, body["lines"])
    return matches[0]


async def test_cost_report_traces_every_line(
    tmp_path: Path, redis_server: RedisEngine, s3_server: Any, ch: ClickHouseSettings
) -> None:
    prices_file = tmp_path / "prices.toml"
    prices_file.write_text(PRICES)
    archive, aws = s3_settings(s3_server)
    bucket = S3ObjectStore(archive, aws)
    await bucket.ensure_bucket()
    settings = layers_settings(
        tmp_path,
        redis_server.url,
        clickhouse=ch,
        archive=archive,
        aws=aws,
        cost=CostSettings(prices_file=str(prices_file)),
    )
    store = open_control_store(settings.control, settings.aws)
    analytics = await ClickHouseStore.open(ch)
    try:
        async with AsyncTestClient(create_app(settings)) as client:
            a, b = await new_tenant(settings, "A"), await new_tenant(settings, "B")
            project = await new_project(client, a)
            await store.setup()

            rng = random.Random(7)
            batches = [make_batch(rng, project_id=project, tenant_id=a.id, events=250, now_ms=NOW) for _ in range(4)]
            for batch in batches:
                await analytics.write(group_token([str(batch.batch_id)]), [decode_stored(encode_entry(batch), 30)])
            day = datetime.fromtimestamp(NOW / 1000, UTC).strftime("%Y-%m-%d")
            archive_sizes = [1000, 2500, 700]
            for i, size in enumerate(archive_sizes):
                await bucket.put(f"bronze/project={project}/date={day}/hour=00/p00{i}-t.ndjson.gz", b"x" * size)
            await bucket.put(f"bronze/project={project}/date=2001-01-01/hour=00/p000-old.ndjson.gz", b"y" * 5000)

            def job(kind: str, result: dict[str, Any], **fields: Any) -> Job:
                return Job(
                    id=new_id("job"), tenant_id=a.id, project_id=project, kind=kind,  # type: ignore[arg-type]
                    name=kind, status="succeeded", result=result, created_at=fields.pop("created_at", now_ms()),
                    updated_at=now_ms(), finished_at=now_ms(), **fields,
                )  # fmt: skip

            flow = job(
                "flow",
                {
                    "execution_id": "local:analysis:x",
                    "sandbox": {"provider": "e2b"},
                    "export": {"key": "e"},
                    "artifact": {"key": "a"},
                    "usage": {"sandbox_seconds": 10.0, "flow_transitions": 9},
                },
            )
            sync = job("sync", {"objects": 4})
            recorded = job("script", {}, cost={"sandbox.modal": 0.75})
            old = job("sync", {"objects": 1000}, created_at=946_684_800_000)
            for each in (flow, sync, recorded, old):
                await store.create_job(each)

            response = await client.get(f"/api/projects/{project}/cost", params={"month": MONTH}, headers=a.headers)
            assert response.status_code == 200, response.text
            body = response.json()
            assert (body["month"], body["prices_as_of"], body["prices_source"]) == (
                MONTH,
                "test prices",
                str(prices_file),
            )

            events = 4 * 250
            ingest = _line(body, "compute", "ingest")
            assert ingest["quantity"] == pytest.approx(events * 3.8e-6)
            assert ingest["usd"] == pytest.approx(events * 3.8e-6)  # 3600 USD per vCPU-hour = 1 USD per vCPU-s
            assert _line(body, "compute", "worker")["quantity"] == pytest.approx(events * 4.47e-6)

            analytics_line = _line(body, "storage", "analytics")
            assert analytics_line["quantity"] > 0
            assert analytics_line["usd"] == pytest.approx(analytics_line["quantity"] * 1000, rel=1e-6)
            assert "events" in analytics_line["basis"]

            archive_line = _line(body, "storage", "archive")
            assert archive_line["quantity"] == pytest.approx(sum(archive_sizes) / 1e9)
            assert archive_line["basis"].startswith("3 bronze objects")
            assert _line(body, "aws", "s3.put")["quantity"] == 3

            jobs = {entry["job_id"]: entry for entry in body["jobs"]}
            assert set(jobs) == {flow.id, sync.id, recorded.id}
            assert jobs[flow.id]["usd"] == pytest.approx(10 * 0.5 + 2 * 0.001 + 2 * 0.005)  # local flow: no transitions
            assert jobs[sync.id]["usd"] == pytest.approx(4 * 0.001)
            assert (jobs[recorded.id]["usd"], jobs[recorded.id]["recorded"]) == (0.75, True)
            assert _line(body, "aws", "s3.get", from_jobs=True)["quantity"] == 6

            total = sum(entry["usd"] for entry in body["lines"])
            assert body["total_usd"] == pytest.approx(total, abs=1e-6)
            assert body["by_category"]["sandbox"] == pytest.approx(5 + 0.75)

            # Finished jobs now carry their own cost.
            job_answer = (await client.get(f"/api/jobs/{flow.id}", headers=a.headers)).json()
            assert job_answer["cost_total_usd"] == pytest.approx(jobs[flow.id]["usd"])
            again = (
                await client.get(f"/api/projects/{project}/cost", params={"month": MONTH}, headers=a.headers)
            ).json()
            assert {entry["job_id"]: entry["recorded"] for entry in again["jobs"]}[flow.id] is True
            assert again["total_usd"] == pytest.approx(body["total_usd"])

            empty = (
                await client.get(f"/api/projects/{project}/cost", params={"month": "2001-02"}, headers=a.headers)
            ).json()
            assert (empty["jobs"], _line(empty, "compute", "ingest")["quantity"]) == ([], 0)

            assert (await client.get(f"/api/projects/{project}/cost", headers=b.headers)).status_code == 404
            bad = await client.get(f"/api/projects/{project}/cost", params={"month": "2024-13"}, headers=a.headers)
            assert bad.status_code == 400
            assert "month" in bad.text
    finally:
        await analytics.close()
        await store.close()
        await bucket.close()


async def test_every_job_of_the_month_is_counted_across_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "JOBS_PAGE", 2)
    store = open_control_store(ControlSettings(backend="sqlite", sqlite_path=str(tmp_path / "c.db")), None)  # type: ignore[arg-type]
    await store.setup()
    try:
        tenant = await make_tenant(store)
        project = await make_project(store, tenant)
        start, end = service.month_bounds("2026-03")

        def job(created_at: int) -> Job:
            return Job(
                id=new_id("job"),
                tenant_id=tenant.id,
                project_id=project.id,
                kind="flow",
                name="analysis",
                created_at=created_at,
                updated_at=created_at,
            )

        inside = [job(start), job(start + 5), job(start + 5), job(start + 5), job(end - 1)]
        outside = [job(start - 1), job(end), job(end + 1)]
        for each in inside + outside:
            await store.create_job(each)
        found = await service._month_jobs(store, tenant.id, project.id, "2026-03")
        assert sorted(j.id for j in found) == sorted(j.id for j in inside)
    finally:
        await store.close()
