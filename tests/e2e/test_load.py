"""Load: the ingest API offered twice what it was just measured to take, for ``SENTINEL_E2E_LOAD_S`` seconds.

First the capacity: the batches per second one ingest process accepts from busy keep-alive connections, with no
worker and no backlog limit, measured on this machine in this run. Then the real pipeline (ingest, Redis, the
worker writing to ClickHouse) is offered twice that, open loop, by clients that open connections as they need
them: three quarters of the batches for a project without a rate limit, a quarter for one limited to 1/200 of
the capacity. Throughout and after, the ingest API must

- answer every request, and fast enough that the clients never run out of connections (no timeout, no reset);
- answer only 202, 429 (only to the limited project, never past its token bucket) or 503 (overloaded or
  back-pressure), each refusal with ``Retry-After``;
- keep accepting in every tenth of the run, not only until the backlog filled;
- keep its memory and Redis's bounded, flat over the run;
- have enqueued exactly the batches it accepted, once each;
- recover: the worker drains the backlog, ``/readyz`` is 200, a new batch is accepted, and ClickHouse holds
  exactly the accepted events.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis

from sentinel_control import ProjectChanges, SecretHasher, SqliteControlStore
from sentinel_control.testing import make_key, make_project, make_tenant
from sentinel_local import ClickHouseEngine, RedisEngine, answers_ok, free_port, memory_mb, process_tree
from sentinel_local._process import ManagedProcess, venv_bin
from sentinel_queue import CONSUMER_GROUP, stream_key
from sentinel_types import Consumer, Event, EventBatch, SdkInfo, encode

LOAD_S = float(os.environ.get("SENTINEL_E2E_LOAD_S", "30"))
EVENTS_PER_BATCH = 200
PARTITIONS = 4
HASH_SECRET = "e2e-load-secret-0123456789-abcdefghijklmn"
PLACEHOLDER = uuid.UUID("00000000-0000-4000-8000-0000000000ff")
DATABASE = "sentinel_load"
# Ingest's resident memory may grow over its idle size by this much for the batches in work (64 at most) ...
INGEST_RSS_MB = 160
# ... and by this much per open connection (granian's buffers).
CONNECTION_KB = 128

pytestmark = pytest.mark.timeout(300 + int(2 * LOAD_S))


# --- the stack ---------------------------------------------------------------------------------------------------


@dataclass
class Project:
    id: str
    tenant_id: str
    key: str
    rate_eps: int = 0
    burst: int = 0


@dataclass
class Stack:
    root: Path
    redis: RedisEngine
    clickhouse: ClickHouseEngine
    env: dict[str, str]
    projects: dict[str, Project] = field(default_factory=dict)
    services: dict[str, ManagedProcess] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    redis_client: redis.Redis | None = None

    def start(self, service: str, **env: str) -> ManagedProcess:
        self.ports[service] = port = free_port()
        process = ManagedProcess(
            service,
            [venv_bin(f"sentinel-{service}") or f"sentinel-{service}"],
            log_path=self.root / "logs" / f"{service}-{port}.log",
            env={**self.env, f"SENTINEL_{service.upper()}_PORT": str(port), **env},
        )
        process.start()
        process.wait_ready(lambda: answers_ok(f"http://127.0.0.1:{port}/healthz"), 90)
        self.services[service] = process
        return process

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def client(self) -> redis.Redis:
        """One client for the whole test (opened on first use, closed with the stack)."""
        if self.redis_client is None:
            self.redis_client = redis.Redis.from_url(self.redis.url)
        return self.redis_client

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted((self.root / "logs").glob("*.log")))


async def seed(db: Path) -> dict[str, Project]:
    store = SqliteControlStore(db)
    await store.setup()
    try:
        tenant = await make_tenant(store)
        projects = {}
        for name in ("open", "limited"):
            project = await make_project(store, tenant, name=name, rate_limit_eps=10**9, rate_limit_burst=10**9)
            key, _ = await make_key(store, SecretHasher(HASH_SECRET), project)
            projects[name] = Project(id=project.id, tenant_id=tenant.id, key=key)
        return projects
    finally:
        await store.close()


async def set_rate(db: Path, project: Project) -> None:
    store = SqliteControlStore(db)
    await store.setup()
    try:
        changes = ProjectChanges(rate_limit_eps=project.rate_eps, rate_limit_burst=project.burst)
        await store.update_project(project.tenant_id, project.id, changes)
    finally:
        await store.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, clickhouse_server: ClickHouseEngine) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("load")
    engine = RedisEngine(root / "redis").start()
    env = {
        "SENTINEL_REDIS_URL": engine.url,
        "SENTINEL_REDIS_PARTITIONS": str(PARTITIONS),
        **clickhouse_server.env(),
        "SENTINEL_CLICKHOUSE_DATABASE": DATABASE,
        "SENTINEL_ARCHIVE_LOCAL_DIR": str(root / "archive"),
        "SENTINEL_CONTROL_SQLITE_PATH": str(root / "control.db"),
        "SENTINEL_CONTROL_HASH_SECRET": HASH_SECRET,
        "SENTINEL_LOG_LEVEL": "WARNING",
    }
    built = Stack(root=root, redis=engine, clickhouse=clickhouse_server, env=env)
    built.projects = asyncio.run(seed(root / "control.db"))
    try:
        yield built
    finally:
        for process in built.services.values():
            process.stop()
        if built.redis_client is not None:
            built.redis_client.close()
        engine.stop()


# --- the load ----------------------------------------------------------------------------------------------------


def template(path: Path) -> Path:
    """A MessagePack batch of realistic events whose batch id is ``PLACEHOLDER`` (the generator replaces it)."""
    rng = random.Random(11)
    now = time.time_ns() // 1_000_000
    routes = ["/users/{id}", "/orders", "/orders/{id}", "/search", "/items/{sku}/reviews"]
    events = [
        Event(
            event_id=uuid.UUID(int=rng.getrandbits(128), version=4),
            timestamp=now - rng.randint(0, 60_000),
            method=rng.choice(["GET", "GET", "POST", "PUT", "DELETE"]),
            route=(route := rng.choice(routes)),
            path=route.replace("{id}", str(i)).replace("{sku}", f"sku-{i}"),
            status=rng.choice([200] * 20 + [201, 400, 404, 500]),
            duration_ms=round(rng.lognormvariate(2.5, 0.8), 3),
            response_size=rng.randint(50, 20_000),
            client_ip=f"203.0.113.{rng.randint(1, 254)}",
            user_agent="Mozilla/5.0 (X11; Linux x86_64) load/1.0",
            consumer=Consumer(id=f"customer-{rng.randint(1, 200)}"),
        )
        for i in range(EVENTS_PER_BATCH)
    ]
    sdk = SdkInfo(name="sentinel-python", version="0.1.0")
    batch = EventBatch(batch_id=PLACEHOLDER, sent_at=now, sdk=sdk, service="load", events=events)
    path.write_bytes(encode(batch, "msgpack"))
    return path


def offer(stack: Stack, name: str, *, seconds: float, rate: float = 0.0, weights: dict[str, int]) -> dict[str, Any]:
    """Run the load generator in its own process against ingest; its report."""
    body = template(stack.root / "batch.msgpack")
    streams = [
        {
            "name": project,
            "headers": {
                "Authorization": f"Bearer {stack.projects[project].key}",
                "Content-Type": "application/msgpack",
            },
            "template": str(body),
            "placeholder": PLACEHOLDER.bytes.hex(),
            "weight": weight,
        }
        for project, weight in weights.items()
    ]
    config = {"port": stack.ports["ingest"], "streams": streams, "seconds": seconds, "rate": rate}
    path = stack.root / f"{name}.json"
    path.write_text(json.dumps(config))
    done = subprocess.run(
        [sys.executable, "-m", "sentinel_local.loadgen", str(path)], capture_output=True, timeout=seconds + 120
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    report: dict[str, Any] = json.loads(done.stdout)
    return report


# --- what is measured meanwhile ------------------------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the server's workers), MB."""
    return sum(memory_mb(process) for process in process_tree(pid))


class Sampler(threading.Thread):
    """Ingest's memory and Redis's used memory, four times a second, until stopped."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(name="sampler", daemon=True)
        self.pid = stack.services["ingest"].pid or 0
        self.client = redis.Redis.from_url(stack.redis.url)  # its own: redis-py clients are not shared across threads
        self.ingest: list[float] = []
        self.redis: list[float] = []
        self.halt = threading.Event()

    def sample(self) -> None:
        self.ingest.append(rss_mb(self.pid))
        self.redis.append(int(self.client.info("memory")["used_memory"]) / 2**20)

    def run(self) -> None:
        while not self.halt.wait(0.25):
            self.sample()
        self.client.close()


def backlog(client: redis.Redis) -> tuple[int, int]:
    """Entries not yet read by the worker's group, and read but not acknowledged, over every partition."""
    lag = pending = 0
    for partition in range(PARTITIONS):
        for group in client.xinfo_groups(stream_key(partition)):
            if group["name"] in (CONSUMER_GROUP, CONSUMER_GROUP.encode()):
                lag += int(group["lag"] or 0)
                pending += int(group["pending"])
    return lag, pending


def entries_added(client: redis.Redis) -> int:
    total = 0
    for partition in range(PARTITIONS):
        if client.exists(stream_key(partition)):
            total += int(client.xinfo_stream(stream_key(partition))["entries-added"])
    return total


def stored_events(stack: Stack, project_ids: list[str]) -> int:
    query = "SELECT count() FROM events WHERE has({ids:Array(String)}, project_id)"
    params = urllib.parse.urlencode({"query": query, "database": DATABASE, "param_ids": repr(project_ids)})
    with urllib.request.urlopen(f"{stack.clickhouse.url}/?{params}", timeout=30) as answer:
        return int(answer.read())


def accepted(report: dict[str, Any], project: str) -> int:
    return int(report["statuses"].get(project, {}).get("202", 0))


# --- the test ------------------------------------------------------------------------------------------------------


def drained(stack: Stack, within_s: float) -> bool:
    """Wait until the worker has read and acknowledged every entry."""
    deadline = time.monotonic() + within_s
    while backlog(stack.client()) != (0, 0):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def test_twice_the_capacity_is_answered_refused_in_bounds_and_recovered_from(stack: Stack) -> None:
    # 1. Capacity, with the worker at work on the same cores: busy connections, no backlog limit.
    stack.start("worker", SENTINEL_WORKER_TRIM_INTERVAL_S="2")
    calibration = stack.start("ingest", SENTINEL_INGEST_HIGH_WATER_ENTRIES=str(10**9))
    measured = offer(stack, "calibration", seconds=5, weights={"open": 1})
    calibration.stop()
    assert set(measured["statuses"]["open"]) == {"202"}, measured
    capacity = accepted(measured, "open") / measured["seconds"]  # batches per second
    assert drained(stack, 120), "the worker did not store the calibration's batches"
    enqueued_before = entries_added(stack.client())

    # 2. The limited project at 1/200 of the capacity (well under its share of what is admitted), the backlog
    # capped at ~1 s of the capacity.
    limited = stack.projects["limited"]
    limited.rate_eps = limited.burst = max(EVENTS_PER_BATCH, int(capacity * EVENTS_PER_BATCH / 200))
    asyncio.run(set_rate(stack.root / "control.db", limited))
    high_water = max(100, int(capacity))
    ingest = stack.start("ingest", SENTINEL_INGEST_HIGH_WATER_ENTRIES=str(high_water))
    sampler = Sampler(stack)
    warm_up = offer(stack, "warm-up", seconds=1, rate=capacity / 4, weights={"open": 1})
    sampler.sample()
    idle_rss, idle_redis = sampler.ingest[-1], sampler.redis[-1]
    sampler.start()

    # 3. Twice the capacity, open loop.
    rate = 2 * capacity
    report = offer(stack, "overload", seconds=LOAD_S, rate=rate, weights={"open": 3, "limited": 1})
    sampler.halt.set()
    sampler.join()
    context = f"capacity {capacity:.0f} batches/s, offered {rate:.0f}/s: {json.dumps(report)}\n{stack.logs()}"
    print(
        f"capacity {capacity:.0f} batches/s; offered {report['offered'] / report['seconds']:.0f}/s for "
        f"{report['seconds']:.0f} s: {json.dumps(report['statuses'])}, latency {report['latency_ms']}, "
        f"peak connections {report['peak_connections']}; ingest RSS {idle_rss:.0f} -> {max(sampler.ingest):.0f} MB, "
        f"Redis {idle_redis:.0f} -> {max(sampler.redis):.0f} MB"
    )
    assert ingest.running(), context
    check_answers(report, rate, limited, context)

    # Memory: batches in work (at most 64) and open connections (granian keeps buffers per connection) are bounded,
    # and nothing grows over the run.
    rss_bound = idle_rss + INGEST_RSS_MB + report["peak_connections"] * CONNECTION_KB / 1024
    assert max(sampler.ingest) <= rss_bound, f"ingest RSS {sampler.ingest} > {rss_bound:.0f} MB: {context}"
    third = len(sampler.ingest) // 3
    assert max(sampler.ingest[-third:]) <= max(sampler.ingest[:-third]) + 16, f"ingest RSS grows: {sampler.ingest}"
    # Redis holds at most the backlog, ~2 s of acknowledged history awaiting trim and the batch ids seen.
    entry_mb = (stack.root / "batch.msgpack").stat().st_size * 1.3 / 2**20
    redis_bound = idle_redis + 64 + entry_mb * (high_water + 4 * capacity)
    assert max(sampler.redis) <= redis_bound, f"Redis used {max(sampler.redis):.0f} MB > {redis_bound:.0f}: {context}"

    overload_total = accepted(warm_up, "open") + accepted(report, "open") + accepted(report, "limited")
    enqueued = entries_added(stack.client()) - enqueued_before
    assert enqueued == overload_total, f"accepted batches and enqueued entries differ: {context}"

    # 4. Recovery.
    assert drained(stack, 180), f"the worker did not drain the backlog: {context}"
    assert answers_ok(stack.url("ingest") + "/readyz"), context
    after = offer(stack, "after", seconds=1, rate=20, weights={"open": 1})
    assert set(after["statuses"]["open"]) == {"202"}, after
    assert drained(stack, 60), context
    total = accepted(measured, "open") + overload_total + accepted(after, "open")
    assert stored_events(stack, [stack.projects["open"].id, limited.id]) == total * EVENTS_PER_BATCH, context


def check_answers(report: dict[str, Any], rate: float, limited: Project, context: str) -> None:
    offered = report["offered"]
    assert offered >= 0.95 * rate * LOAD_S, f"the generator fell behind its schedule: {context}"
    assert report["unsent"] <= 0.02 * offered, f"the clients ran out of connections: answers too slow. {context}"
    assert report["errors"] == {}, f"requests without an answer: {context}"
    assert report["answered"] == offered - report["unsent"], context
    assert set(report["statuses"]["open"]) <= {"202", "503"}, context
    assert set(report["statuses"]["limited"]) <= {"202", "429", "503"}, context
    assert report["statuses"]["limited"].get("429", 0) > 0, f"the limited project was never limited: {context}"
    assert set(report["error_codes"]) <= {"429:rate_limited", "503:overloaded", "503:backpressure"}, context
    assert report["missing_retry_after"] == 0, context
    refused = sum(int(n) for statuses in report["statuses"].values() for code, n in statuses.items() if code != "202")
    assert refused > 0.2 * report["answered"], f"twice the capacity was all accepted: not an overload. {context}"
    limit_events = limited.burst + limited.rate_eps * (report["seconds"] + 1)
    assert accepted(report, "limited") * EVENTS_PER_BATCH <= limit_events, f"token bucket exceeded: {context}"
    tenths = [sum(second.get("202", 0) for second in chunk) for chunk in chunks(report["timeline"][: int(LOAD_S)], 10)]
    assert all(tenths), f"no batch accepted in some tenth of the run ({tenths}): {context}"


def chunks(items: list[Any], count: int) -> list[list[Any]]:
    size = max(1, len(items) // count)
    return [items[i * size : (i + 1) * size] for i in range(count)]
