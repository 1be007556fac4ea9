"""Schemathesis against the dashboard's own OpenAPI schema, on a real server process: never a 5xx, and every
answer has a status code, content type and body the schema declares.

Every operation is fuzzed with the admin token, part of the cases aimed at the seeded project, key, token, job,
event and script so they reach past the 404s; each case is sent once more with no or a wrong token, which must
be a 401. Webhook cases are signed or not (unsigned: a 4xx). ``GET /events`` is fuzzed too: the server ends
each stream after a fraction of a second.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from sentinel_analytics import ClickHouseStore
from sentinel_analytics.reads.testing import KnownData
from sentinel_analytics.testing import drop_database, fresh_database
from sentinel_config import ClickHouseSettings
from sentinel_control import Job, SecretHasher, SqliteControlStore, TenantLimits, new_id, now_ms
from sentinel_control.testing import make_key, make_project
from sentinel_dashboard.tokens.service import create_tenant, issue_token
from sentinel_local import ClickHouseEngine, RedisEngine, free_port
from sentinel_sandbox import SIGNATURE_HEADER, job_secret, sign

SECRET = "schema-fuzz-secret-0123456789-abcdefghijklmn"
REDIS_DB = 7
SCRIPT = "fuzzed.py"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
WRONG_CREDENTIALS: list[dict[str, str]] = [
    {},
    {"Authorization": "Bearer sdt_" + "A" * 43},
    {"Authorization": "Bearer not-a-token"},
    {"Authorization": "Basic c2VudGluZWw6c2VudGluZWw="},
]
WEBHOOK = "POST /api/webhooks/sandbox-callback"
# Operations that answer without a dashboard token: their own signature, or none.
OPEN = {"GET /healthz", "GET /readyz", WEBHOOK, "GET /api/storage/objects"}

# Cases per operation, in the order they run: deletions of the seeded things come last.
OPERATIONS: dict[str, int] = {
    "GET /healthz": 5,
    "GET /readyz": 5,
    "GET /api/projects": 5,
    "POST /api/projects": 150,
    "GET /api/projects/{project_id}": 60,
    "PATCH /api/projects/{project_id}": 200,
    "GET /api/projects/{project_id}/keys": 60,
    "POST /api/projects/{project_id}/keys": 80,
    "POST /api/projects/{project_id}/keys/{key_id}/rotate": 60,
    "GET /api/projects/{project_id}/metrics/overview": 200,
    "GET /api/projects/{project_id}/metrics/timeseries": 200,
    "GET /api/projects/{project_id}/metrics/endpoints": 200,
    "GET /api/projects/{project_id}/metrics/status-codes": 100,
    "GET /api/projects/{project_id}/metrics/consumers": 200,
    "GET /api/projects/{project_id}/requests": 250,
    "GET /api/projects/{project_id}/requests/{event_id}": 80,
    "GET /api/tokens": 5,
    "POST /api/tokens": 150,
    "GET /api/projects/{project_id}/jobs": 60,
    "GET /api/jobs/{job_id}": 60,
    "POST /api/webhooks/sandbox-callback": 200,
    "POST /api/orchestration/run-flow": 150,
    "POST /api/orchestration/trigger-sync": 200,
    "POST /api/sse-tokens": 80,
    "GET /events": 60,
    "GET /api/projects/{project_id}/scripts": 40,
    "POST /api/projects/{project_id}/scripts": 150,
    "GET /api/layers/scripts": 60,
    "GET /api/storage/objects": 60,
    "GET /api/layers/health/connectors": 30,
    "GET /api/projects/{project_id}/cost": 150,
    "GET /api/projects/{project_id}/state": 40,
    "DELETE /api/projects/{project_id}/scripts/{name}": 40,
    "DELETE /api/projects/{project_id}/keys/{key_id}": 40,
    "DELETE /api/tokens/{token_id}": 40,
    "DELETE /api/projects/{project_id}": 40,
}


@dataclass
class World:
    url: str
    token: str = field(repr=False)
    log: Path = field(repr=False)
    ids: dict[str, str] = field(repr=False)
    """Seeded ids by parameter name: project_id, key_id, token_id, job_id, event_id, name, and more."""
    storage_query: dict[str, str] = field(default_factory=dict, repr=False)
    session: requests.Session = field(default_factory=requests.Session, repr=False)

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def log_of(self, response: Any) -> str:
        """The server's log lines of this request (its tail when the answer names no request id)."""
        text = self.log.read_text(errors="replace")
        request_id = response.headers.get("x-request-id", [""])[0]
        lines = [line for line in text.splitlines() if request_id and request_id in line]
        return "server log:\n" + ("\n".join(lines) if lines else text[-6_000:])


async def _seed(db: Path, clickhouse: ClickHouseSettings) -> tuple[str, dict[str, str]]:
    store = SqliteControlStore(db)
    await store.setup()
    hasher = SecretHasher(SECRET)
    try:
        tenant, admin = await create_tenant(store, hasher, "fuzz", TenantLimits(max_projects=1_000, max_tokens=1_000))
        victim = await issue_token(store, hasher, tenant.id, "victim", ("read",))
        project = await make_project(store, tenant, name="fuzzed")
        doomed = await make_project(store, tenant, name="doomed")
        _, key = await make_key(store, hasher, project)
        at = now_ms()
        job = Job(
            id=new_id("job"),
            tenant_id=tenant.id,
            project_id=project.id,
            kind="script",
            name="fuzz",
            status="running",
            created_at=at,
            updated_at=at,
        )
        await store.create_job(job)
    finally:
        await store.close()
    data = KnownData(project.id, tenant.id, now_ms() - 3 * 3_600_000, count=400, step_ms=20_000)
    writer = await ClickHouseStore.open(clickhouse)
    try:
        await writer.write("fuzz", data.stored())
    finally:
        await writer.close()
    ids = {
        "tenant_id": tenant.id,
        "project_id": project.id,
        "doomed_project_id": doomed.id,
        "key_id": key.id,
        "token_id": victim.id,
        "job_id": job.id,
        "event_id": str(data.known[7].event.event_id),
        "name": SCRIPT,
    }
    return admin.token, ids


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("sentinel-dashboard did not become ready")


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisEngine, clickhouse_server: ClickHouseEngine
) -> Iterator[World]:
    home = tmp_path_factory.mktemp("dashboard-fuzz")
    clickhouse = asyncio.run(fresh_database(clickhouse_server.url))
    try:
        yield from _serve(home, redis_server, clickhouse)
    finally:
        asyncio.run(drop_database(clickhouse))


def _serve(home: Path, redis_server: RedisEngine, clickhouse: ClickHouseSettings) -> Iterator[World]:
    token, ids = asyncio.run(_seed(home / "control.db", clickhouse))
    port = free_port()
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens: an S3 or AWS call cannot leave the machine
    log = home / "server.log"
    env = {name: value for name, value in os.environ.items() if not name.startswith("SENTINEL_")}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "sentinel-dashboard"), "--host", "127.0.0.1", "--port", str(port)],
            env={
                **env,
                "SENTINEL_REDIS_URL": f"{redis_server.url.rsplit('/', 1)[0]}/{REDIS_DB}",
                "SENTINEL_CONTROL_SQLITE_PATH": str(home / "control.db"),
                "SENTINEL_CONTROL_HASH_SECRET": SECRET,
                "SENTINEL_CLICKHOUSE_URL": clickhouse.url,
                "SENTINEL_CLICKHOUSE_DATABASE": clickhouse.database,
                "SENTINEL_ARCHIVE_LOCAL_DIR": str(home / "archive"),
                "SENTINEL_ARCHIVE_ENDPOINT_URL": nowhere,
                "SENTINEL_AWS_ENDPOINT_URL": nowhere,
                "SENTINEL_AWS_ACCESS_KEY_ID": "fuzz",
                "SENTINEL_AWS_SECRET_ACCESS_KEY": "fuzz",
                "SENTINEL_DASHBOARD_SSE_MAX_LIFETIME_S": "0.2",  # every stream ends: the fuzzer reads it whole
                "SENTINEL_LOG_LEVEL": "WARNING",
            },
            cwd=home,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    world = World(url=f"http://127.0.0.1:{port}", token=token, log=log, ids=ids)
    try:
        _wait_until_healthy(world.url, process)
        _seed_over_http(world)
        yield world
    finally:
        world.session.close()
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _seed_over_http(world: World) -> None:
    """A script of the seeded project, and a signed URL to read it back."""
    base = f"{world.url}/api/projects/{world.ids['project_id']}/scripts"
    body = {"name": SCRIPT, "source": "print('fuzzed')\n"}
    answer = world.session.post(base, json=body, headers=world.admin, timeout=10)
    assert answer.status_code == 201, answer.text
    key = answer.json()["key"]
    world.ids["key"] = key
    answer = world.session.get(f"{world.url}/api/layers/scripts", params={"key": key}, headers=world.admin, timeout=10)
    assert answer.status_code == 200, answer.text
    world.storage_query = dict(parse_qsl(urlsplit(answer.json()["url"]).query))


def _known(label: str, world: World) -> list[dict[str, Any]]:
    """Fixed parameters that aim cases at the seeded things (never the seeded project for its deletion)."""
    path = {name: world.ids[name] for name in ("project_id", "key_id", "token_id", "job_id", "event_id", "name")}
    if label == "DELETE /api/projects/{project_id}":
        path["project_id"] = world.ids["doomed_project_id"]
    names = {part[1:-1] for part in label.split()[1].split("/") if part.startswith("{")}
    known: dict[str, Any] = {"path_parameters": {name: path[name] for name in names}} if names else {}
    if label == "GET /events":
        known["query"] = {"project_id": world.ids["project_id"], "topics": "jobs,state"}
    elif label == "GET /api/layers/scripts":
        known["query"] = {"key": world.ids["key"]}
    elif label == "GET /api/storage/objects":
        known["query"] = world.storage_query
    elif "/metrics/" in label or label == "GET /api/projects/{project_id}/requests":
        # A window over the seeded events, so the other parameters reach the analytics store.
        window = {"from": str(now_ms() - 6 * 3_600_000), "to": str(now_ms())}
        return [known, {**known, "query": window}]
    return [known] if known else []


def _body_fields(label: str, world: World) -> dict[str, list[Any]]:
    """Body fields replaced in some cases, so the body reaches the checks past the project lookup."""
    project = [world.ids["project_id"]]
    return {
        "POST /api/orchestration/run-flow": {"project_id": project, "flow": ["analysis"]},
        "POST /api/orchestration/trigger-sync": {
            "project_id": project,
            "connector": ["archive-replay", "s3-access-logs"],
        },
        "POST /api/sse-tokens": {"project_id": project},
        "POST /api/webhooks/sandbox-callback": {"job_id": [world.ids["job_id"]]},
    }.get(label, {})


def _with_fields(pair: tuple[Any, dict[str, Any]]) -> Any:
    case, fields = pair
    if isinstance(case.body, dict):
        case.body = {**case.body, **fields}
    return case


def _strategy(operation: Any, world: World) -> st.SearchStrategy[Any]:
    fields = _body_fields(operation.label, world)
    choices = [operation.as_strategy()]
    choices += [operation.as_strategy(**known) for known in _known(operation.label, world)]
    if fields:
        replaced = st.fixed_dictionaries({name: st.sampled_from(values) for name, values in fields.items()})
        choices.append(st.tuples(operation.as_strategy(), replaced).map(_with_fields))
    if any(len(part) for part in (operation.path_parameters, operation.query, operation.body)):
        choices.append(operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    return st.one_of(choices)


def _signed(case: Any) -> dict[str, Any]:
    """Send the body as these exact bytes, signed with its job's secret (an unsigned call is refused)."""
    try:
        raw = json.dumps(case.body, allow_nan=False).encode()
        job_id = case.body["job_id"]
    except (TypeError, ValueError, KeyError):
        return {}
    if not isinstance(job_id, str):
        return {}
    secret = job_secret(SECRET, job_id)
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, raw, int(time.time()))}
    return {"headers": headers, "data": raw}


def _call(case: Any, world: World, **kwargs: Any) -> Any:
    response = case.call(base_url=world.url, session=world.session, timeout=30, **kwargs)
    try:
        case.validate_response(response, checks=CHECKS, headers=kwargs.get("headers"))
    except FailureGroup as exc:
        raise AssertionError(f"{exc}\n{world.log_of(response)}") from None
    return response


@pytest.fixture(scope="module")
def schema(world: World) -> Any:
    return schemathesis.openapi.from_url(world.url + "/schema/openapi.json")


def test_every_operation_of_the_schema_is_fuzzed(schema: Any) -> None:
    assert {result.ok().label for result in schema.get_all_operations()} == set(OPERATIONS)


@pytest.mark.parametrize("label", list(OPERATIONS))
def test_no_input_makes_the_dashboard_fail(world: World, schema: Any, label: str) -> None:
    method, path = label.split()
    operation = schema[path][method]
    calls = 0

    @given(case=_strategy(operation, world), wrong=st.sampled_from(WRONG_CREDENTIALS), signed=st.booleans())
    @settings(
        max_examples=OPERATIONS[label],
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any, wrong: dict[str, str], signed: bool) -> None:
        nonlocal calls
        extra = _signed(case) if signed and label == WEBHOOK else {}
        response = _call(case, world, headers={**world.admin, **extra.pop("headers", {})}, **extra)
        calls += 1
        if label == WEBHOOK and "data" not in extra:
            assert 400 <= response.status_code < 500, f"unsigned: {response.status_code} {response.text}"
        if label in OPEN:
            return
        response = _call(case, world, headers=wrong)
        calls += 1
        positive = case.meta is None or case.meta.generation.mode.is_positive
        allowed = {401} if positive else {400, 401}  # an invalid query may be refused before the token is read
        assert response.status_code in allowed, f"{wrong or 'no token'}: {response.status_code} {response.text}"

    check()
    assert calls >= min(OPERATIONS[label], 5)


def _stretched_cursor() -> str:
    """An endpoints cursor whose window spans 401 days, wider than any window the API answers for."""
    query = {"sort": "requests", "order": "desc", "environment": "", "service": ""}
    page = ["endpoints", 0, 401 * 86_400_000, query, [1.0, "GET", "/"]]
    return base64.urlsafe_b64encode(json.dumps(page).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("path", "params", "headers", "field"),
    [
        ("/api/projects/{project}/cost", {"month": "0000-01"}, {}, "month"),
        ("/api/projects/{project}/metrics/overview", {"from": "\u00b2"}, {}, "from"),
        ("/api/projects/{project}/metrics/endpoints", {"cursor": _stretched_cursor()}, {}, "cursor"),
        ("/events", {"project_id": "{project}", "topics": "jobs"}, {"Last-Event-ID": "garbage"}, "last_event_id"),
    ],
)
def test_inputs_that_once_failed_are_a_400_naming_the_field(
    world: World, path: str, params: dict[str, str], headers: dict[str, str], field: str
) -> None:
    project = world.ids["project_id"]
    url = world.url + path.format(project=project)
    query = {name: value.format(project=project) for name, value in params.items()}
    answer = world.session.get(url, params=query, headers={**world.admin, **headers}, timeout=10)
    assert (answer.status_code, answer.json()["field"]) == (400, field), answer.text
