"""Tenant isolation: every dashboard route and every SSE topic, called with another tenant's credentials, gives
nothing away and changes nothing.

``ROUTES`` classifies every route of ``create_app(settings).routes``: public, signed (the signature is the only
credential) or tenant-scoped, with the requests that aim tenant B's token at tenant A's resources. A route the app
serves without a case there fails ``test_every_route_has_an_isolation_case``. Real engines: Redis, the ClickHouse
engine (request log and metrics), SQLite for the control store, a local archive for scripts.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import msgspec
import pytest
import redis.asyncio as redis
from litestar import Litestar
from litestar.testing import AsyncTestClient

from sentinel_analytics import ClickHouseStore, StoredBatch, decode_stored
from sentinel_analytics.testing import drop_database, fresh_database, make_batch
from sentinel_config import ArchiveSettings
from sentinel_control import ControlStore, Job, Tenant, new_id, now_ms, open_control_store
from sentinel_control.testing import make_token
from sentinel_dashboard.app import create_app
from sentinel_dashboard.layers.testing import Login, layers_settings, new_tenant
from sentinel_dashboard.settings import DashboardServerSettings, Settings
from sentinel_local import ClickHouseEngine, RedisEngine
from sentinel_queue import RESUMABLE, TOPICS, Topic, channel, encode_entry, updates_stream
from sentinel_sandbox import SIGNATURE_HEADER, job_secret, sign
from sentinel_sandbox.callback import encode_body

SSE_LIFETIME_S = 0.5  # a stream the test reads to its end closes itself this soon
CALL_TIMEOUT_S = 15
ERRORS = {401: "unauthorized", 403: "forbidden", 404: "not_found"}
WINDOW = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}
REPLAY = {"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T06:00:00Z"}


class Owned(msgspec.Struct, frozen=True, kw_only=True):
    """One tenant's resources, or ids of the same shape that exist nowhere (a ghost)."""

    tenant: str
    project: str
    project_name: str
    key: str
    script: str
    script_key: str
    job: str
    token: str
    event: str
    admin_token: str = ""
    ingest_key: str = ""
    token_secret: str = ""
    source: str = ""
    sse_token: str = ""

    def ids(self) -> dict[str, str]:
        """What a request may name: replaced by placeholders to compare answers about A with answers about ghosts."""
        names = ("script_key", "tenant", "project", "project_name", "key", "script", "job", "token", "event")
        return {name: getattr(self, name) for name in names}


class Call(msgspec.Struct, frozen=True):
    method: str
    url: str
    params: dict[str, str] = msgspec.field(default_factory=dict)
    json: Any = None

    def sent(self, headers: dict[str, str]) -> str:
        """Everything the caller put in the request: an answer may echo it without giving anything away."""
        return " ".join((self.url, json.dumps(self.params), json.dumps(self.json), json.dumps(headers)))


Build = Callable[[Owned, Owned], Call]
"""A request from the caller's own resources (second) aimed at the target's (first)."""


@dataclass(frozen=True)
class Probe:
    build: Build
    status: int
    field: str | None = None


@dataclass(frozen=True)
class Scoped:
    """A tenant-scoped route: B's probes aimed at A, and what A's own first request answers."""

    probes: tuple[Probe, ...]
    own: int


@dataclass(frozen=True)
class Public:
    url: str
    status: int = 200


@dataclass(frozen=True)
class Signed:
    """No tenant token: the signature is the credential. ``test`` names the test that forges it."""

    url: str
    test: str


def _get(url: str, **params: str) -> Call:
    return Call("GET", url, dict(params))


def _refused(build: Build, status: int = 404, field: str | None = "project_id") -> Probe:
    return Probe(build, status, field)


def _lists(build: Build, status: int = 200) -> Probe:
    return Probe(build, status)


def _metrics(name: str) -> Scoped:
    return Scoped((_refused(lambda t, o: _get(f"/api/projects/{t.project}/metrics/{name}")),), own=200)


def _own_list(name: str) -> Probe:
    """B's own list, which must hold nothing of A's."""
    return _lists(lambda t, o: _get(f"/api/projects/{o.project}/{name}"))


def _climb(o: Owned, t: Owned) -> str:
    """A key under the caller's own prefix that climbs to the target's script."""
    return f"tenants/{o.tenant}/projects/{o.project}/scripts/../../../../{t.script_key}"


def _run_flow(project: str, script_key: str) -> Call:
    body = {"project_id": project, "flow": "analysis", "input": {"script_key": script_key, "window": WINDOW}}
    return Call("POST", "/api/orchestration/run-flow", json=body)


P = "/api/projects/{project_id}"

ROUTES: dict[str, Public | Signed | Scoped] = {
    "GET /healthz": Public("/healthz"),
    "GET /readyz": Public("/readyz"),
    "GET /": Public("/"),
    "GET /ui/{name}": Public("/ui/app.css"),
    "GET /schema": Public("/schema"),
    "GET /schema/openapi.json": Public("/schema/openapi.json"),
    "GET /schema/openapi.yaml": Public("/schema/openapi.yaml"),
    "GET /schema/openapi.yml": Public("/schema/openapi.yml"),
    "GET /schema/swagger": Public("/schema/swagger"),
    "GET /schema/redoc": Public("/schema/redoc"),
    "GET /schema/elements": Public("/schema/elements"),
    "GET /schema/rapidoc": Public("/schema/rapidoc"),
    "GET /schema/oauth2-redirect.html": Public("/schema/oauth2-redirect.html"),
    "GET /schema/{path}": Public("/schema/no-such-page", status=404),  # the docs' own not-found page
    "POST /api/webhooks/sandbox-callback": Signed(
        "/api/webhooks/sandbox-callback", "test_sandbox_callback_for_another_tenants_job_needs_its_signature"
    ),
    "GET /api/storage/objects": Signed("/api/storage/objects", "test_object_urls_of_another_tenant_cannot_be_forged"),
    "GET /api/projects": Scoped((_lists(lambda t, o: _get("/api/projects")),), own=200),
    # A's name is free in B's tenant (a 409 would tell B it exists); A itself gets the conflict.
    "POST /api/projects": Scoped(
        (_lists(lambda t, o: Call("POST", "/api/projects", json={"name": t.project_name}), 201),), own=409
    ),
    f"GET {P}": Scoped((_refused(lambda t, o: _get(f"/api/projects/{t.project}")),), own=200),
    f"PATCH {P}": Scoped(
        (_refused(lambda t, o: Call("PATCH", f"/api/projects/{t.project}", json={"name": "taken-over"})),), own=200
    ),
    f"DELETE {P}": Scoped((_refused(lambda t, o: Call("DELETE", f"/api/projects/{t.project}")),), own=204),
    f"GET {P}/keys": Scoped(
        (_refused(lambda t, o: _get(f"/api/projects/{t.project}/keys")), _own_list("keys")), own=200
    ),
    f"POST {P}/keys": Scoped(
        (_refused(lambda t, o: Call("POST", f"/api/projects/{t.project}/keys", json={"name": "theirs"})),), own=201
    ),
    f"DELETE {P}/keys/{{key_id}}": Scoped(
        (
            _refused(lambda t, o: Call("DELETE", f"/api/projects/{t.project}/keys/{t.key}")),
            _refused(lambda t, o: Call("DELETE", f"/api/projects/{o.project}/keys/{t.key}"), field="key_id"),
        ),
        own=200,
    ),
    f"POST {P}/keys/{{key_id}}/rotate": Scoped(
        (
            _refused(lambda t, o: Call("POST", f"/api/projects/{t.project}/keys/{t.key}/rotate")),
            _refused(lambda t, o: Call("POST", f"/api/projects/{o.project}/keys/{t.key}/rotate"), field="key_id"),
        ),
        own=201,
    ),
    f"GET {P}/metrics/overview": _metrics("overview"),
    f"GET {P}/metrics/timeseries": _metrics("timeseries"),
    f"GET {P}/metrics/endpoints": _metrics("endpoints"),
    f"GET {P}/metrics/status-codes": _metrics("status-codes"),
    f"GET {P}/metrics/consumers": _metrics("consumers"),
    f"GET {P}/requests": Scoped(
        (_refused(lambda t, o: _get(f"/api/projects/{t.project}/requests")), _own_list("requests")), own=200
    ),
    f"GET {P}/requests/{{event_id}}": Scoped(
        (
            _refused(lambda t, o: _get(f"/api/projects/{t.project}/requests/{t.event}")),
            _refused(lambda t, o: _get(f"/api/projects/{o.project}/requests/{t.event}"), field="event_id"),
        ),
        own=200,
    ),
    "GET /api/tokens": Scoped((_lists(lambda t, o: _get("/api/tokens")),), own=200),
    "POST /api/tokens": Scoped(
        (_lists(lambda t, o: Call("POST", "/api/tokens", json={"name": "theirs", "scopes": ["admin"]}), 201),),
        own=201,
    ),
    "DELETE /api/tokens/{token_id}": Scoped(
        (_refused(lambda t, o: Call("DELETE", f"/api/tokens/{t.token}"), field="token_id"),), own=200
    ),
    "GET /api/jobs/{job_id}": Scoped((_refused(lambda t, o: _get(f"/api/jobs/{t.job}"), field="job_id"),), own=200),
    f"GET {P}/jobs": Scoped(
        (_refused(lambda t, o: _get(f"/api/projects/{t.project}/jobs")), _own_list("jobs")), own=200
    ),
    "POST /api/orchestration/run-flow": Scoped(
        (
            _refused(lambda t, o: _run_flow(t.project, t.script_key)),
            _refused(lambda t, o: _run_flow(o.project, t.script_key), field="input.script_key"),
            _refused(lambda t, o: _run_flow(o.project, _climb(o, t)), field="input.script_key"),
        ),
        own=202,
    ),
    "POST /api/orchestration/trigger-sync": Scoped(
        (
            _refused(
                lambda t, o: Call(
                    "POST",
                    "/api/orchestration/trigger-sync",
                    json={"project_id": t.project, "connector": "archive-replay", "params": REPLAY},
                )
            ),
        ),
        own=202,
    ),
    "POST /api/sse-tokens": Scoped(
        (_refused(lambda t, o: Call("POST", "/api/sse-tokens", json={"project_id": t.project})),), own=201
    ),
    # The stream answers another tenant's project with 403 (its documented refusal), never with data.
    "GET /events": Scoped(
        (
            _refused(lambda t, o: _get("/events", project_id=t.project), 403, None),
            _refused(lambda t, o: _get("/events", project_id=t.project, access_token=o.sse_token), 403, None),
        ),
        own=200,
    ),
    f"POST {P}/scripts": Scoped(
        (
            _refused(
                lambda t, o: Call(
                    "POST", f"/api/projects/{t.project}/scripts", json={"name": t.script, "source": "print(1)\n"}
                )
            ),
        ),
        own=201,
    ),
    f"GET {P}/scripts": Scoped(
        (_refused(lambda t, o: _get(f"/api/projects/{t.project}/scripts")), _own_list("scripts")), own=200
    ),
    f"DELETE {P}/scripts/{{name}}": Scoped(
        (
            _refused(lambda t, o: Call("DELETE", f"/api/projects/{t.project}/scripts/{t.script}")),
            _refused(lambda t, o: Call("DELETE", f"/api/projects/{o.project}/scripts/{t.script}"), field=None),
        ),
        own=204,
    ),
    "GET /api/layers/scripts": Scoped(
        (
            _refused(lambda t, o: _get("/api/layers/scripts", key=t.script_key), field="key"),
            _refused(
                lambda t, o: _get(
                    "/api/layers/scripts", key=f"tenants/{o.tenant}/projects/{t.project}/scripts/{t.script}"
                ),
                field="key",
            ),
            _refused(lambda t, o: _get("/api/layers/scripts", key=_climb(o, t)), field="key"),
        ),
        own=200,
    ),
    "GET /api/layers/health/connectors": Scoped(
        (_lists(lambda t, o: _get("/api/layers/health/connectors", timeout_ms="1000")),), own=200
    ),
    f"GET {P}/cost": Scoped(
        (_refused(lambda t, o: _get(f"/api/projects/{t.project}/cost", month="2026-01")),), own=200
    ),
    f"GET {P}/state": Scoped((_refused(lambda t, o: _get(f"/api/projects/{t.project}/state")),), own=200),
}

SCOPED = [route for route, case in ROUTES.items() if isinstance(case, Scoped)]
PUBLIC = [route for route, case in ROUTES.items() if isinstance(case, Public)]


def served_routes(app: Litestar) -> set[str]:
    """``METHOD /path`` of every route the app serves (path parameters without their types), HEAD and OPTIONS
    aside."""
    served = set()
    for route in app.routes:
        path = re.sub(r"\{(\w+):[^}]+\}", r"{\1}", route.path)
        methods = getattr(route, "methods", None) or {type(route).__name__}
        served |= {f"{method} {path}" for method in methods if method not in ("HEAD", "OPTIONS")}
    return served


# --- the world ----------------------------------------------------------------------------------------------------


@dataclass
class Env:
    client: AsyncTestClient[Litestar]
    settings: Settings
    store: ControlStore
    writer: ClickHouseStore
    redis: redis.Redis


@dataclass
class World:
    env: Env
    a: Login
    b: Login
    ida: Owned
    idb: Owned
    ghost: Owned = field(default_factory=lambda: _ghost())

    def secrets_of_a(self) -> dict[str, str]:
        """Every value of tenant A that tenant B must never read."""
        values = {name: value for name, value in msgspec.structs.asdict(self.ida).items() if value}
        return {**values, "admin_token": self.a.token}


def _ghost() -> Owned:
    tenant, project, script = new_id("ten"), new_id("prj"), f"g_{new_id('prj')[-8:]}.py"
    return Owned(
        tenant=tenant,
        project=project,
        project_name=f"G-project-{new_id('prj')[-8:]}",
        key=new_id("key"),
        script=script,
        script_key=f"tenants/{tenant}/projects/{project}/scripts/{script}",
        job=new_id("job"),
        token=new_id("tok"),
        event=str(uuid.uuid4()),
    )


@pytest.fixture(scope="module")
async def env(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisEngine, clickhouse_server: ClickHouseEngine
) -> AsyncIterator[Env]:
    tmp = tmp_path_factory.mktemp("isolation")
    clickhouse = await fresh_database(clickhouse_server.url)
    settings = layers_settings(
        tmp,
        redis_server.url,
        clickhouse=clickhouse,
        archive=ArchiveSettings(backend="local", local_dir=str(tmp / "archive")),
        dashboard=DashboardServerSettings(sse_max_lifetime_s=SSE_LIFETIME_S),
    )
    store = open_control_store(settings.control, settings.aws)
    await store.setup()
    writer = await ClickHouseStore.open(clickhouse)
    live = redis.Redis.from_url(redis_server.url)
    try:
        async with AsyncTestClient(create_app(settings)) as client:
            yield Env(client=client, settings=settings, store=store, writer=writer, redis=live)
    finally:
        await live.aclose()
        await writer.close()
        await store.close()
        await drop_database(clickhouse)


async def _ok(response: Any, status: int) -> dict[str, Any]:
    answer: httpx.Response = await response
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def _tenant(env: Env, name: str) -> tuple[Login, Owned, StoredBatch]:
    """A tenant with a project, an ingest key, a script, a job, a read token and an SSE token; and a request of
    its project, for the caller to store."""
    login, tag = await new_tenant(env.settings, name), new_id("prj")[-8:]
    client, headers = env.client, login.headers
    project_name, script, source = f"{name}-project-{tag}", f"{name.lower()}_{tag}.py", f"print('{name}-src-{tag}')\n"
    project = (await _ok(client.post("/api/projects", json={"name": project_name}, headers=headers), 201))["id"]
    key = await _ok(client.post(f"/api/projects/{project}/keys", json={"name": f"{name}-key"}, headers=headers), 201)
    upload = {"name": script, "source": source}
    script_key = (await _ok(client.post(f"/api/projects/{project}/scripts", json=upload, headers=headers), 201))["key"]
    token = await _ok(
        client.post("/api/tokens", json={"name": f"{name}-reader", "scopes": ["read"]}, headers=headers), 201
    )
    sse = await _ok(client.post("/api/sse-tokens", json={"project_id": project}, headers=headers), 201)
    tokens = (await _ok(client.get("/api/tokens", headers=headers), 200))["items"]
    at = now_ms()
    job = Job(
        id=new_id("job"),
        tenant_id=login.id,
        project_id=project,
        kind="script",
        name=script,
        status="running",
        created_at=at,
        updated_at=at,
        started_at=at,
    )
    await env.store.create_job(job)
    batch = make_batch(random.Random(tag), project_id=project, tenant_id=login.id, events=1, now_ms=at, full=True)
    owned = Owned(
        tenant=login.id,
        project=project,
        project_name=project_name,
        key=key["id"],
        script=script,
        script_key=script_key,
        job=job.id,
        token=token["id"],
        event=str(batch.events[0].event_id),
        admin_token=next(item["id"] for item in tokens if item["name"] == "admin"),
        ingest_key=key["key"],
        token_secret=token["token"],
        source=source.strip(),
        sse_token=sse["access_token"],
    )
    return login, owned, decode_stored(encode_entry(batch), 3650)


async def _world(env: Env) -> World:
    (a, ida, request_a), (b, idb, request_b) = await _tenant(env, "A"), await _tenant(env, "B")
    await env.writer.write(uuid.uuid4().hex, [request_a, request_b])  # one insert: the slow part of a world
    return World(env=env, a=a, b=b, ida=ida, idb=idb)


@pytest.fixture
async def world(env: Env) -> World:
    """A fresh pair of tenants: a test may let A change its own resources."""
    return await _world(env)


@dataclass
class Shared:
    world: World
    credentials: dict[str, dict[str, str]]


@pytest.fixture(scope="module")
async def shared(env: Env) -> Shared:
    """One pair of tenants for tests that change nothing, and credentials that must not authenticate."""
    w = await _world(env)
    expired, _ = await make_token(env.store, env.client.app.state.hasher, Tenant(id=w.a.id, name="A"), expires_at=1)
    revoked = await _ok(env.client.post("/api/tokens", json={"name": "gone"}, headers=w.a.headers), 201)
    await _ok(env.client.delete(f"/api/tokens/{revoked['id']}", headers=w.a.headers), 200)
    bearer = "Bearer {}".format
    credentials = {
        "none": {},
        "malformed": {"Authorization": bearer("not-a-token")},
        "not-bearer": {"Authorization": f"Basic {base64.b64encode(w.a.token.encode()).decode()}"},
        "unknown": {"Authorization": bearer("sdt_" + "x" * 43)},
        "expired": {"Authorization": bearer(expired)},
        "revoked": {"Authorization": bearer(revoked["token"])},
    }
    return Shared(world=w, credentials=credentials)


# --- helpers -------------------------------------------------------------------------------------------------------


async def send(env: Env, call: Call, headers: dict[str, str]) -> httpx.Response:
    """One request, bounded in time (a stream the test reads ends after ``SSE_LIFETIME_S``)."""
    async with asyncio.timeout(CALL_TIMEOUT_S):
        response: httpx.Response = await env.client.request(
            call.method, call.url, params=call.params or None, json=call.json, headers=headers
        )
    return response


def assert_gives_nothing_away(w: World, response: httpx.Response, sent: str, what: str) -> None:
    """The answer holds no value of A that the caller did not send itself."""
    leaked = {name for name, value in w.secrets_of_a().items() if value in response.text and value not in sent}
    assert not leaked, f"{what}: the answer holds A's {sorted(leaked)}: {response.status_code} {response.text[:500]}"


def _walk(value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in [(k, v), *_walk(v)]]
    if isinstance(value, list):
        return [pair for item in value for pair in _walk(item)]
    return []


def shape(response: httpx.Response, target: Owned) -> tuple[int, Any]:
    """Status and body with the target's ids as placeholders and without the request id."""
    text = response.text
    for name, value in sorted(target.ids().items(), key=lambda item: -len(item[1])):
        text = text.replace(value, f"<{name}>")
    body = json.loads(text) if text else None
    if isinstance(body, dict):
        body.pop("request_id", None)
    return response.status_code, body


async def snapshot(w: World) -> dict[str, Any]:
    """What refused calls must leave as it was: A's resources read with A's token, A's live updates, and B's
    records that a misrouted call could have created."""
    env, a, headers = w.env, w.ida, w.a.headers
    reads = {
        "projects": "/api/projects",
        "project": f"/api/projects/{a.project}",
        "keys": f"/api/projects/{a.project}/keys",
        "scripts": f"/api/projects/{a.project}/scripts",
        "tokens": "/api/tokens",
        "jobs": f"/api/projects/{a.project}/jobs",
        "job": f"/api/jobs/{a.job}",
        "request": f"/api/projects/{a.project}/requests/{a.event}",
    }
    state: dict[str, Any] = {}
    for name, url in reads.items():
        response = await send(env, _get(url), headers)
        state[name] = (response.status_code, response.json())
    reader = await send(env, _get("/api/projects"), {"Authorization": f"Bearer {a.token_secret}"})
    state["read token works"] = reader.status_code
    resolved = await env.store.resolve_key(env.client.app.state.hasher.hash(a.ingest_key))
    state["ingest key"] = msgspec.to_builtins(resolved)
    state["updates"] = [await env.redis.xlen(updates_stream(a.project, topic)) for topic in sorted(RESUMABLE)]
    state["b"] = [
        [job.id for job in await env.store.list_jobs(w.b.id, w.idb.project)],
        [job.id for job in await env.store.list_jobs(w.b.id, a.project)],
        [key.id for key in await env.store.list_keys(w.b.id, w.idb.project)],
        (await send(env, _get(f"/api/projects/{w.idb.project}/scripts"), w.b.headers)).json(),
    ]
    return state


# --- the table covers the app ---------------------------------------------------------------------------------------


def test_every_route_has_an_isolation_case(tmp_path: Path) -> None:
    app = create_app(layers_settings(tmp_path, "redis://127.0.0.1:1/0"))
    served = served_routes(app)
    missing, stale = sorted(served - ROUTES.keys()), sorted(ROUTES.keys() - served)
    assert not missing, f"routes without an isolation case in ROUTES (add one): {missing}"
    assert not stale, f"ROUTES has cases for routes the app does not serve: {stale}"


@pytest.mark.parametrize("route", list(ROUTES))
def test_each_case_calls_its_own_route(route: str) -> None:
    method, _, template = route.partition(" ")
    pattern = re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)) + "$")
    case = ROUTES[route]
    if isinstance(case, Scoped):
        ghost = _ghost()
        calls = [probe.build(ghost, ghost) for probe in case.probes]
    else:
        calls = [Call(method, case.url)]
        assert isinstance(case, Public) or callable(globals().get(case.test)), f"{route}: no test {case.test}"
    for call in calls:
        assert call.method == method, (route, call)
        assert pattern.match(call.url), (route, call)


# --- public and signed routes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", PUBLIC)
async def test_public_route_needs_no_token_and_holds_no_tenant_data(shared: Shared, route: str) -> None:
    case = ROUTES[route]
    assert isinstance(case, Public)
    response = await send(shared.world.env, _get(case.url), {})
    assert response.status_code == case.status, response.text[:500]
    assert_gives_nothing_away(shared.world, response, "", route)


async def test_sandbox_callback_for_another_tenants_job_needs_its_signature(world: World) -> None:
    env, secret, url = world.env, world.env.settings.control.hash_secret, "/api/webhooks/sandbox-callback"
    body = encode_body(world.ida.job, "succeeded", {"from": "B"}, logs="B was here")
    now = int(time.time())
    json_type = {"Content-Type": "application/json"}
    attempts = {
        "unsigned": {},
        "B's dashboard token": world.b.headers,
        "a made-up signature": {SIGNATURE_HEADER: f"t={now},v1={'0' * 64}"},
        "signed with B's own job secret": {SIGNATURE_HEADER: sign(job_secret(secret, world.idb.job), body, now)},
        "signed with another server secret": {SIGNATURE_HEADER: sign(job_secret("x" * 40, world.ida.job), body, now)},
        "a stale signature": {SIGNATURE_HEADER: sign(job_secret(secret, world.ida.job), body, now - 3600)},
    }
    before = await snapshot(world)
    for what, headers in attempts.items():
        response = await env.client.post(url, content=body, headers={**json_type, **headers})
        assert (response.status_code, response.json()["error"]) == (401, "invalid_signature"), (what, response.text)
        assert_gives_nothing_away(world, response, body.decode(), what)
    assert await snapshot(world) == before
    # A job that exists nowhere gets the same refusal: the webhook does not tell whose jobs exist.
    ghost = encode_body(world.ghost.job, "succeeded", {"from": "B"}, logs="B was here")
    answer = await env.client.post(url, content=ghost, headers=json_type)
    assert (answer.status_code, answer.json()["error"]) == (401, "invalid_signature")
    # The job's own signature is accepted: the refusals above were for the signature alone.
    signed = {**json_type, SIGNATURE_HEADER: sign(job_secret(secret, world.ida.job), body, now)}
    accepted = await env.client.post(url, content=body, headers=signed)
    assert (accepted.status_code, accepted.json()["status"]) == (200, "succeeded"), accepted.text


async def test_object_urls_of_another_tenant_cannot_be_forged(world: World) -> None:
    env = world.env
    mine = await _ok(
        env.client.get("/api/layers/scripts", params={"key": world.idb.script_key}, headers=world.b.headers), 200
    )
    parts = urlsplit(mine["url"])
    signed = dict(parse_qsl(parts.query))
    fetched = await env.client.get(parts.path, params=signed)
    assert fetched.status_code == 200, fetched.text  # B's own URL works
    later = str(int(time.time()) + 300)
    before = await snapshot(world)
    attempts = {
        "B's signature on A's key": ({**signed, "key": world.ida.script_key}, {}),
        "B's signature and token on A's key": ({**signed, "key": world.ida.script_key}, world.b.headers),
        "a made-up signature": ({"key": world.ida.script_key, "expires": later, "signature": "0" * 64}, {}),
    }
    for what, (params, headers) in attempts.items():
        response = await env.client.get(parts.path, params=params, headers=headers)
        assert (response.status_code, response.json()["error"]) == (403, "invalid_signature"), (what, response.text)
        assert_gives_nothing_away(world, response, json.dumps(params), what)
        ghost = await env.client.get(parts.path, params={**params, "key": world.ghost.script_key}, headers=headers)
        assert shape(ghost, world.ghost) == shape(response, world.ida), what
    assert await snapshot(world) == before
    own = await _ok(
        env.client.get("/api/layers/scripts", params={"key": world.ida.script_key}, headers=world.a.headers), 200
    )
    served = await env.client.get(own["url"].partition(parts.netloc)[2])
    assert (served.status_code, served.text.strip()) == (200, world.ida.source)


# --- tenant-scoped routes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", SCOPED)
async def test_another_tenants_resources_give_nothing_away_and_change_nothing(world: World, route: str) -> None:
    case = ROUTES[route]
    assert isinstance(case, Scoped)
    before = await snapshot(world)
    for number, probe in enumerate(case.probes):
        what = f"{route} probe {number}"
        call = probe.build(world.ida, world.idb)
        response = await send(world.env, call, world.b.headers)
        assert response.status_code == probe.status, (what, call, response.status_code, response.text[:500])
        assert_gives_nothing_away(world, response, call.sent(world.b.headers), what)
        if probe.status >= 400:
            body = response.json()
            assert (body["error"], body.get("field")) == (ERRORS[probe.status], probe.field), (what, body)
            # Indistinguishable from ids that exist nowhere.
            ghost = await send(world.env, probe.build(world.ghost, world.idb), world.b.headers)
            assert shape(ghost, world.ghost) == shape(response, world.ida), what
        else:
            owners = {value for key, value in _walk(response.json()) if key == "tenant_id"}
            assert owners <= {world.b.id}, (what, owners)
    assert await snapshot(world) == before, route
    # A's own request of the same shape reaches the resource: B's refusal was about the tenant.
    own = await send(world.env, case.probes[0].build(world.ida, world.ida), world.a.headers)
    assert own.status_code == case.own, (route, own.text[:500])


@pytest.mark.parametrize("route", SCOPED)
async def test_claiming_another_tenant_in_the_header_is_403(shared: Shared, route: str) -> None:
    case = ROUTES[route]
    assert isinstance(case, Scoped)
    world = shared.world
    before = await snapshot(world)
    call = case.probes[0].build(world.ida, world.idb)
    headers = {**world.b.headers, "X-Tenant-ID": world.a.id}
    response = await send(world.env, call, headers)
    assert (response.status_code, response.json()["error"]) == (403, "tenant_mismatch"), response.text[:500]
    assert_gives_nothing_away(world, response, call.sent(headers), route)
    assert await snapshot(world) == before


@pytest.mark.parametrize("route", SCOPED)
async def test_a_missing_or_bad_token_is_401(shared: Shared, route: str) -> None:
    case = ROUTES[route]
    assert isinstance(case, Scoped)
    w = shared.world
    call = case.probes[0].build(w.ida, w.ida)
    for credential, headers in shared.credentials.items():
        response = await send(w.env, call, headers)
        assert (response.status_code, response.json()["error"]) == (401, "unauthorized"), (credential, response.text)
        assert response.headers.get("www-authenticate", "").startswith("Bearer"), (credential, response.headers)
        assert_gives_nothing_away(w, response, call.sent(headers), f"{route}, token: {credential}")


# --- live updates ----------------------------------------------------------------------------------------------------


def _forged(sse_token: str, **claims: str) -> str:
    """An SSE token with its claims rewritten and its signature kept."""
    encoded, _, signature = sse_token.removeprefix("sse_").partition(".")
    payload = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    rewritten = base64.urlsafe_b64encode(json.dumps({**payload, **claims}).encode()).rstrip(b"=").decode()
    return f"sse_{rewritten}.{signature}"


@pytest.mark.parametrize("topic", TOPICS)
async def test_another_tenants_topic_cannot_be_subscribed(world: World, topic: Topic) -> None:
    env, a, b = world.env, world.ida, world.idb
    minted = await send(env, Call("POST", "/api/sse-tokens", json={"project_id": a.project}), world.b.headers)
    assert (minted.status_code, minted.json()["field"]) == (404, "project_id")
    attempts = {
        "B's token": (world.b.headers, {}, 403),
        "B's SSE token": ({}, {"access_token": b.sse_token}, 403),
        "B's SSE token with B's token": (world.b.headers, {"access_token": b.sse_token}, 403),
        "B's SSE token rewritten for A": (
            {},
            {"access_token": _forged(b.sse_token, tenant_id=a.tenant, project_id=a.project)},
            401,
        ),
    }
    for what, (headers, params, status) in attempts.items():
        call = _get("/events", project_id=a.project, topics=topic, **params)
        response = await send(env, call, headers)
        assert response.status_code == status, (what, response.text[:500])
        assert not response.headers.get("content-type", "").startswith("text/event-stream"), what
        assert_gives_nothing_away(world, response, call.sent(headers), what)
    assert env.client.app.state.hub.connections(world.b.id) == 0
    assert dict(await env.redis.pubsub_numsub(channel(a.project, topic))) == {channel(a.project, topic).encode(): 0}
    # A's own subscription to the same topic opens (and ends after its lifetime).
    own = await send(env, _get("/events", project_id=a.project, topics=topic), world.a.headers)
    assert own.status_code == 200, own.text
    assert own.text.startswith("retry:"), own.text
    assert "event: reconnect" in own.text, own.text
