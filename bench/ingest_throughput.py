"""Ingest throughput: events/s and latency of POST /v1/events/batch, per ASGI server and body format, and what
is still accepted when twice that is offered.

The ingest API runs as its own process (one worker) against a real Redis; a separate load-generator process
keeps N keep-alive connections busy with 500-event batches, each with a fresh batch id (so nothing is refused
as a duplicate). In the same run, the raw ceiling: one Python process appending the same entry blobs to the
stream with XADD as fast as it can. Then, per server, twice the MessagePack rate just measured is offered open
loop (``sentinel_local.loadgen``: new connections as needed) and the accepted rate, the refusals and the answer
latency are reported. Everything shares this machine's cores, as it would on one small host.

    uv run python bench/ingest_throughput.py [--seconds 8] [--connections 24] [--servers uvicorn,granian]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil
import redis.asyncio as aioredis
from _results import record

from sentinel_control import SecretHasher, SqliteControlStore
from sentinel_control.testing import make_key, make_project, make_tenant
from sentinel_local import RedisEngine, free_port
from sentinel_queue import QueuedBatch, encode_entry, stream_key
from sentinel_types import Consumer, Event, EventBatch, SdkInfo, encode

HASH_SECRET = "bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
EVENTS_PER_BATCH = 500
PLACEHOLDER = uuid.UUID("00000000-0000-4000-8000-000000000000")
ROUTES = ["/users/{id}", "/orders", "/orders/{id}", "/search", "/health", "/items/{sku}/reviews"]
FORMATS = ("json", "msgpack", "json+gzip", "msgpack+gzip")


def make_events(count: int) -> list[Event]:
    rng = random.Random(7)
    now = time.time_ns() // 1_000_000
    events = []
    for i in range(count):
        route = rng.choice(ROUTES)
        events.append(
            Event(
                event_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                timestamp=now - rng.randint(0, 5_000),
                method=rng.choice(["GET", "GET", "GET", "POST", "PUT", "DELETE"]),
                route=route,
                path=route.replace("{id}", str(i)).replace("{sku}", f"sku-{i}"),
                status=rng.choice([200] * 20 + [201, 204, 400, 404, 500]),
                duration_ms=round(rng.lognormvariate(2.5, 0.8), 3),
                ttfb_ms=round(rng.uniform(0.5, 5.0), 3),
                request_size=rng.randint(0, 2_000),
                response_size=rng.randint(50, 20_000),
                client_ip=f"203.0.113.{rng.randint(1, 254)}",
                user_agent="Mozilla/5.0 (X11; Linux x86_64) bench/1.0",
                consumer=Consumer(id=f"customer-{rng.randint(1, 200)}", group="pro"),
            )
        )
    return events


def template(fmt: str) -> bytes:
    batch = EventBatch(
        batch_id=PLACEHOLDER,
        sent_at=time.time_ns() // 1_000_000,
        sdk=SdkInfo(name="sentinel-python", version="0.1.0", runtime="CPython 3.11"),
        service="bench",
        environment="production",
        events=make_events(EVENTS_PER_BATCH),
    )
    return encode(batch, fmt.split("+")[0])  # type: ignore[arg-type]


def bodies(fmt: str, count: int) -> list[bytes]:
    """``count`` bodies differing only in their batch id (gzipped after patching when the format says so)."""
    base = template(fmt)
    wire = fmt.split("+")[0]
    old = str(PLACEHOLDER).encode() if wire == "json" else PLACEHOLDER.bytes
    assert base.count(old) == 1
    out = []
    for _ in range(count):
        new = str(uuid.uuid4()).encode() if wire == "json" else uuid.uuid4().bytes
        body = base.replace(old, new)
        out.append(gzip.compress(body, compresslevel=1) if fmt.endswith("gzip") else body)
    return out


# --- load generator (runs in its own process) ---------------------------------------------------------------
@dataclass
class LoadResult:
    requests: int
    accepted_events: int
    statuses: dict[int, int]
    latencies_ms: list[float]
    seconds: float


async def _connection(port: int, key: str, fmt: str, queue: list[bytes], deadline: float, result: LoadResult) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    content_type = "application/json" if fmt.startswith("json") else "application/msgpack"
    encoding = "Content-Encoding: gzip\r\n" if fmt.endswith("gzip") else ""
    try:
        while queue and time.perf_counter() < deadline:
            body = queue.pop()
            head = (
                f"POST /v1/events/batch HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}\r\n"
                f"Content-Type: {content_type}\r\n{encoding}Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            started = time.perf_counter()
            writer.writelines([head, body])
            await writer.drain()
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
            status = int(status_line.split()[1])
            result.statuses[status] = result.statuses.get(status, 0) + 1
            result.requests += 1
            if status == 202:
                result.accepted_events += EVENTS_PER_BATCH
    finally:
        writer.close()


def run_load(port: int, key: str, fmt: str, seconds: float, connections: int, out: multiprocessing.Queue) -> None:
    queue = bodies(fmt, int(seconds * 800))  # more than any run here can send: none is ever a duplicate
    result = LoadResult(requests=0, accepted_events=0, statuses={}, latencies_ms=[], seconds=0.0)

    async def main() -> None:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(_connection(port, key, fmt, queue, deadline, result) for _ in range(connections)))
        result.seconds = time.perf_counter() - started

    asyncio.run(main())
    out.put(result)


# --- the raw ceiling: XADD of the same blobs from one Python process -----------------------------------------
def run_ceiling(redis_url: str, seconds: float, out: multiprocessing.Queue) -> None:
    events = make_events(EVENTS_PER_BATCH)
    blob = encode_entry(
        QueuedBatch(
            project_id="prj_bench",
            tenant_id="ten_bench",
            batch_id=uuid.uuid4(),
            received_at=0,
            sdk=SdkInfo(name="sentinel-python", version="0.1.0"),
            events=events,
        )
    )

    async def main() -> int:
        client = aioredis.Redis.from_url(redis_url)
        appended = 0
        deadline = time.perf_counter() + seconds

        async def appender() -> None:
            nonlocal appended
            while time.perf_counter() < deadline:
                await client.xadd(stream_key(99), {b"d": blob})
                appended += 1

        started = time.perf_counter()
        await asyncio.gather(*(appender() for _ in range(16)))
        elapsed = time.perf_counter() - started
        await client.delete(stream_key(99))
        await client.aclose()
        return int(appended * EVENTS_PER_BATCH / elapsed)

    out.put(asyncio.run(main()))


# --- overload: twice the capacity, open loop ------------------------------------------------------------------
def run_overload(kind: str, port: int, key: str, capacity: float, seconds: float, tmp: Path, server_pid: int) -> None:
    """Offer twice ``capacity`` (MessagePack batches per second) and record what is accepted and how it is refused."""
    template_path = tmp / "overload.msgpack"
    template_path.write_bytes(template("msgpack"))
    stream = {
        "name": "batch",
        "headers": {"Authorization": f"Bearer {key}", "Content-Type": "application/msgpack"},
        "template": str(template_path),
        "placeholder": PLACEHOLDER.bytes.hex(),
    }
    config_path = tmp / "overload.json"
    config_path.write_text(json.dumps({"port": port, "streams": [stream], "seconds": seconds, "rate": 2 * capacity}))
    print(f"  running {kind} / msgpack at twice its capacity ({2 * capacity:,.0f} batches/s offered) ...", flush=True)
    cpu_before = process_tree_cpu(server_pid)
    done = subprocess.run(
        [sys.executable, "-m", "sentinel_local.loadgen", str(config_path)], capture_output=True, check=True
    )
    server_cpu = process_tree_cpu(server_pid) - cpu_before
    report = json.loads(done.stdout)
    statuses: dict[str, int] = report["statuses"]["batch"]
    accepted = statuses.get("202", 0)
    refused = sum(count for status, count in statuses.items() if status != "202")
    rate = accepted * EVENTS_PER_BATCH / report["seconds"]
    latency = report["latency_ms"]
    unanswered = sum(report["errors"].values()) + report["unsent"]
    record(
        "Ingest",
        f"{kind}, msgpack, offered twice its capacity: accepted events per second",
        rate,
        "events/s",
        note=f"{rate / (capacity * EVENTS_PER_BATCH):.0%} of its capacity; {refused / report['seconds']:,.0f} "
        f"refusals/s; answers p50 {latency.get('p50', 0):.0f} ms, p99 {latency.get('p99', 0):.0f} ms; "
        f"{unanswered} unanswered",
    )
    print(
        f"    accepted {rate:,.0f} events/s ({rate / (capacity * EVENTS_PER_BATCH):.0%} of capacity), "
        f"refused {refused / report['seconds']:,.0f}/s ({', '.join(f'{s}: {n}' for s, n in statuses.items())}), "
        f"unanswered {unanswered}, answers p50 {latency.get('p50', 0):.0f} ms p99 {latency.get('p99', 0):.0f} ms, "
        f"peak connections {report['peak_connections']}, server CPU {server_cpu / report['seconds']:.0%}",
        flush=True,
    )


# --- orchestration --------------------------------------------------------------------------------------------
async def seed(db: Path) -> str:
    store = SqliteControlStore(db)
    await store.setup()
    tenant = await make_tenant(store)
    project = await make_project(store, tenant, rate_limit_eps=10_000_000, rate_limit_burst=100_000_000)
    key, _ = await make_key(store, SecretHasher(HASH_SECRET), project)
    await store.close()
    return key


def start_server(kind: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    bin_dir = Path(sys.executable).parent
    if kind == "uvicorn":
        argv = [
            str(bin_dir / "uvicorn"), "--factory", "sentinel_ingest.app:create_asgi_app", "--port", str(port),
            "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
    else:
        argv = [
            str(bin_dir / "granian"), "--interface", "asgi", "--factory", "--loop", "uvloop", "--workers", "1",
            "--port", str(port), "--no-access-log", "--log-level", "warning", "sentinel_ingest.app:create_asgi_app",
        ]  # fmt: skip
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{kind} did not start: {process.stderr.read().decode() if process.stderr else ''}")


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its children (server workers)."""
    try:
        root = psutil.Process(pid)
        total = 0.0
        for process in (root, *root.children(recursive=True)):
            times = process.cpu_times()
            total += times.user + times.system
        return total
    except psutil.NoSuchProcess:
        return 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=24)
    parser.add_argument("--servers", default="uvicorn,granian")
    parser.add_argument("--formats", default=",".join(FORMATS))
    args = parser.parse_args()
    ctx = multiprocessing.get_context("spawn")

    with tempfile.TemporaryDirectory() as tmp, RedisEngine(Path(tmp) / "redis") as redis_engine:
        key = asyncio.run(seed(Path(tmp) / "control.db"))
        assert redis_engine.process is not None
        redis_pid = redis_engine.process.pid or 0
        env = {
            **os.environ,
            "SENTINEL_REDIS_URL": redis_engine.url,
            "SENTINEL_CONTROL_SQLITE_PATH": str(Path(tmp) / "control.db"),
            "SENTINEL_CONTROL_HASH_SECRET": HASH_SECRET,
            "SENTINEL_INGEST_HIGH_WATER_ENTRIES": str(10**9),
            "SENTINEL_LOG_LEVEL": "WARNING",
        }
        print(
            f"# ingest throughput: {EVENTS_PER_BATCH}-event batches, {args.connections} connections, "
            f"{args.seconds:.0f} s per run, 1 server worker, {os.cpu_count()} cores shared",
            flush=True,
        )

        out: multiprocessing.Queue = ctx.Queue()
        ceiling_process = ctx.Process(target=run_ceiling, args=(redis_engine.url, args.seconds, out))
        ceiling_process.start()
        ceiling = out.get()
        ceiling_process.join()
        print(f"raw ceiling (Python XADD of the same entry blobs, 16 in flight): {ceiling:,} events/s", flush=True)
        record("Ingest", "raw Redis ceiling (XADD of the same entries, no HTTP)", ceiling, "events/s")

        rows = []
        for kind in args.servers.split(","):
            port = free_port()
            server = start_server(kind, port, env)
            capacities: dict[str, float] = {}
            try:
                for fmt in args.formats.split(","):
                    subprocess.run(
                        ["redis-cli", "-p", str(redis_engine.port), "FLUSHALL"], capture_output=True, check=False
                    )
                    print(f"  running {kind} / {fmt} ...", flush=True)
                    load = ctx.Process(target=run_load, args=(port, key, fmt, args.seconds, args.connections, out))
                    load.start()
                    cpu_before = process_tree_cpu(server.pid), process_tree_cpu(redis_pid)
                    result: LoadResult = out.get()
                    cpu_after = process_tree_cpu(server.pid), process_tree_cpu(redis_pid)
                    load.join()
                    rate = result.accepted_events / result.seconds
                    capacities[fmt] = rate / EVENTS_PER_BATCH
                    limit = {"json": 250_000.0, "msgpack": 350_000.0}.get(fmt)
                    record(
                        "Ingest",
                        f"{kind}, {fmt}: accepted events per second, one process",
                        rate,
                        "events/s",
                        target=(">=", limit) if limit is not None else None,
                        note=f"{rate / ceiling:.0%} of the raw Redis ceiling",
                    )
                    server_cpu = cpu_after[0] - cpu_before[0]
                    redis_cpu = cpu_after[1] - cpu_before[1]
                    rows.append(
                        (
                            kind,
                            fmt,
                            f"{rate:,.0f}",
                            f"{percentile(result.latencies_ms, 0.5):.1f}",
                            f"{percentile(result.latencies_ms, 0.99):.1f}",
                            f"{rate / ceiling:.0%}",
                            f"{server_cpu / result.seconds:.0%}",
                            f"{server_cpu / max(result.requests, 1) * 1000:.2f}",
                            f"{redis_cpu / result.seconds:.0%}",
                            " ".join(f"{s}:{n}" for s, n in sorted(result.statuses.items())),
                        )
                    )
                if "msgpack" in capacities:
                    subprocess.run(
                        ["redis-cli", "-p", str(redis_engine.port), "FLUSHALL"], capture_output=True, check=False
                    )
                    run_overload(kind, port, key, capacities["msgpack"], args.seconds, Path(tmp), server.pid)
            finally:
                server.terminate()
                server.wait(15)

    header = (
        "server",
        "format",
        "events/s",
        "p50 ms",
        "p99 ms",
        "of ceiling",
        "server CPU",
        "server CPU ms/batch",
        "redis CPU",
        "answers",
    )
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print()
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("| " + " | ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)) + " |")
    print(f"\nraw ceiling: {ceiling:,} events/s; targets per process: >= 250,000 JSON, >= 350,000 msgpack")


if __name__ == "__main__":
    main()
