"""``POST /api/orchestration/trigger-sync`` end to end, on real engines: the dashboard (SQLite control store),
Redis, the local ClickHouse, a real worker consumer, the local archive, SeaweedFS for S3 logs, and moto for the
AWS mode (EventBridge rule → SQS → the worker's sync consumer)."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import json
import random
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
import redis.asyncio as redis
from litestar.testing import AsyncTestClient

from sentinel_analytics.fixtures import ch_client, ch_settings
from sentinel_analytics.testing import make_batch
from sentinel_config import (
    AnalyticsSettings,
    ArchiveSettings,
    AwsSettings,
    ClickHouseSettings,
    ControlSettings,
    LogSettings,
    RedisSettings,
)
from sentinel_connectors import ConnectorSettings
from sentinel_control import ControlStore, open_control_store
from sentinel_dashboard.app import create_app
from sentinel_dashboard.settings import Settings as DashboardSettings
from sentinel_dashboard.tokens.service import create_tenant
from sentinel_flows import AwsClients, FlowSettings, ensure_sync_route
from sentinel_local import MotoEngine, RedisEngine, SeaweedS3Engine
from sentinel_queue import updates_stream
from sentinel_worker.syncs import run_syncs
from sentinel_worker.testing import PARTITIONS, Queue, running_consumer, wait_for, worker_settings

__all__ = ["ch_client", "ch_settings"]

pytestmark = pytest.mark.integration

HASH_SECRET = "trigger-sync-test-secret-0123456789-abcdefgh"
HOUR_MS = 3_600_000
FAST_CONNECTORS = ConnectorSettings(confirm_timeout_s=60, poll_interval_s=0.1)
_databases = itertools.cycle(range(1, 16))
Client = AsyncTestClient  # type: ignore[type-arg]


@dataclass
class Stack:
    client: Client
    store: ControlStore
    queue: Queue
    ch: Any
    archive_dir: Path
    headers: dict[str, str]
    other_headers: dict[str, str]
    tenant_id: str

    async def project(self, headers: dict[str, str] | None = None) -> str:
        answer = await self.client.post(
            "/api/projects", json={"name": f"p-{uuid.uuid4().hex[:6]}"}, headers=headers or self.headers
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    async def trigger(self, project_id: str, connector: str, params: dict[str, Any]) -> Any:
        return await self.client.post(
            "/api/orchestration/trigger-sync",
            json={"project_id": project_id, "connector": connector, "params": params},
            headers=self.headers,
        )

    async def finished_job(self, job_id: str) -> dict[str, Any]:
        async def ended() -> dict[str, Any] | None:
            job = (await self.client.get(f"/api/jobs/{job_id}", headers=self.headers)).json()
            return job if job["status"] in ("succeeded", "failed", "cancelled") else None

        job: dict[str, Any] = await wait_for(ended, timeout=90, what=f"job {job_id} to end")
        return job

    async def sync(self, project_id: str, connector: str, params: dict[str, Any]) -> dict[str, Any]:
        answer = await self.trigger(project_id, connector, params)
        assert answer.status_code == 202, answer.text
        assert (answer.json()["kind"], answer.json()["name"]) == ("sync", connector)
        job = await self.finished_job(answer.json()["id"])
        assert job["status"] == "succeeded", job
        return job

    async def figures(self, project_id: str) -> tuple[int, int, int]:
        """(events, batches, requests in the hourly rollup) stored for the project."""
        out = []
        for sql in (
            "SELECT count() FROM events WHERE project_id = {p:String}",
            "SELECT count() FROM batches WHERE project_id = {p:String}",
            "SELECT sum(requests) FROM requests_1h WHERE project_id = {p:String}",
        ):
            result = await self.ch.query(sql, parameters={"p": project_id})
            out.append(int(result.result_rows[0][0] or 0))
        return out[0], out[1], out[2]

    async def lose(self, project_id: str) -> None:
        """What a loss of the project's data looks like: its rows gone from every table."""
        tables = await self.ch.query(
            "SELECT DISTINCT table FROM system.columns WHERE database = currentDatabase() AND name = 'project_id' "
            "AND table IN (SELECT name FROM system.tables WHERE database = currentDatabase() "
            "AND engine LIKE '%MergeTree')"
        )
        for (table,) in tables.result_rows:
            await self.ch.command(
                f"ALTER TABLE `{table}` DELETE WHERE project_id = {{p:String}}",
                parameters={"p": project_id},
                settings={"mutations_sync": 2},
            )

    def archive_objects(self) -> list[Path]:
        return sorted(p for p in self.archive_dir.rglob("*.ndjson.gz") if not p.name.startswith("."))


def dashboard_settings(
    tmp_path: Path, redis_url: str, ch: ClickHouseSettings, archive: ArchiveSettings, aws: AwsSettings, **extra: Any
) -> DashboardSettings:
    control = ControlSettings(sqlite_path=str(tmp_path / "control.db"), hash_secret=HASH_SECRET)
    return DashboardSettings(
        redis=RedisSettings(url=redis_url, partitions=PARTITIONS),
        control=control,
        analytics=AnalyticsSettings(),
        clickhouse=ch,
        archive=archive,
        aws=aws,
        connectors=FAST_CONNECTORS,
        log=LogSettings(format="json"),
        **extra,
    )


@pytest.fixture
async def queue(redis_server: RedisEngine) -> AsyncIterator[Queue]:
    url = redis_server.url.rsplit("/", 1)[0] + f"/{next(_databases)}"
    client = redis.Redis.from_url(url)
    await client.flushdb()
    yield Queue(url, client)
    await client.flushdb()
    await client.aclose()


@asynccontextmanager
async def open_stack(settings: DashboardSettings, queue: Queue, ch: Any, archive_dir: Path) -> AsyncIterator[Stack]:
    app = create_app(settings)
    async with AsyncTestClient(app) as client:
        store = open_control_store(settings.control, settings.aws)
        await store.setup()
        try:
            hasher = client.app.state.hasher
            tenant, token = await create_tenant(store, hasher, "A")
            _, other = await create_tenant(store, hasher, "B")
            yield Stack(
                client=client,
                store=store,
                queue=queue,
                ch=ch,
                archive_dir=archive_dir,
                headers={"Authorization": f"Bearer {token.token}"},
                other_headers={"Authorization": f"Bearer {other.token}"},
                tenant_id=tenant.id,
            )
        finally:
            await store.close()


@pytest.fixture
async def embedded(
    tmp_path: Path, queue: Queue, ch_settings: ClickHouseSettings, ch_client: Any
) -> AsyncIterator[Stack]:
    """The dashboard on the local flows backend (syncs run in its process) and a worker consumer."""
    archive_dir = tmp_path / "archive"
    archive = ArchiveSettings(local_dir=str(archive_dir))
    settings = dashboard_settings(tmp_path, queue.url, ch_settings, archive, AwsSettings())
    async with (
        running_consumer(worker_settings(queue, ch_settings, archive_dir)),
        open_stack(settings, queue, ch_client, archive_dir) as stack,
    ):
        yield stack


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


async def ingest(stack: Stack, project_id: str, count: int, events: int, first_ms: int, seed: int) -> None:
    """Put ``count`` batches through the worker, arriving 20 minutes apart from ``first_ms``."""
    rng = random.Random(seed)
    batches = [
        make_batch(
            rng, project_id=project_id, tenant_id=stack.tenant_id, events=events, now_ms=first_ms + i * HOUR_MS // 3
        )
        for i in range(count)
    ]
    events_before, batches_before, requests_before = await stack.figures(project_id)
    await stack.queue.enqueue(batches)
    expected = (events_before + count * events, batches_before + count, requests_before + count * events)

    async def stored() -> bool:
        # every table, not just events: the materialized views of one insert fill them one after the other
        return await stack.figures(project_id) == expected

    await wait_for(stored, what="the worker to store the batches")


async def job_statuses(stack: Stack, project_id: str, job_id: str) -> list[str]:
    entries = await stack.queue.client.xrange(updates_stream(project_id, "jobs"))
    statuses = []
    for _, fields in entries:
        update = json.loads(fields[b"d"])
        if update["id"] == job_id and (not statuses or statuses[-1] != update["status"]):
            statuses.append(update["status"])
    return statuses


class TestArchiveReplay:
    async def test_a_lost_range_is_restored_exactly_and_replaying_again_adds_nothing(self, embedded: Stack) -> None:
        project, bystander = await embedded.project(), await embedded.project()
        now = int(time.time() * 1000)
        first = now - 3 * HOUR_MS
        await ingest(embedded, project, count=6, events=40, first_ms=first, seed=1)
        await ingest(embedded, bystander, count=2, events=25, first_ms=first, seed=2)
        original = await embedded.figures(project)
        assert original == (240, 6, 240)
        bystander_figures = await embedded.figures(bystander)
        objects = embedded.archive_objects()
        window = {"from": iso(first - HOUR_MS), "to": iso(now)}

        present = await embedded.sync(project, "archive-replay", window)
        assert present["result"]["batches_in_range"] == 6
        assert present["result"]["already_stored"] == 6
        assert present["result"]["batches_enqueued"] == 0
        assert await embedded.figures(project) == original

        await embedded.lose(project)
        assert await embedded.figures(project) == (0, 0, 0)

        restored = await embedded.sync(project, "archive-replay", window)
        assert restored["progress"] == 1.0
        result = restored["result"]
        assert (result["already_stored"], result["batches_enqueued"], result["events_enqueued"]) == (0, 6, 240)
        assert result["batches_stored"] == 6
        assert await embedded.figures(project) == original
        assert await embedded.figures(bystander) == bystander_figures
        assert embedded.archive_objects() == objects  # replayed batches are not archived a second time
        assert await job_statuses(embedded, project, restored["id"]) == ["queued", "running", "succeeded"]

        again = await embedded.sync(project, "archive-replay", window)
        assert (again["result"]["already_stored"], again["result"]["batches_enqueued"]) == (6, 0)
        assert await embedded.figures(project) == original

    async def test_only_the_requested_range_is_restored(self, embedded: Stack) -> None:
        project = await embedded.project()
        first = int(time.time() * 1000) - 4 * HOUR_MS
        await ingest(embedded, project, count=9, events=10, first_ms=first, seed=3)  # 3 hours, 3 batches each
        await embedded.lose(project)

        job = await embedded.sync(project, "archive-replay", {"from": iso(first), "to": iso(first + HOUR_MS)})
        assert job["result"]["batches_in_range"] == 3
        assert job["result"]["batches_enqueued"] == 3
        assert await embedded.figures(project) == (30, 3, 30)

    async def test_a_restore_the_worker_never_stores_fails_the_job_with_the_reason(
        self, tmp_path: Path, queue: Queue, ch_settings: ClickHouseSettings, ch_client: Any
    ) -> None:
        archive_dir = tmp_path / "archive"
        archive = ArchiveSettings(local_dir=str(archive_dir))
        settings = dashboard_settings(tmp_path, queue.url, ch_settings, archive, AwsSettings())
        settings = msgspec.structs.replace(
            settings, connectors=ConnectorSettings(confirm_timeout_s=1.5, poll_interval_s=0.1)
        )
        async with open_stack(settings, queue, ch_client, archive_dir) as stack:
            project = await stack.project()
            first = int(time.time() * 1000) - 2 * HOUR_MS
            async with running_consumer(worker_settings(queue, ch_settings, archive_dir)):
                await ingest(stack, project, count=2, events=5, first_ms=first, seed=4)
            await stack.lose(project)
            # no worker now: the replay enqueues, waits, and fails saying why
            answer = await stack.trigger(project, "archive-replay", {"from": iso(first), "to": iso(first + HOUR_MS)})
            job = await stack.finished_job(answer.json()["id"])
            assert job["status"] == "failed"
            assert "2 of 2 batches were not stored" in job["error"]
            assert job["result"]["batches_enqueued"] == 2

    async def test_a_batch_restored_alone_is_not_taken_for_a_repeat_of_its_first_insert(self, embedded: Stack) -> None:
        # One batch is one insert, both when first stored and when restored: without the sync's id in the insert
        # token the store would see the same token again and drop the restore.
        project = await embedded.project()
        first = int(time.time() * 1000) - 2 * HOUR_MS
        await ingest(embedded, project, count=1, events=7, first_ms=first, seed=5)
        await embedded.lose(project)
        job = await embedded.sync(project, "archive-replay", {"from": iso(first), "to": iso(first + HOUR_MS)})
        assert job["result"]["batches_stored"] == 1
        assert await embedded.figures(project) == (7, 1, 7)


class TestRequests:
    @pytest.mark.parametrize(
        ("connector", "params", "field"),
        [
            ("ftp", {}, "connector"),
            ("archive-replay", {"from": "2026-01-01T00:00:00Z"}, "params.to"),
            ("archive-replay", {"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "params.to"),
            ("archive-replay", {"from": "yesterday", "to": "2026-01-01T00:00:00Z"}, "params.from"),
            ("archive-replay", {"from": "2026-01-01T00:00:00", "to": "2026-01-02T00:00:00Z"}, "params.from"),
            ("archive-replay", {"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, "params.to"),
            ("archive-replay", {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z", "x": 1}, "params.x"),
            ("s3-access-logs", {"bucket": "logs", "prefix": "alb/", "format": "csv"}, "params.format"),
            ("s3-access-logs", {"prefix": "alb/", "format": "alb"}, "params.bucket"),
            ("s3-access-logs", {"bucket": "Not A Bucket", "format": "alb"}, "params.bucket"),
            ("s3-access-logs", {"bucket": "logs", "prefix": "../alb", "format": "alb"}, "params.prefix"),
        ],
    )
    async def test_bad_params_are_a_400_naming_the_field_and_create_no_job(
        self, embedded: Stack, connector: str, params: dict[str, Any], field: str
    ) -> None:
        project = await embedded.project()
        answer = await embedded.trigger(project, connector, params)
        assert answer.status_code == 400, answer.text
        assert answer.json()["field"] == field
        assert answer.json()["message"]
        jobs = await embedded.client.get(f"/api/projects/{project}/jobs", headers=embedded.headers)
        assert jobs.json()["items"] == []

    async def test_another_tenants_project_is_a_404(self, embedded: Stack) -> None:
        theirs = await embedded.project(embedded.other_headers)
        answer = await embedded.trigger(
            theirs, "archive-replay", {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}
        )
        assert answer.status_code == 404
        assert answer.json()["field"] == "project_id"
        jobs = await embedded.client.get(f"/api/projects/{theirs}/jobs", headers=embedded.other_headers)
        assert jobs.json()["items"] == []

    async def test_a_job_is_answered_at_once_and_only_its_tenant_sees_it(self, embedded: Stack) -> None:
        project = await embedded.project()
        answer = await embedded.trigger(
            project, "archive-replay", {"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T01:00:00Z"}
        )
        assert answer.status_code == 202
        job = answer.json()
        assert (job["project_id"], job["kind"], job["name"]) == (project, "sync", "archive-replay")
        assert job["params"] == {"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T01:00:00Z"}
        done = await embedded.finished_job(job["id"])
        assert done["status"] == "succeeded"
        assert done["result"]["objects"] == 0
        hidden = await embedded.client.get(f"/api/jobs/{job['id']}", headers=embedded.other_headers)
        assert hidden.status_code == 404

    async def test_no_token_is_a_401(self, embedded: Stack) -> None:
        project = await embedded.project()
        answer = await embedded.client.post(
            "/api/orchestration/trigger-sync",
            json={"project_id": project, "connector": "archive-replay", "params": {}},
        )
        assert answer.status_code == 401


SAMPLE_DAY = "2026-01-02"
SAMPLE_MS = 1767348000000  # 2026-01-02T10:00:00Z
DAY = datetime.fromtimestamp(time.time() - 86_400, UTC).strftime("%Y-%m-%d")


def ms_of(moment: str) -> int:
    return int(datetime.fromisoformat(moment).timestamp() * 1000)


ALB_LINES = [
    # the documented example line, then variations
    "http 2026-01-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 "
    '0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - '
    "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "
    '"Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 2026-01-02T22:22:48.364000Z "forward" "-" "-" '
    '"10.0.0.1:80" "200" "-" "-" TID_1234abcd5678ef90',
    "https 2026-01-02T22:24:00.1Z app/my-loadbalancer/50dc6c495c0c9188 10.1.2.3:4000 10.0.0.2:80 "
    '0.002 0.150 0.001 404 404 120 50 "POST https://api.example.com:443/orders?id=7 HTTP/2.0" '
    '"Mozilla/5.0 (X11; Linux)" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 - "Root=1-2" "api.example.com" "-" 1 '
    '2026-01-02T22:23:59.900000Z "forward" "-" "-" "10.0.0.2:80" "404" "-" "-"',
    "h2 2026-01-02T22:25:00.000000Z app/lb/1 10.1.2.4:5000 - -1 -1 -1 502 - 10 0 "
    '"GET https://api.example.com:443/health HTTP/2.0" "-" - - - "-" "-" "-" - 2026-01-02T22:25:00.000000Z '
    '"-" "-" "Target.ConnectionRefused" "-" "-" "-" "-"',
    "this is not an access log line",
    'http 2026-01-02T22:26:00.000000Z app/lb/1 10.1.2.5:5000 - 0.1 0.1 0.1 - - 0 0 "- - - " "-" - -',
]
NDJSON_LINES = [
    '{"timestamp": "2026-01-02T10:00:00Z", "method": "get", "path": "/users/1", "status": 200, "duration_ms": 12.5,'
    ' "route": "/users/{id}", "consumer_id": "acme"}',
    '{"timestamp": 1767348000000, "method": "POST", "url": "https://x.example/orders?q=1", "status": 201,'
    ' "duration_ms": 40}',
    '{"timestamp": "2026-01-02T10:00:02+01:00", "method": "DELETE", "path": "/users/2", "status": 204,'
    ' "duration_ms": 3, "extra": "ignored"}',
    '{"timestamp": "2026-01-02T10:00:03Z", "method": "GET", "path": "/x", "status": 999, "duration_ms": 1}',
    "{not json",
    '{"method": "GET", "path": "/x", "status": 200, "duration_ms": 1}',
]


@pytest.fixture
async def with_s3(
    tmp_path: Path, queue: Queue, ch_settings: ClickHouseSettings, ch_client: Any, s3_server: SeaweedS3Engine
) -> AsyncIterator[tuple[Stack, str]]:
    """The embedded stack reading buckets on SeaweedFS, and a bucket holding ALB and NDJSON logs."""
    bucket = f"logs-{uuid.uuid4().hex[:12]}"
    s3 = s3_server.client()
    s3.create_bucket(Bucket=bucket)
    # events older than the project's retention would expire on insert: the samples are dated yesterday
    alb = "\n".join(ALB_LINES).replace(SAMPLE_DAY, DAY)
    s3.put_object(Bucket=bucket, Key="alb/2026/01/02/part-1.log.gz", Body=gzip.compress(alb.encode()))
    s3.put_object(Bucket=bucket, Key="alb/2026/01/02/broken.log.gz", Body=b"not gzip at all")
    ndjson = "\n".join(NDJSON_LINES).replace(SAMPLE_DAY, DAY).replace(str(SAMPLE_MS), str(ms_of(f"{DAY}T10:00:00Z")))
    s3.put_object(Bucket=bucket, Key="ndjson/requests.ndjson", Body=ndjson.encode() + b"\n")
    archive_dir = tmp_path / "archive"
    archive = ArchiveSettings(local_dir=str(archive_dir), endpoint_url=s3_server.url)
    aws = AwsSettings(
        region=s3_server.region, access_key_id=s3_server.access_key, secret_access_key=s3_server.secret_key
    )
    settings = dashboard_settings(tmp_path, queue.url, ch_settings, archive, aws)
    async with (
        running_consumer(worker_settings(queue, ch_settings, archive_dir)),
        open_stack(settings, queue, ch_client, archive_dir) as stack,
    ):
        yield stack, bucket


class TestS3AccessLogs:
    async def test_alb_logs_are_imported_once_with_rejections_counted(self, with_s3: tuple[Stack, str]) -> None:
        stack, bucket = with_s3
        project = await stack.project()
        params = {"bucket": bucket, "prefix": "alb/", "format": "alb", "service": "edge"}

        job = await stack.sync(project, "s3-access-logs", params)
        result = job["result"]
        assert (result["objects"], result["unreadable_objects"]) == (2, 1)
        assert (result["lines"], result["events"], result["rejected_lines"]) == (5, 3, 2)
        assert result["rejections"] == {
            "an ALB line has at least 14 fields": 1,
            "no status code (elb_status_code is '-')": 1,
            "not a readable gzip object": 1,
        }
        assert {
            "key": "alb/2026/01/02/part-1.log.gz",
            "line": 4,
            "reason": "an ALB line has at least 14 fields",
        } in result["rejected_samples"]
        assert (result["batches_enqueued"], result["events_enqueued"], result["batches_stored"]) == (1, 3, 1)

        rows = await stack.ch.query(
            "SELECT method, path, status, duration_ms, request_size, response_size, client_ip, user_agent, "
            "trace_id, service, toUnixTimestamp64Milli(timestamp) FROM events WHERE project_id = {p:String} "
            "ORDER BY timestamp",
            parameters={"p": project},
        )
        assert [row[:10] for row in rows.result_rows] == [
            (
                "GET",
                "/",
                200,
                1.0,
                34,
                366,
                "192.168.131.39",
                "curl/7.46.0",
                "Root=1-58337262-36d228ad5d99923122bbe354",
                "edge",
            ),
            ("POST", "/orders", 404, 153.0, 120, 50, "10.1.2.3", "Mozilla/5.0 (X11; Linux)", "Root=1-2", "edge"),
            ("GET", "/health", 502, 0.0, 10, 0, "10.1.2.4", None, None, "edge"),
        ]
        assert rows.result_rows[0][10] == ms_of(f"{DAY}T22:22:48.364Z")  # request_creation_time, not `time`

        again = await stack.sync(project, "s3-access-logs", params)
        assert (again["result"]["already_stored"], again["result"]["batches_enqueued"]) == (1, 0)
        assert (await stack.figures(project))[:2] == (3, 1)

    async def test_ndjson_logs_are_imported_with_bad_lines_counted(self, with_s3: tuple[Stack, str]) -> None:
        stack, bucket = with_s3
        project = await stack.project()
        job = await stack.sync(project, "s3-access-logs", {"bucket": bucket, "prefix": "ndjson/", "format": "ndjson"})
        result = job["result"]
        assert (result["objects"], result["lines"], result["events"], result["rejected_lines"]) == (1, 6, 3, 3)
        assert sorted(sample["line"] for sample in result["rejected_samples"]) == [4, 5, 6]
        rows = await stack.ch.query(
            "SELECT method, path, status, route, consumer_id, toUnixTimestamp64Milli(timestamp) FROM events "
            "WHERE project_id = {p:String} ORDER BY timestamp, method",
            parameters={"p": project},
        )
        assert rows.result_rows == [
            ("DELETE", "/users/2", 204, None, None, ms_of(f"{DAY}T09:00:02Z")),
            ("GET", "/users/1", 200, "/users/{id}", "acme", ms_of(f"{DAY}T10:00:00Z")),
            ("POST", "/orders", 201, None, None, ms_of(f"{DAY}T10:00:00Z")),
        ]

    async def test_a_missing_bucket_fails_the_job_with_the_reason(self, with_s3: tuple[Stack, str]) -> None:
        stack, _ = with_s3
        project = await stack.project()
        answer = await stack.trigger(project, "s3-access-logs", {"bucket": "no-such-bucket-here", "format": "alb"})
        job = await stack.finished_job(answer.json()["id"])
        assert job["status"] == "failed"
        assert "no-such-bucket-here" in job["error"] or "NoSuchBucket" in job["error"]


ROLE_ARN = "arn:aws:iam::123456789012:role/sentinel-flows"


class TestAwsMode:
    async def test_the_event_reaches_the_queue_and_the_workers_consumer_runs_the_sync(
        self,
        tmp_path: Path,
        queue: Queue,
        ch_settings: ClickHouseSettings,
        ch_client: Any,
        moto_server: MotoEngine,
    ) -> None:
        aws = AwsSettings(endpoint_url=moto_server.url, access_key_id="test", secret_access_key="test")
        clients = AwsClients(aws)
        try:
            suffix = uuid.uuid4().hex[:10]
            sqs = await clients.sqs()
            urls = {
                name: (await sqs.create_queue(QueueName=f"{name}-{suffix}"))["QueueUrl"]
                for name in ("tasks", "syncs", "observer")
            }
            flows = FlowSettings(
                backend="aws",
                state_machine_prefix=f"t{suffix}-",
                state_machine_role_arn=ROLE_ARN,
                task_queue_url=urls["tasks"],
                sync_queue_url=urls["syncs"],
                event_bus_name=f"bus-{suffix}",
                queue_wait_s=1,
                visibility_timeout_s=30,
            )
            await ensure_sync_route(clients, flows)
            # a second rule with the same pattern lets the test read the event without taking it from the worker
            observer = msgspec.structs.replace(flows, sync_queue_url=urls["observer"])
            await ensure_sync_route(clients, observer, rule_name=f"observer-{suffix}")

            archive_dir = tmp_path / "archive"
            archive = ArchiveSettings(local_dir=str(archive_dir))
            settings = dashboard_settings(tmp_path, queue.url, ch_settings, archive, aws, flows=flows)
            worker = msgspec.structs.replace(
                worker_settings(queue, ch_settings, archive_dir),
                flows=flows,
                aws=aws,
                control=settings.control,
                connectors=FAST_CONNECTORS,
            )
            stop = asyncio.Event()
            worker_redis = redis.Redis.from_url(queue.url)
            async with running_consumer(worker), open_stack(settings, queue, ch_client, archive_dir) as stack:
                syncs = asyncio.create_task(run_syncs(worker, worker_redis, stop))
                try:
                    project = await stack.project()
                    first = int(time.time() * 1000) - 2 * HOUR_MS
                    await ingest(stack, project, count=3, events=11, first_ms=first, seed=6)
                    await stack.lose(project)
                    params = {"from": iso(first), "to": iso(first + HOUR_MS)}

                    answer = await stack.trigger(project, "archive-replay", params)
                    assert answer.status_code == 202, answer.text
                    job_id = answer.json()["id"]

                    async def observed() -> list[Any]:
                        got = await sqs.receive_message(QueueUrl=urls["observer"], WaitTimeSeconds=1)
                        return list(got.get("Messages", []))

                    [message] = await wait_for(observed, what="the SyncRequested event on the observer queue")
                    event = json.loads(message["Body"])
                    assert (event["source"], event["detail-type"]) == ("sentinel.orchestration", "SyncRequested")
                    detail = event["detail"]
                    assert (detail["job_id"], detail["project_id"], detail["connector"]) == (
                        job_id,
                        project,
                        "archive-replay",
                    )
                    assert detail["params"] == params
                    stored = await stack.store.get_job(stack.tenant_id, job_id)
                    assert stored is not None
                    assert stored.external_ref == event["id"]

                    job = await stack.finished_job(job_id)
                    assert job["status"] == "succeeded", job
                    assert (job["result"]["batches_enqueued"], job["result"]["batches_stored"]) == (3, 3)
                    assert await stack.figures(project) == (33, 3, 33)
                    assert await job_statuses(stack, project, job_id) == ["queued", "running", "succeeded"]
                finally:
                    stop.set()
                    await asyncio.wait_for(syncs, timeout=60)
                    await worker_redis.aclose()
        finally:
            await clients.aclose()
