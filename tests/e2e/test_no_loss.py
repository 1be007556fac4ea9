"""No loss, no double count, end to end.

The real SDK inside a real Starlette app sends requests through a proxy to the real ingest API; the worker stores
them in ClickHouse and archives them in S3 (SeaweedFS); the dashboard API reads the figures back. Meanwhile the
worker is killed with SIGKILL mid-stream, Redis (append-only persistence on) is restarted, ClickHouse and then S3
are stopped for ``SENTINEL_E2E_OUTAGE_S`` seconds each (30 by default), and the proxy injects the SDK's worst
days: answers lost after the batch was accepted (the SDK retries the same batch id) and batches delivered twice.
At the end the dashboard must report exactly what the app served: in all, and per method and route.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from sentinel_local import ClickHouseEngine, RedisEngine, SeaweedS3Engine, free_port, http_status
from sentinel_local._process import ManagedProcess, venv_bin
from sentinel_local.seed import ensure_demo
from sentinel_sdk import Client
from sentinel_sdk.starlette import SentinelMiddleware

OUTAGE_S = float(os.environ.get("SENTINEL_E2E_OUTAGE_S", "30"))
BUCKET = "sentinel-e2e-archive"
HASH_SECRET = "e2e-no-loss-secret-0123456789-abcdefghij"
LOOPBACK = "127.0.0.1"

pytestmark = pytest.mark.timeout(600 + int(4 * OUTAGE_S))


# --- the proxy between the SDK and the ingest API ----------------------------------------------------------------


@dataclass
class Faults:
    """What the proxy did: every ``lose_every``-th batch is accepted by ingest and its answer lost; every
    ``twice_every``-th is delivered twice."""

    lose_every: int = 7
    twice_every: int = 5
    seen: int = 0
    answers_lost: int = 0
    delivered_twice: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self) -> tuple[bool, bool]:
        with self.lock:
            self.seen += 1
            lose, twice = self.seen % self.lose_every == 0, self.seen % self.twice_every == 0
            self.answers_lost += lose
            self.delivered_twice += twice
            return lose, twice


def proxy(ingest_port: int, faults: Faults) -> ThreadingHTTPServer:
    """An HTTP proxy to the ingest API on a loopback port that injects lost answers and duplicate deliveries."""

    def forward(method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, list[Any], bytes]:
        connection = http.client.HTTPConnection(LOOPBACK, ingest_port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers)
            answer = connection.getresponse()
            return answer.status, answer.getheaders(), answer.read()
        finally:
            connection.close()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {name: value for name, value in self.headers.items() if name.lower() != "connection"}
            lose, twice = faults.next()
            try:
                status, answer_headers, answer = forward("POST", self.path, body, headers)
                if twice:
                    status, answer_headers, answer = forward("POST", self.path, body, headers)
            except OSError:
                status, answer_headers, answer = 502, [], b'{"error": "ingest unreachable"}'
            if lose:  # accepted (or not) upstream, but the SDK never hears of it
                self.close_connection = True
                return
            self.send_response(status)
            for name, value in answer_headers:
                if name.lower() in ("content-type", "retry-after"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="fault-proxy", daemon=True).start()
    return server


# --- the stack ---------------------------------------------------------------------------------------------------


@dataclass
class Stack:
    root: Path
    redis: RedisEngine
    clickhouse: ClickHouseEngine
    s3: SeaweedS3Engine
    env: dict[str, str]
    ports: dict[str, int]
    services: dict[str, ManagedProcess] = field(default_factory=dict)
    credentials: dict[str, Any] = field(default_factory=dict)
    generations: Counter[str] = field(default_factory=Counter)

    def url(self, service: str) -> str:
        return f"http://{LOOPBACK}:{self.ports[service]}"

    def start(self, service: str) -> None:
        self.generations[service] += 1
        program = venv_bin(f"sentinel-{service}") or f"sentinel-{service}"
        process = ManagedProcess(
            service, [program], log_path=self.root / "logs" / f"{service}-{self.generations[service]}.log", env=self.env
        )
        process.start()
        process.wait_ready(lambda: http_status(self.url(service) + "/healthz", timeout=2) == 200, 90)
        self.services[service] = process

    def kill(self, service: str) -> None:
        self.services[service].kill()  # SIGKILL: no shutdown handler runs

    def stop_all(self) -> None:
        for process in self.services.values():
            process.stop()
        for engine in (self.s3, self.clickhouse, self.redis):
            engine.stop()

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text()[-3000:]}" for path in sorted((self.root / "logs").glob("*.log"))
        )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("no-loss")
    redis = RedisEngine(root / "redis", persistent=True).start()
    clickhouse = ClickHouseEngine(root / "clickhouse").start()
    s3 = SeaweedS3Engine(root / "s3").start()
    s3.client().create_bucket(Bucket=BUCKET)
    ports = {"ingest": free_port(), "worker": free_port(), "dashboard": free_port()}
    env = {
        **redis.env(),
        **clickhouse.env(),
        **s3.env(),
        "SENTINEL_ARCHIVE_BUCKET": BUCKET,
        "SENTINEL_CONTROL_SQLITE_PATH": str(root / "control.db"),
        "SENTINEL_CONTROL_HASH_SECRET": HASH_SECRET,
        "SENTINEL_LOG_LEVEL": "WARNING",
        **{f"SENTINEL_{name.upper()}_PORT": str(port) for name, port in ports.items()},
        # A killed worker's pending batches are claimed by the next one within seconds, not a minute.
        "SENTINEL_WORKER_CLAIM_IDLE_S": "3",
        "SENTINEL_WORKER_CLAIM_INTERVAL_S": "1",
        "SENTINEL_WORKER_RETRY_MAX_S": "2",
    }
    built = Stack(root=root, redis=redis, clickhouse=clickhouse, s3=s3, env=env, ports=ports)
    try:
        for service in ("worker", "ingest", "dashboard"):  # the worker first: it applies the migrations
            built.start(service)
        credentials, _ = ensure_demo(root / "dev.json", built.url("dashboard"), env)
        built.credentials = credentials
        yield built
    finally:
        built.stop_all()


# --- the app -----------------------------------------------------------------------------------------------------


def the_app(client: Client) -> Starlette:
    async def user(request: Request) -> JSONResponse:
        return JSONResponse({"id": request.path_params["user_id"]})

    async def order(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"ok": True}, status_code=201)

    async def broken(request: Request) -> PlainTextResponse:
        raise RuntimeError("boom")

    app = Starlette(
        routes=[
            Route("/users/{user_id:int}", user),
            Route("/orders", order, methods=["POST"]),
            Route("/broken", broken),
        ]
    )
    app.add_middleware(SentinelMiddleware, client=client)
    return app


CALLS: list[tuple[str, str, str, int]] = [
    # method, path, route template reported, status
    ("GET", "/users/{n}", "/users/{user_id}", 200),
    ("GET", "/users/{n}", "/users/{user_id}", 200),
    ("POST", "/orders", "/orders", 201),
    ("GET", "/broken", "/broken", 500),
    ("GET", "/nowhere/{n}", "", 404),
]


class Traffic:
    """Requests served by the app, counted per (method, route) as the dashboard reports them."""

    def __init__(self, http: TestClient) -> None:
        self.http = http
        self.expected: Counter[tuple[str, str | None]] = Counter()
        self.sequence = itertools.count()

    def send(self, count: int, pause: float = 0.0, during: Callable[[int], None] | None = None) -> None:
        for index in range(count):
            n = next(self.sequence)
            method, path, route, status = CALLS[n % len(CALLS)]
            answer = self.http.request(method, path.format(n=n), json={"n": n} if method == "POST" else None)
            assert answer.status_code == status, answer.text
            self.expected[(method, route or None)] += 1
            if during is not None:
                during(index)
            if pause:
                time.sleep(pause)

    @property
    def total(self) -> int:
        return sum(self.expected.values())


def dashboard_get(stack: Stack, path: str, **query: Any) -> Any:
    credentials = stack.credentials
    url = f"{stack.url('dashboard')}/api/projects/{credentials['project_id']}{path}"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {credentials['dashboard_token']}"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def stored(stack: Stack) -> int:
    try:
        return int(dashboard_get(stack, "/metrics/overview")["requests"])
    except (OSError, urllib.error.HTTPError, KeyError, ValueError):
        return -1


def per_route(stack: Stack) -> Counter[tuple[str, str | None]]:
    counts: Counter[tuple[str, str | None]] = Counter()
    cursor: str | None = None
    while True:
        page = dashboard_get(stack, "/metrics/endpoints", limit=100, **({"cursor": cursor} if cursor else {}))
        for item in page["items"]:
            counts[(item["method"], item["route"])] += item["requests"]
        cursor = page["next"]
        if cursor is None:
            return counts


# --- the test ----------------------------------------------------------------------------------------------------


def test_every_request_is_counted_once_through_crashes_restarts_and_outages(stack: Stack) -> None:
    faults = Faults()
    server = proxy(stack.ports["ingest"], faults)
    sdk = Client(
        api_key=stack.credentials["ingest_key"],
        endpoint=f"http://{LOOPBACK}:{server.server_address[1]}",
        flush_interval=0.2,
        batch_size=50,
        max_retries=40,
        retry_budget=300.0,
        timeout=10.0,
    )
    traffic = Traffic(TestClient(the_app(sdk), raise_server_exceptions=False))
    try:
        # 1. Steady traffic while the worker is killed mid-stream (SIGKILL), then replaced.
        def kill_worker(index: int) -> None:
            if index == 150:
                stack.kill("worker")
            if index == 250:
                stack.start("worker")

        traffic.send(400, pause=0.005, during=kill_worker)

        # 2. Redis, with its append-only file, restarted while batches arrive: ingest answers 503, the SDK retries.
        def restart_redis(index: int) -> None:
            if index == 150:
                stack.redis.restart()

        traffic.send(400, pause=0.005, during=restart_redis)

        # 3. ClickHouse down, then 4. S3 down, each for OUTAGE_S while traffic goes on: the queue holds it.
        for engine in (stack.clickhouse, stack.s3):
            engine.stop()
            outage_ends = time.monotonic() + OUTAGE_S
            traffic.send(200, pause=max(0.0, OUTAGE_S / 400))
            time.sleep(max(0.0, outage_ends - time.monotonic()))
            engine.restart()
            traffic.send(100, pause=0.005)

        assert sdk.flush(timeout=120), "the SDK could not deliver everything it captured"
    finally:
        sdk.shutdown(timeout=10)
        server.shutdown()

    assert faults.answers_lost > 10, faults  # the faults really happened
    assert faults.delivered_twice > 10, faults
    deadline = time.monotonic() + 180
    while stored(stack) != traffic.total and time.monotonic() < deadline:
        time.sleep(1)
    count = stored(stack)
    assert count == traffic.total, f"dashboard reports {count} requests, the app served {traffic.total}\n{stack.logs()}"
    time.sleep(5)  # anything written late (a redelivery, a replayed group) would show now
    assert stored(stack) == traffic.total
    assert per_route(stack) == traffic.expected
    overview = dashboard_get(stack, "/metrics/overview")
    assert overview["events_lost"] == 0, overview
    assert overview["errors_5xx"] == traffic.expected[("GET", "/broken")]
    assert overview["errors_4xx"] == traffic.expected[("GET", None)]
