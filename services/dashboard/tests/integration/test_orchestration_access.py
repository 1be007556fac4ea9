"""Who may call the orchestration routes: every route with another tenant's ids or keys is a 404 that changes
nothing, and a read-only token cannot upload scripts, trigger syncs or run flows (403); and what a route answers
when a dependency is down or hangs."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from sentinel_config import ArchiveSettings, AwsSettings, ClickHouseSettings
from sentinel_control import ControlStore, Job, hasher_from, new_id, now_ms, open_control_store
from sentinel_dashboard.app import create_app
from sentinel_dashboard.layers.testing import Login, layers_settings, new_project, new_tenant
from sentinel_dashboard.tokens.service import issue_token
from sentinel_flows import FlowSettings
from sentinel_local import RedisEngine, free_port

Client = AsyncTestClient  # type: ignore[type-arg]
SOURCE = "print('hello')\n"
WINDOW = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}
REPLAY = {"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T06:00:00Z"}


class World(msgspec.Struct):
    client: Client
    store: ControlStore
    a: Login
    reader: Login
    b: Login
    project_a: str
    project_b: str
    script_key: str
    job_id: str


@pytest.fixture
async def world(tmp_path: Path, redis_server: RedisEngine) -> AsyncIterator[World]:
    """Tenant A (an admin and a read-only token) with a project, an uploaded script and a finished job; tenant B
    with a project of its own."""
    archive = ArchiveSettings(backend="local", local_dir=str(tmp_path / "archive"))
    nowhere = ClickHouseSettings(url=f"http://127.0.0.1:{free_port()}")  # no store answers: cost-calc is a 503
    settings = layers_settings(tmp_path, redis_server.url, archive=archive, clickhouse=nowhere)
    async with AsyncTestClient(create_app(settings)) as client:
        a, b = await new_tenant(settings, "A"), await new_tenant(settings, "B")
        store = open_control_store(settings.control, settings.aws)
        await store.setup()
        try:
            read_only = await issue_token(store, hasher_from(settings.control), a.id, "viewer", ["read"])
            project_a, project_b = await new_project(client, a), await new_project(client, b)
            uploaded = await client.post(
                f"/api/projects/{project_a}/scripts", json={"name": "report.py", "source": SOURCE}, headers=a.headers
            )
            assert uploaded.status_code == 201, uploaded.text
            at = now_ms()
            job = Job(
                id=new_id("job"),
                tenant_id=a.id,
                project_id=project_a,
                kind="flow",
                name="analysis",
                status="succeeded",
                params={"script_key": uploaded.json()["key"]},
                created_at=at,
                updated_at=at,
                started_at=at,
                finished_at=at,
            )
            await store.create_job(job)
            yield World(
                client=client,
                store=store,
                a=a,
                reader=Login(id=a.id, token=read_only.token),
                b=b,
                project_a=project_a,
                project_b=project_b,
                script_key=uploaded.json()["key"],
                job_id=job.id,
            )
        finally:
            await store.close()


def _routes(w: World) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Every orchestration route, called with tenant A's ids: (method, path, request options)."""
    run_flow = {"script_key": w.script_key, "window": WINDOW}
    return {
        "state": ("GET", f"/api/projects/{w.project_a}/state", {}),
        "scripts-list": ("GET", f"/api/projects/{w.project_a}/scripts", {}),
        "scripts-upload": (
            "POST",
            f"/api/projects/{w.project_a}/scripts",
            {"json": {"name": "theirs.py", "source": SOURCE}},
        ),
        "script-url": ("GET", "/api/layers/scripts", {"params": {"key": w.script_key}}),
        "trigger-sync": (
            "POST",
            "/api/orchestration/trigger-sync",
            {"json": {"project_id": w.project_a, "connector": "archive-replay", "params": REPLAY}},
        ),
        "run-flow": (
            "POST",
            "/api/orchestration/run-flow",
            {"json": {"project_id": w.project_a, "flow": "analysis", "input": run_flow}},
        ),
        "run-flow-their-script": (
            "POST",
            "/api/orchestration/run-flow",
            {"json": {"project_id": w.project_b, "flow": "analysis", "input": run_flow}},
        ),
        "jobs-list": ("GET", f"/api/projects/{w.project_a}/jobs", {}),
        "job": ("GET", f"/api/jobs/{w.job_id}", {}),
        "cost": ("GET", f"/api/projects/{w.project_a}/cost", {"params": {"month": "2026-01"}}),
    }


ROUTES = [
    "state",
    "scripts-list",
    "scripts-upload",
    "script-url",
    "trigger-sync",
    "run-flow",
    "run-flow-their-script",
    "jobs-list",
    "job",
    "cost",
]


async def _snapshot(w: World) -> tuple[list[str], list[str], list[str]]:
    """A's and B's jobs and A's scripts: what a refused call must leave as it was."""
    jobs_a = [job.id for job in await w.store.list_jobs(w.a.id, w.project_a)]
    jobs_b = [job.id for job in await w.store.list_jobs(w.b.id, w.project_b)]
    listed = await w.client.get(f"/api/projects/{w.project_a}/scripts", headers=w.a.headers)
    return jobs_a, jobs_b, [item["key"] for item in listed.json()["items"]]


def _ghost(w: World) -> World:
    """The same world with ids and keys of the same shape that exist nowhere."""
    project = new_id("prj")
    key = f"tenants/{new_id('ten')}/projects/{project}/scripts/report.py"
    return msgspec.structs.replace(w, project_a=project, job_id=new_id("job"), script_key=key)


@pytest.mark.parametrize("route", ROUTES)
async def test_another_tenants_ids_are_404_and_change_nothing(world: World, route: str) -> None:
    method, path, options = _routes(world)[route]
    if route != "run-flow-their-script":  # the ids are tenant A's own: A is not refused them
        own = await world.client.request(method, path, headers=world.a.headers, **options)
        assert own.status_code not in (403, 404, 500), (route, own.status_code, own.text)
    before = await _snapshot(world)

    response = await world.client.request(method, path, headers=world.b.headers, **options)
    assert response.status_code == 404, (route, response.status_code, response.text)
    body = response.json()
    assert body["field"] in ("project_id", "job_id", "key", "input.script_key"), body
    assert await _snapshot(world) == before
    # Indistinguishable from ids that exist nowhere: the answer does not tell that tenant A has them.
    ghost_method, ghost_path, ghost_options = _routes(_ghost(world))[route]
    ghost = await world.client.request(ghost_method, ghost_path, headers=world.b.headers, **ghost_options)
    assert (ghost.status_code, ghost.json()["field"], ghost.json()["error"]) == (404, body["field"], body["error"])


@pytest.mark.parametrize("route", ["scripts-upload", "trigger-sync", "run-flow"])
async def test_a_read_only_token_cannot_change_anything(world: World, route: str) -> None:
    method, path, options = _routes(world)[route]
    before = await _snapshot(world)
    response = await world.client.request(method, path, headers=world.reader.headers, **options)
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "insufficient_scope"
    assert await _snapshot(world) == before
    # The same token reads the project: the refusal is the scope, not the token or the tenant.
    readable = await world.client.get(f"/api/projects/{world.project_a}/jobs", headers=world.reader.headers)
    assert readable.status_code == 200


async def test_cost_with_the_analytics_store_down_is_a_503(world: World) -> None:
    response = await world.client.get(f"/api/projects/{world.project_a}/cost", headers=world.a.headers)
    assert response.status_code == 503, response.text
    assert (response.json()["error"], response.headers["retry-after"]) == ("unavailable", "5")


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


async def test_a_flow_job_is_answered_from_the_store_when_step_functions_hangs(
    tmp_path: Path, redis_server: RedisEngine, silent_port: int
) -> None:
    hung = f"http://127.0.0.1:{silent_port}"
    flows = FlowSettings(
        backend="aws",
        state_machine_role_arn="arn:aws:iam::123456789012:role/sentinel-flows",
        task_queue_url=f"{hung}/123456789012/tasks",
        sync_queue_url=f"{hung}/123456789012/syncs",
    )
    aws = AwsSettings(endpoint_url=hung, access_key_id="test", secret_access_key="test")
    settings = layers_settings(tmp_path, redis_server.url, flows=flows, aws=aws)
    async with AsyncTestClient(create_app(settings)) as client:
        login = await new_tenant(settings, "A")
        project = await new_project(client, login)
        store = open_control_store(settings.control, settings.aws)
        await store.setup()
        try:
            at = now_ms()
            job = Job(
                id=new_id("job"),
                tenant_id=login.id,
                project_id=project,
                kind="flow",
                name="analysis",
                status="running",
                external_ref=f"arn:aws:states:us-east-1:123456789012:execution:sentinel-analysis:{new_id('job')}",
                created_at=at,
                updated_at=at,
                started_at=at,
            )
            await store.create_job(job)
        finally:
            await store.close()
        # Without a bound the read waits out botocore's read timeout and retries: minutes, not seconds.
        started = time.monotonic()
        response = await client.get(f"/api/jobs/{job.id}", headers=login.headers)
        assert time.monotonic() - started < 15
        assert response.status_code == 200, response.text
        assert (response.json()["id"], response.json()["status"]) == (job.id, "running")
