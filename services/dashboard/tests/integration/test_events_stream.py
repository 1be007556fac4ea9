"""Server-sent events through a real HTTP client against a real dashboard process and a real Redis."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis.asyncio as redis

from sentinel_control import SecretHasher, SqliteControlStore, Tenant, now_ms
from sentinel_control.testing import make_project, make_tenant, make_token
from sentinel_dashboard.stream.hub import Hub
from sentinel_local import RedisEngine, free_port
from sentinel_queue import channel, publish_update, tail_channel

SECRET = "events-stream-test-secret-0123456789-abcdef"
REDIS_DB = 5


@dataclass
class World:
    url: str
    redis_url: str
    db: Path
    tenant: Tenant
    project_id: str
    other_project_id: str
    token: str
    other_token: str

    def bearer(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}


async def _seed(db: Path) -> tuple[Tenant, str, str, str, str]:
    store = SqliteControlStore(db)
    await store.setup()
    hasher = SecretHasher(SECRET)
    tenant, other = await make_tenant(store, "A"), await make_tenant(store, "B")
    project, theirs = await make_project(store, tenant), await make_project(store, other)
    token, _ = await make_token(store, hasher, tenant, scopes=("read",))
    other_token, _ = await make_token(store, hasher, other, scopes=("read",))
    await store.close()
    return tenant, project.id, theirs.id, token, other_token


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisEngine) -> Iterator[World]:
    db = tmp_path_factory.mktemp("sse") / "control.db"
    tenant, project_id, other_project_id, token, other_token = asyncio.run(_seed(db))
    port = free_port()
    redis_url = f"{redis_server.url.rsplit('/', 1)[0]}/{REDIS_DB}"
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "sentinel-dashboard"), "--port", str(port)],
        env={
            **os.environ,
            "SENTINEL_REDIS_URL": redis_url,
            "SENTINEL_CONTROL_SQLITE_PATH": str(db),
            "SENTINEL_CONTROL_HASH_SECRET": SECRET,
            "SENTINEL_DASHBOARD_SSE_HEARTBEAT_S": "0.3",
            "SENTINEL_DASHBOARD_SSE_RETRY_MS": "1500",
            "SENTINEL_DASHBOARD_SSE_MAX_CONNECTIONS_PER_TENANT": "3",
            "SENTINEL_LOG_LEVEL": "WARNING",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):
                break
        except OSError:
            time.sleep(0.2)
    try:
        yield World(url, redis_url, db, tenant, project_id, other_project_id, token, other_token)
    finally:
        process.terminate()
        process.wait(15)


@pytest.fixture
async def publisher(world: World) -> AsyncIterator[redis.Redis]:
    client = redis.Redis.from_url(world.redis_url)
    yield client
    await client.aclose()


_readers: dict[int, AsyncIterator[str]] = {}


async def read_events(
    response: httpx.Response, want: int, timeout: float = 10, *, events_only: bool = False
) -> list[dict[str, str]]:
    """Parse SSE frames until ``want`` frames (comments included as {"comment": ...}, unless ``events_only``)
    have arrived or the stream ends; later calls on the same response continue where the previous one stopped."""
    lines = _readers.setdefault(id(response), response.aiter_lines())
    frames: list[dict[str, str]] = []
    current: dict[str, str] = {}

    async def collect() -> None:
        async for line in lines:
            if line == "":
                if current and not (events_only and "event" not in current):
                    frames.append(dict(current))
                current.clear()
                if len(frames) >= want:
                    return
                continue
            field, _, value = line.partition(":")
            current[field or "comment"] = value.lstrip(" ")

    await asyncio.wait_for(collect(), timeout)
    return frames


async def wait_subscribed(client: redis.Redis, name: str) -> None:
    for _ in range(100):
        counts = dict(await client.pubsub_numsub(name))
        if counts.get(name.encode(), 0) > 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"nobody subscribed to {name}")


async def test_live_tail_from_the_worker_path_arrives_with_retry_advice(world: World, publisher: redis.Redis) -> None:
    async with (
        httpx.AsyncClient(base_url=world.url) as client,
        client.stream(
            "GET", "/events", params={"project_id": world.project_id, "topics": "requests"}, headers=world.bearer()
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        await wait_subscribed(publisher, tail_channel(world.project_id))
        sample = {"method": "GET", "route": "/users/{id}", "status": 200, "duration_ms": 4.2}
        await publisher.publish(tail_channel(world.project_id), json.dumps(sample))
        frames = await read_events(response, 1)
        frames += await read_events(response, 1, events_only=True)
    assert frames[0] == {"retry": "1500"}
    assert frames[1]["event"] == "requests"
    assert json.loads(frames[1]["data"]) == sample


async def test_heartbeats_arrive_while_idle(world: World) -> None:
    async with (
        httpx.AsyncClient(base_url=world.url) as client,
        client.stream(
            "GET", "/events", params={"project_id": world.project_id, "topics": "jobs"}, headers=world.bearer()
        ) as response,
    ):
        frames = await read_events(response, 3)
    assert [f.get("comment") for f in frames[1:3]] == ["heartbeat", "heartbeat"]


async def test_last_event_id_resumes_jobs_and_state(world: World, publisher: redis.Redis) -> None:
    first = await publish_update(publisher, world.project_id, "jobs", {"job": 1})
    missed = [
        await publish_update(publisher, world.project_id, "jobs", {"job": 2}),
        await publish_update(publisher, world.project_id, "state", {"node": "layer1"}),
    ]
    headers = {**world.bearer(), "Last-Event-ID": first}
    async with (
        httpx.AsyncClient(base_url=world.url) as client,
        client.stream(
            "GET", "/events", params={"project_id": world.project_id, "topics": "jobs,state"}, headers=headers
        ) as response,
    ):
        frames = await read_events(response, 2, events_only=True)
        await wait_subscribed(publisher, channel(world.project_id, "jobs"))
        live = await publish_update(publisher, world.project_id, "jobs", {"job": 3})
        frames += await read_events(response, 1, events_only=True)
    updates = [f for f in frames if "event" in f]
    assert [(f["event"], f["id"]) for f in updates[:2]] == [("jobs", missed[0]), ("state", missed[1])]
    assert json.loads(updates[0]["data"]) == {"job": 2}
    assert (updates[2]["event"], updates[2]["id"], json.loads(updates[2]["data"])) == ("jobs", live, {"job": 3})


async def test_a_resumed_backlog_arrives_in_id_order_across_topics(world: World, publisher: redis.Redis) -> None:
    first = await publish_update(publisher, world.project_id, "jobs", {"n": 0})
    missed = [
        await publish_update(publisher, world.project_id, topic, {"n": n})
        for n, topic in enumerate(["state", "jobs", "state", "jobs"], start=1)
    ]
    headers = {**world.bearer(), "Last-Event-ID": first}
    async with (
        httpx.AsyncClient(base_url=world.url) as client,
        client.stream(
            "GET", "/events", params={"project_id": world.project_id, "topics": "jobs,state"}, headers=headers
        ) as response,
    ):
        frames = await read_events(response, 4, events_only=True)
    # a client cut off after any of these resumes from its id and misses nothing: ids only go up
    assert [f["id"] for f in frames] == missed
    assert [(f["event"], json.loads(f["data"])["n"]) for f in frames] == [
        ("state", 1),
        ("jobs", 2),
        ("state", 3),
        ("jobs", 4),
    ]


async def test_another_tenants_project_is_403_and_bad_tokens_401(world: World) -> None:
    async with httpx.AsyncClient(base_url=world.url) as client:
        theirs = await client.get("/events", params={"project_id": world.other_project_id}, headers=world.bearer())
        assert theirs.status_code == 403
        forged = await client.get(
            "/events", params={"project_id": world.project_id}, headers=world.bearer("sdt_" + "x" * 43)
        )
        assert forged.status_code == 401
        wrong = await client.get("/events", params={"project_id": world.project_id, "access_token": "sse_x.y"})
        assert wrong.status_code == 401
        bad_topic = await client.get(
            "/events", params={"project_id": world.project_id, "topics": "gossip"}, headers=world.bearer()
        )
        assert bad_topic.status_code == 400


async def test_sse_token_works_for_its_project_only(world: World, publisher: redis.Redis) -> None:
    async with httpx.AsyncClient(base_url=world.url) as client:
        minted = await client.post("/api/sse-tokens", json={"project_id": world.project_id}, headers=world.bearer())
        assert minted.status_code == 201
        token = minted.json()["access_token"]
        assert minted.json()["expires_at"] <= now_ms() + 300_000
        other = await client.get("/events", params={"project_id": world.other_project_id, "access_token": token})
        assert other.status_code == 403
        refused = await client.post(
            "/api/sse-tokens", json={"project_id": world.other_project_id}, headers=world.bearer()
        )
        assert refused.status_code == 404
        async with client.stream(
            "GET", "/events", params={"project_id": world.project_id, "topics": "requests", "access_token": token}
        ) as response:
            assert response.status_code == 200
            await wait_subscribed(publisher, tail_channel(world.project_id))
            await publisher.publish(tail_channel(world.project_id), b'{"status": 201}')
            frames = await read_events(response, 1, events_only=True)
    assert json.loads(frames[0]["data"]) == {"status": 201}


async def test_token_expiry_closes_the_stream(world: World) -> None:
    store = SqliteControlStore(world.db)
    await store.setup()
    short, _ = await make_token(store, SecretHasher(SECRET), world.tenant, expires_at=now_ms() + 1_500)
    await store.close()
    started = time.monotonic()
    async with (
        httpx.AsyncClient(base_url=world.url) as client,
        client.stream(
            "GET", "/events", params={"project_id": world.project_id, "topics": "jobs"}, headers=world.bearer(short)
        ) as response,
    ):
        frames = await read_events(response, 50, timeout=10)  # ends early: the server closes the stream
    assert frames[-1]["event"] == "reconnect"
    assert time.monotonic() - started < 8


async def test_connections_per_tenant_are_capped(world: World) -> None:
    async with httpx.AsyncClient(base_url=world.url) as client:
        streams = [
            client.stream(
                "GET", "/events", params={"project_id": world.project_id, "topics": "jobs"}, headers=world.bearer()
            )
            for _ in range(3)
        ]
        opened = [await s.__aenter__() for s in streams]
        try:
            assert all(r.status_code == 200 for r in opened)
            over = await client.get("/events", params={"project_id": world.project_id}, headers=world.bearer())
            assert over.status_code == 429
        finally:
            for s in streams:
                await s.__aexit__(None, None, None)


async def test_a_slow_subscriber_drops_and_counts_instead_of_growing(redis_server: RedisEngine) -> None:
    client = redis.Redis.from_url(redis_server.url)
    hub = Hub(client, queue_size=2, max_per_tenant=5)
    hub.start()
    try:
        name = tail_channel("prj_slow")
        subscriber = await hub.join("ten_x", {name: "requests"})
        await wait_subscribed(client, name)
        for i in range(7):
            await client.publish(name, json.dumps({"n": i}))
        for _ in range(100):
            if hub.published >= 7:
                break
            await asyncio.sleep(0.02)
        assert subscriber.queue.qsize() == 2
        assert subscriber.dropped == 5
        first = subscriber.queue.get_nowait()
        assert json.loads(first.data) == {"n": 0}
        await hub.leave(subscriber)
        assert hub.connections("ten_x") == 0
    finally:
        await hub.close()
        await client.aclose()
