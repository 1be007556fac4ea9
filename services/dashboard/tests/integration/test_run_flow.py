"""The analysis flow end to end: ``POST /api/orchestration/run-flow`` on a dashboard serving real HTTP.

Real engines throughout: Redis, the ClickHouse engine, SeaweedFS S3 (presigned URLs), SQLite for the control
store, moto for Step Functions and SQS. The script really runs: E2B's SDK in debug mode against the project's
``/execute`` server, or Modal's adapter with the function body run locally. It reads its data through the presigned
URL and calls the real webhook with its signature; the flow resumes, stores the gold artifact and finishes the
job, and the change arrives over SSE through an HTTP client.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import msgspec
import pytest
import uvicorn

from sentinel_analytics import ClickHouseStore, decode_stored, group_token
from sentinel_analytics.testing import drop_database, fresh_database, make_batch
from sentinel_config import (
    ArchiveSettings,
    AwsSettings,
    ClickHouseSettings,
    ControlSettings,
    LogSettings,
    RedisSettings,
)
from sentinel_control import SecretHasher, SqliteControlStore, now_ms
from sentinel_control.testing import make_project, make_tenant, make_token
from sentinel_dashboard.app import create_app
from sentinel_dashboard.settings import DashboardServerSettings, Settings
from sentinel_flows import AwsClients, FlowSettings, StepFunctionsRunner
from sentinel_flowtasks import AnalysisSettings
from sentinel_local import ClickHouseEngine, MotoEngine, RedisEngine, SeaweedS3Engine, free_port
from sentinel_queue import encode_entry
from sentinel_sandbox import SIGNATURE_HEADER, E2BSettings, LocalSandboxSettings, ModalSettings, job_secret, sign
from sentinel_sandbox.callback import encode_body
from sentinel_sandbox.modal_runner import ModalRunner
from sentinel_sandbox.testing import ExecuteServer, LocalModalRemote
from sentinel_storage import S3ObjectStore
from sentinel_worker.flowtasks import run_flow_tasks
from sentinel_worker.settings import Settings as WorkerSettings

SECRET = "run-flow-test-secret-0123456789-abcdefghij"
ROLE_ARN = "arn:aws:iam::123456789012:role/sentinel-flows"
HOUR = 3_600_000
EVENTS = 120
URL = "/api/webhooks/sandbox-callback"

SCRIPT = """
import json, os, urllib.request
from sentinel_callback import post_result

with urllib.request.urlopen(os.environ["SENTINEL_DATA_URL"]) as answer:
    rows = [json.loads(line) for line in answer.read().decode().splitlines() if line.strip()]
durations = sorted(row["duration_ms"] for row in rows)
result = {
    "rows": len(rows),
    "p95_ms": durations[int(len(durations) * 0.95)],
    "server_errors": sum(1 for row in rows if row["status"] >= 500),
    "projects": sorted({row.get("project_id", "-") for row in rows}),
}
post_result("succeeded", result, logs=f"read {len(rows)} rows", usage={"cpu_s": 0.01})
"""

CRASHING_SCRIPT = 'raise RuntimeError("the model did not converge")\n'

FAILURE_REPORTING_SCRIPT = """
from sentinel_callback import post_result
post_result("failed", None, logs="ZeroDivisionError: division by zero in step 3")
"""

WAITING_SCRIPT = """
import pathlib, time
here = pathlib.Path({folder!r})
(here / "started").write_text("1")
deadline = time.monotonic() + 60
while not (here / "go").exists() and time.monotonic() < deadline:
    time.sleep(0.05)
"""


@dataclass
class Stack:
    url: str
    token: str
    tenant_id: str
    project_id: str
    other_project_id: str
    objects: S3ObjectStore
    events: list[dict[str, Any]]
    window: dict[str, str]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def upload(self, name: str, source: str) -> str:
        key = f"tenants/{self.tenant_id}/projects/{self.project_id}/scripts/{name}"
        await self.objects.put(key, source.encode(), content_type="text/x-python")
        return key


@pytest.fixture(scope="module")
def execute_server() -> Iterator[ExecuteServer]:
    with ExecuteServer() as server:
        yield server


@pytest.fixture
async def ch_database(clickhouse_server: ClickHouseEngine) -> AsyncIterator[ClickHouseSettings]:
    settings = await fresh_database(clickhouse_server.url)
    yield settings
    await drop_database(settings)


def _bucket(s3: SeaweedS3Engine) -> str:
    name = f"flows-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3",
        endpoint_url=s3.url,
        aws_access_key_id=s3.access_key,
        aws_secret_access_key=s3.secret_key,
        region_name=s3.region,
    ).create_bucket(Bucket=name)
    return name


async def _seed_events(settings: ClickHouseSettings, project_id: str, tenant_id: str, at: int) -> list[dict[str, Any]]:
    """EVENTS events of the project inside the window, and some of another project that must not be exported."""
    rng = random.Random(8)
    ours = make_batch(rng, project_id=project_id, tenant_id=tenant_id, events=EVENTS, now_ms=at, spread_ms=HOUR)
    theirs = make_batch(rng, project_id="prj_someoneelse0000000000", events=30, now_ms=at, spread_ms=HOUR)
    store = await ClickHouseStore.open(settings)
    try:
        for batch in (ours, theirs):
            await store.write(group_token([str(batch.batch_id)]), [decode_stored(encode_entry(batch), 30)])
    finally:
        await store.close()
    return [{"duration_ms": event.duration_ms, "status": event.status} for event in ours.events]


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))


class _Server:
    """The dashboard app served by uvicorn on a loopback port inside the test's event loop."""

    def __init__(self, app: Any, port: int) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_level="warning")
        self.server = uvicorn.Server(config)
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> _Server:
        self.task = asyncio.create_task(self.server.serve())
        for _ in range(300):
            if self.server.started:
                return self
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.05)
        raise AssertionError("the dashboard did not start")

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await asyncio.wait_for(self.task, 30)


async def _build(
    tmp_path: Path,
    redis_server: RedisEngine,
    s3_server: SeaweedS3Engine,
    ch: ClickHouseSettings,
    execute_server: ExecuteServer,
    *,
    flows: FlowSettings | None = None,
    aws: AwsSettings | None = None,
    **analysis: Any,
) -> tuple[Settings, Stack]:
    db = tmp_path / "control.db"
    store = SqliteControlStore(db)
    await store.setup()
    tenant, other = await make_tenant(store, "A"), await make_tenant(store, "B")
    project, theirs = await make_project(store, tenant), await make_project(store, other)
    token, _ = await make_token(store, SecretHasher(SECRET), tenant, scopes=("read", "write"))
    await store.close()

    port = free_port()
    archive = ArchiveSettings(backend="s3", bucket=_bucket(s3_server), endpoint_url=s3_server.url)
    aws = aws or AwsSettings(
        access_key_id=s3_server.access_key, secret_access_key=s3_server.secret_key, region=s3_server.region
    )
    settings = Settings(
        dashboard=DashboardServerSettings(port=port),
        redis=RedisSettings(url=redis_server.url),
        control=ControlSettings(backend="sqlite", sqlite_path=str(db), hash_secret=SECRET),
        clickhouse=ch,
        archive=archive,
        aws=aws,
        flows=flows or FlowSettings(),
        analysis=AnalysisSettings(
            sandbox="e2b", wall_s=60, cpu_s=30, memory_mb=512, no_callback_grace_s=1.0, **analysis
        ),
        e2b=E2BSettings(debug=True, sandbox_url=execute_server.url),
        sandbox_local=LocalSandboxSettings(enabled=False),
        log=LogSettings(format="json", level="WARNING"),
    )
    at = now_ms()
    events = await _seed_events(ch, project.id, tenant.id, at)
    window = {"start": _iso((at // HOUR - 2) * HOUR), "end": _iso((at // HOUR + 1) * HOUR)}
    stack = Stack(
        url=f"http://127.0.0.1:{port}",
        token=token,
        tenant_id=tenant.id,
        project_id=project.id,
        other_project_id=theirs.id,
        objects=S3ObjectStore(archive, aws),
        events=events,
        window=window,
    )
    return settings, stack


async def _sse_jobs(
    client: httpx.AsyncClient,
    stack: Stack,
    job_seen: asyncio.Queue[dict[str, Any]],
    state_seen: list[dict[str, Any]] | None = None,
) -> None:
    """Forward every ``jobs`` update of the project's SSE stream into ``job_seen`` (``state`` ones to
    ``state_seen``)."""
    params = {"project_id": stack.project_id, "topics": "jobs,state"}
    async with client.stream("GET", "/events", params=params, headers=stack.headers, timeout=None) as response:
        assert response.status_code == 200
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line.partition(":")[2].strip()
            elif line.startswith("data:") and event == "jobs":
                await job_seen.put(json.loads(line.partition(":")[2]))
            elif line.startswith("data:") and event == "state" and state_seen is not None:
                state_seen.append(json.loads(line.partition(":")[2]))


async def _final_over_sse(job_seen: asyncio.Queue[dict[str, Any]], job_id: str, timeout_s: float) -> dict[str, Any]:
    async def wait() -> dict[str, Any]:
        while True:
            update = await job_seen.get()
            if update["id"] == job_id and update["status"] in ("succeeded", "failed"):
                return update

    return await asyncio.wait_for(wait(), timeout_s)


async def _run(
    client: httpx.AsyncClient,
    stack: Stack,
    script_key: str,
    state_seen: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Start the analysis and return (the 202 answer, the final job as it arrived over SSE); with ``state_seen``,
    also wait until the final job's node has arrived on the ``state`` topic."""
    job_seen: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    listener = asyncio.create_task(_sse_jobs(client, stack, job_seen, state_seen))
    try:
        await asyncio.sleep(0.3)  # the stream is subscribed before the job starts
        body = {
            "project_id": stack.project_id,
            "flow": "analysis",
            "input": {"script_key": script_key, "window": stack.window, **extra},
        }
        started = await client.post("/api/orchestration/run-flow", json=body, headers=stack.headers)
        assert started.status_code == 202, started.text
        final = await _final_over_sse(job_seen, started.json()["id"], timeout_s=90)
        if state_seen is not None:
            node = (f"job:{final['id']}", final["status"])
            for _ in range(200):
                if node in [(update["id"], update["status"]) for update in state_seen]:
                    break
                await asyncio.sleep(0.05)
            assert node in [(update["id"], update["status"]) for update in state_seen], state_seen
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
    return started.json(), final


def _expected_result(stack: Stack) -> dict[str, Any]:
    durations = sorted(event["duration_ms"] for event in stack.events)
    return {
        "rows": EVENTS,
        "p95_ms": durations[int(len(durations) * 0.95)],
        "server_errors": sum(1 for event in stack.events if event["status"] >= 500),
        "projects": ["-"],
    }


async def _check_succeeded(
    client: httpx.AsyncClient, stack: Stack, started: dict[str, Any], final: dict[str, Any], provider: str
) -> None:
    job_id = started["id"]
    assert (started["kind"], started["name"], started["status"]) == ("flow", "analysis", "running")
    assert final["status"] == "succeeded", final
    seen = (await client.get(f"/api/jobs/{job_id}", headers=stack.headers)).json()
    assert (seen["status"], seen["progress"], seen["error"]) == ("succeeded", 1.0, None)
    result = seen["result"]
    assert "script" in result, result
    assert result["script"]["status"] == "succeeded"
    assert result["script"]["result"] == _expected_result(stack)
    assert result["script"]["logs"] == f"read {EVENTS} rows"
    assert result["export"]["rows"] == EVENTS
    assert result["export"]["key"] == f"tenants/{stack.tenant_id}/projects/{stack.project_id}/exports/{job_id}.ndjson"
    assert result["sandbox"]["provider"] == provider
    assert result["sandbox"]["run_id"]
    assert result["sandbox"]["seconds"] > 0
    assert result["usage"]["sandbox_seconds"] == result["sandbox"]["seconds"]
    for step in ("export_ms", "script_ms", "artifact_ms", "total_ms"):
        assert isinstance(result["timings"][step], int), step
    assert result["timings"]["total_ms"] >= result["timings"]["script_ms"]

    artifact_key = f"tenants/{stack.tenant_id}/projects/{stack.project_id}/gold/{job_id}.json"
    assert result["artifact"]["key"] == artifact_key
    artifact = json.loads(await stack.objects.get(artifact_key))
    assert artifact["result"] == _expected_result(stack)
    assert (artifact["job_id"], artifact["rows"], artifact["status"]) == (job_id, EVENTS, "succeeded")
    exported = (await stack.objects.get(result["export"]["key"])).decode().splitlines()
    assert len(exported) == EVENTS


class TestEmbedded:
    async def test_analysis_runs_the_script_in_e2b_and_finishes_the_job_over_sse(
        self,
        tmp_path: Path,
        redis_server: RedisEngine,
        s3_server: SeaweedS3Engine,
        ch_database: ClickHouseSettings,
        execute_server: ExecuteServer,
    ) -> None:
        settings, stack = await _build(tmp_path, redis_server, s3_server, ch_database, execute_server)
        key = await stack.upload("latency.py", SCRIPT)
        async with (
            _Server(create_app(settings), settings.dashboard.port),
            httpx.AsyncClient(base_url=stack.url) as client,
        ):
            state_seen: list[dict[str, Any]] = []
            started, final = await _run(client, stack, key, state_seen)
            await _check_succeeded(client, stack, started, final, "e2b")
            listed = (await client.get(f"/api/projects/{stack.project_id}/jobs", headers=stack.headers)).json()
            assert [job["id"] for job in listed["items"]] == [started["id"]]
            # The job's node in the state tree changed with it, and that change came over SSE as well.
            nodes = [update for update in state_seen if update["id"] == f"job:{started['id']}"]
            assert [node["status"] for node in nodes][-1] == "succeeded", nodes
            assert {node["parent"] for node in nodes} == {"layer:jobs"}
            assert nodes[-1]["meta"]["job_kind"] == "flow"
            tree = (await client.get(f"/api/projects/{stack.project_id}/state", headers=stack.headers)).json()
            layers = {layer["id"]: layer for layer in tree["root"]["children"]}
            [job_node] = layers["layer:jobs"]["children"]
            assert (job_node["id"], job_node["status"]) == (f"job:{started['id']}", "succeeded")
            [script] = layers["layer:scripts"]["children"]
            assert (script["id"], script["meta"]["last_run"]["status"]) == ("script:latency.py", "succeeded")
        await stack.objects.close()

    async def test_modal_through_its_adapter(
        self,
        tmp_path: Path,
        redis_server: RedisEngine,
        s3_server: SeaweedS3Engine,
        ch_database: ClickHouseSettings,
        execute_server: ExecuteServer,
    ) -> None:
        settings, stack = await _build(tmp_path, redis_server, s3_server, ch_database, execute_server)
        key = await stack.upload("latency.py", SCRIPT)
        remote = LocalModalRemote()
        app = create_app(settings)
        app.state.sandbox_runners = {"modal": ModalRunner(ModalSettings(), remote=remote)}
        async with _Server(app, settings.dashboard.port), httpx.AsyncClient(base_url=stack.url) as client:
            started, final = await _run(client, stack, key, sandbox="modal")
            await _check_succeeded(client, stack, started, final, "modal")
        [spawned] = remote.spawned
        assert spawned["source"] == SCRIPT
        assert spawned["env"]["SENTINEL_CALLBACK_URL"] == f"{stack.url}/api/webhooks/sandbox-callback"
        await stack.objects.close()

    @pytest.mark.parametrize(
        ("source", "error"),
        [
            (CRASHING_SCRIPT, "Sentinel.ScriptFailed: RuntimeError: the model did not converge"),
            (FAILURE_REPORTING_SCRIPT, "Sentinel.ScriptFailed: ZeroDivisionError: division by zero in step 3"),
        ],
        ids=["crashes", "reports-failure"],
    )
    async def test_a_failing_script_fails_the_job_with_its_error(
        self,
        tmp_path: Path,
        redis_server: RedisEngine,
        s3_server: SeaweedS3Engine,
        ch_database: ClickHouseSettings,
        execute_server: ExecuteServer,
        source: str,
        error: str,
    ) -> None:
        settings, stack = await _build(tmp_path, redis_server, s3_server, ch_database, execute_server)
        key = await stack.upload("broken.py", source)
        async with (
            _Server(create_app(settings), settings.dashboard.port),
            httpx.AsyncClient(base_url=stack.url) as client,
        ):
            started, final = await _run(client, stack, key)
            assert final["status"] == "failed"
            assert final["error"].startswith(error), final["error"]
            seen = (await client.get(f"/api/jobs/{started['id']}", headers=stack.headers)).json()
            assert seen["status"] == "failed"
            assert "artifact" not in seen["result"]
            gold = f"tenants/{stack.tenant_id}/projects/{stack.project_id}/gold/{started['id']}.json"
            assert not await stack.objects.exists(gold)
        await stack.objects.close()

    async def test_a_window_over_the_export_limit_fails_the_job_without_retrying(
        self,
        tmp_path: Path,
        redis_server: RedisEngine,
        s3_server: SeaweedS3Engine,
        ch_database: ClickHouseSettings,
        execute_server: ExecuteServer,
    ) -> None:
        settings, stack = await _build(
            tmp_path, redis_server, s3_server, ch_database, execute_server, max_export_rows=EVENTS - 1
        )
        key = await stack.upload("report.py", "print('never runs')\n")
        async with (
            _Server(create_app(settings), settings.dashboard.port),
            httpx.AsyncClient(base_url=stack.url) as client,
        ):
            started, final = await _run(client, stack, key)
            assert final["status"] == "failed"
            assert final["error"].startswith("Sentinel.ExportTooLarge"), final["error"]
            assert f"holds {EVENTS:,} events, over the {EVENTS - 1:,}" in final["error"]
            seen = (await client.get(f"/api/jobs/{started['id']}", headers=stack.headers)).json()
            assert "export" not in seen["result"]
            assert "sandbox" not in seen["result"]  # the script never ran
            exports = f"tenants/{stack.tenant_id}/projects/{stack.project_id}/exports/{started['id']}.ndjson"
            assert not await stack.objects.exists(exports)
        await stack.objects.close()

    async def test_a_waiting_flow_resumes_only_on_a_valid_callback_and_only_once(
        self,
        tmp_path: Path,
        redis_server: RedisEngine,
        s3_server: SeaweedS3Engine,
        ch_database: ClickHouseSettings,
        execute_server: ExecuteServer,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """The script waits (its task token stored on the job) while the test plays the sandbox's callbacks."""
        settings, stack = await _build(tmp_path, redis_server, s3_server, ch_database, execute_server)
        folder = tmp_path / "script"
        folder.mkdir()
        key = await stack.upload("waits.py", WAITING_SCRIPT.format(folder=str(folder)))
        app = create_app(settings)
        job_seen: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        async with _Server(app, settings.dashboard.port), httpx.AsyncClient(base_url=stack.url) as client:
            runtime = app.state.flows
            answered: list[str] = []
            send_task_success = runtime.runner.send_task_success

            async def counted(token: str, output: Any) -> None:
                answered.append(token)  # every attempt, answered or refused as already answered
                await send_task_success(token, output)

            monkeypatch.setattr(runtime.runner, "send_task_success", counted)
            listener = asyncio.create_task(_sse_jobs(client, stack, job_seen))
            try:
                await asyncio.sleep(0.3)
                body = {
                    "project_id": stack.project_id,
                    "flow": "analysis",
                    "input": {"script_key": key, "window": stack.window},
                }
                started = await client.post("/api/orchestration/run-flow", json=body, headers=stack.headers)
                assert started.status_code == 202, started.text
                job_id = started.json()["id"]
                for _ in range(600):
                    if (folder / "started").exists():
                        break
                    await asyncio.sleep(0.05)
                assert (folder / "started").exists(), "the script never started"

                store = SqliteControlStore(Path(settings.control.sqlite_path))
                waiting = await store.find_job(job_id)
                await store.close()
                assert waiting is not None
                assert waiting.task_token is not None
                execution_id = waiting.result["execution_id"]
                secret = job_secret(SECRET, job_id)
                callback = encode_body(job_id, "succeeded", {"rows": 7}, logs="seven rows", usage={"cpu_s": 0.5})
                now = int(time.time())

                refused = {
                    "altered-body": (
                        callback.replace(b'"rows":7', b'"rows":8'),
                        sign(secret, callback, now),
                    ),
                    "wrong-secret": (callback, sign(job_secret(SECRET, "job_" + "0" * 22), callback, now)),
                    "stale": (callback, sign(secret, callback, now - 301)),
                    "garbled": (callback, "t=1,v1=nothex"),
                }
                for name, (payload, signature) in refused.items():
                    answer = await client.post(URL, content=payload, headers={SIGNATURE_HEADER: signature})
                    assert (answer.status_code, answer.json()["error"]) == (401, "invalid_signature"), name
                unsigned = await client.post(URL, content=callback)
                assert unsigned.status_code == 401

                # Nothing moved: the job still waits on its token and the execution on its RunScript task.
                job = (await client.get(f"/api/jobs/{job_id}", headers=stack.headers)).json()
                assert (job["status"], job["progress"]) == ("running", 0.5)
                assert "script" not in job["result"]
                description = await runtime.runner.describe(execution_id)
                assert description.status.value == "RUNNING"
                assert (description.states[-1].name, description.states[-1].exited_at) == ("RunScript", None)
                assert waiting.task_token not in answered  # (the local runner answers its own tasks here too)

                headers = {SIGNATURE_HEADER: sign(secret, callback, now)}
                accepted = await client.post(URL, content=callback, headers=headers)
                assert accepted.status_code == 200, accepted.text
                assert accepted.json() == {"job_id": job_id, "status": "running", "duplicate": False}
                assert answered.count(waiting.task_token) == 1
                (folder / "go").write_text("1")
                final = await _final_over_sse(job_seen, job_id, timeout_s=60)
                assert final["status"] == "succeeded", final

                # The execution's transitions and the billed seconds land just after the job finishes.
                for _ in range(200):
                    finished = (await client.get(f"/api/jobs/{job_id}", headers=stack.headers)).json()
                    if {"flow_transitions", "sandbox_seconds"} <= finished["result"].get("usage", {}).keys():
                        break
                    await asyncio.sleep(0.05)
                assert {"flow_transitions", "sandbox_seconds"} <= finished["result"]["usage"].keys(), finished
                assert finished["result"]["script"]["result"] == {"rows": 7}
                for replay in (headers, {SIGNATURE_HEADER: sign(secret, callback, int(time.time()))}):
                    again = await client.post(URL, content=callback, headers=replay)
                    assert again.status_code == 200
                    assert again.json() == {"job_id": job_id, "status": "succeeded", "duplicate": True}
                different = encode_body(job_id, "succeeded", {"rows": 9})
                conflict = await client.post(
                    URL, content=different, headers={SIGNATURE_HEADER: sign(secret, different, int(time.time()))}
                )
                assert conflict.status_code == 409
                assert answered.count(waiting.task_token) == 1  # the token was answered once
                assert (await client.get(f"/api/jobs/{job_id}", headers=stack.headers)).json() == finished
                description = await runtime.runner.describe(execution_id)
                assert description.status.value == "SUCCEEDED"
                assert [state.name for state in description.states].count("RunScript") == 1
                artifact = json.loads(await stack.objects.get(finished["result"]["artifact"]["key"]))
                assert artifact["result"] == {"rows": 7}
            finally:
                listener.cancel()
                await asyncio.gather(listener, return_exceptions=True)
        await stack.objects.close()


class TestOnStepFunctions:
    async def test_the_same_flow_file_on_moto_with_the_task_queue_worker(
        self,
        tmp_path: Path,
        redis_server: RedisEngine,
        s3_server: SeaweedS3Engine,
        ch_database: ClickHouseSettings,
        execute_server: ExecuteServer,
        moto_server: MotoEngine,
    ) -> None:
        moto = AwsClients(AwsSettings(endpoint_url=moto_server.url, access_key_id="test", secret_access_key="test"))
        sqs = await moto.sqs()
        suffix = uuid.uuid4().hex[:10]
        tasks = (await sqs.create_queue(QueueName=f"tasks-{suffix}"))["QueueUrl"]
        syncs = (await sqs.create_queue(QueueName=f"syncs-{suffix}"))["QueueUrl"]
        flows = FlowSettings(
            backend="aws",
            state_machine_prefix=f"t{suffix}-",
            state_machine_role_arn=ROLE_ARN,
            task_queue_url=tasks,
            sync_queue_url=syncs,
            queue_wait_s=1,
            visibility_timeout_s=30,
        )
        aws = AwsSettings(
            endpoint_url=moto_server.url,
            access_key_id=s3_server.access_key,
            secret_access_key=s3_server.secret_key,
            region="us-east-1",
        )
        settings, stack = await _build(
            tmp_path, redis_server, s3_server, ch_database, execute_server, flows=flows, aws=aws
        )
        key = await stack.upload("latency.py", SCRIPT)
        # The worker's side: its own entry point for flow tasks (the handlers behind SQS, answering through Step
        # Functions), configured as the worker would be in production, with the dashboard's public URL.
        worker_settings = WorkerSettings(
            redis=settings.redis,
            analytics=settings.analytics,
            clickhouse=settings.clickhouse,
            archive=settings.archive,
            aws=aws,
            flows=flows,
            control=settings.control,
            analysis=msgspec.structs.replace(settings.analysis, public_url=stack.url),
            e2b=settings.e2b,
            modal=settings.modal,
            sandbox_local=settings.sandbox_local,
        )
        import redis.asyncio as redis

        worker_redis = redis.Redis.from_url(settings.redis.url)
        answerer = StepFunctionsRunner(moto, flows)
        stop = asyncio.Event()
        worker_task = asyncio.create_task(run_flow_tasks(worker_settings, worker_redis, stop))
        try:
            async with (
                _Server(create_app(settings), settings.dashboard.port),
                httpx.AsyncClient(base_url=stack.url) as client,
            ):
                started, final = await _run(client, stack, key)
                await _check_succeeded(client, stack, started, final, "e2b")
                seen = (await client.get(f"/api/jobs/{started['id']}", headers=stack.headers)).json()
                assert seen["result"]["execution_id"].startswith("arn:aws:states:")
                assert seen["result"]["execution_id"].endswith(f":{started['id']}")
                description = await answerer.describe(seen["result"]["execution_id"])
                assert description.status.value == "SUCCEEDED"
                assert description.output["result"] == _expected_result(stack)
        finally:
            stop.set()
            await asyncio.wait_for(worker_task, 30)
            await worker_redis.aclose()
            await moto.aclose()
            await stack.objects.close()
