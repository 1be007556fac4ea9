"""Dashboard query latency: every metrics and request-log endpoint over HTTP on 10M events.

Generates the events inside the local ClickHouse engine with ``INSERT … SELECT … FROM numbers()`` into the landing
table (so every materialized view and rollup fills exactly as from the worker): ``--events`` over ``--days`` days
ending now, ``--routes`` routes, ``--consumers`` consumers, a log-normal latency. Then runs a real
``sentinel-dashboard`` process (uvicorn, one worker) against it and times each endpoint for 1 h, 24 h and 30 d
windows ending now (not aligned: the window's edges come from the hourly, minute and raw tables) from a client
on this machine, sequentially, after two warm-up calls.

    uv run python bench/query_latency.py [--events 10000000] [--repeat 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
from _results import record

from sentinel_analytics import create_client
from sentinel_analytics.testing import fresh_database
from sentinel_config import ClickHouseSettings, ControlSettings
from sentinel_control import hasher_from, open_control_store
from sentinel_dashboard.projects.payloads import ProjectCreate
from sentinel_dashboard.projects.service import create_project
from sentinel_dashboard.tokens.service import create_tenant
from sentinel_local import ClickHouseEngine, RedisEngine, free_port

DAY = 86_400_000
HOUR = 3_600_000
BATCH = 500
TARGET_MS = 100.0
SECRET = "bench-query-latency-secret-0123456789abcdef"
BIN = Path(sys.executable).parent

# One row per batch of BATCH events; every value derives from the batch and event numbers (b, i).
GENERATE = """
INSERT INTO ingest_batches
SELECT
    {project_id:String}, 'bench-tenant', generateUUIDv4(b),
    {start_ms:Int64} + intDiv(b * {span_ms:Int64}, {batches:UInt64}) AS received_at,
    tuple('sentinel-python', '0.1.0', 'CPython 3.11'),
    if(b % 4 = 0, 'billing', 'api'), 'production', 1.0,
    tuple(b % 3, 0, 0, b % 2, 0), NULL, 90,
    arrayMap(i -> (
        generateUUIDv4(b * 1000 + i),
        received_at - (cityHash64(b, i, 'dt') % 10000),
        ['GET', 'POST', 'PUT', 'DELETE'][1 + (cityHash64(b, i, 'r') % {routes:UInt32}) % 4],
        concat('/r', toString(cityHash64(b, i, 'r') % {routes:UInt32}), '/', toString(i)),
        [200, 200, 200, 200, 200, 200, 201, 204, 304, 400, 404, 404, 429, 500, 502, 503]
            [1 + cityHash64(b, i, 's') % 16],
        round(exp(3 + 0.8 * sqrt(-2 * log((cityHash64(b, i, 'u1') % 1000000 + 1) / 1000001))
              * cos(2 * pi() * (cityHash64(b, i, 'u2') % 1000000) / 1000000)), 3),
        CAST(concat('/r', toString(cityHash64(b, i, 'r') % {routes:UInt32}), '/{id}') AS Nullable(String)),
        CAST(NULL AS Nullable(Float64)),
        cityHash64(b, i, 'q') % 2000,
        cityHash64(b, i, 'p') % 20000,
        CAST(NULL AS Nullable(String)),
        CAST('python-httpx/0.27' AS Nullable(String)),
        tuple(
            CAST(concat('consumer-', toString(cityHash64(b, i, 'c') % {consumers:UInt32})) AS Nullable(String)),
            CAST('Acme' AS Nullable(String)), CAST('pro' AS Nullable(String))
        ),
        map('region', 'eu'),
        CAST('{"accept": "*/*"}' AS Nullable(String)), CAST(NULL AS Nullable(String)),
        CAST(NULL AS Nullable(String)), CAST(NULL AS Nullable(String)), CAST(NULL AS Nullable(String)),
        false,
        CAST(NULL AS Nullable(String))
    ), range({per_batch:UInt64}))
FROM (SELECT number AS b FROM numbers({first:UInt64}, {count:UInt64}))
"""


async def generate(settings: ClickHouseSettings, project_id: str, args: argparse.Namespace, now_ms: int) -> float:
    client = await create_client(msgspec.structs.replace(settings, query_timeout_s=600))
    batches = args.events // BATCH
    chunk = 2_000
    started = time.perf_counter()
    try:
        for first in range(0, batches, chunk):
            await client.command(
                GENERATE,
                parameters={
                    "project_id": project_id,
                    "start_ms": now_ms - args.days * DAY,
                    "span_ms": args.days * DAY,
                    "batches": batches,
                    "per_batch": BATCH,
                    "routes": args.routes,
                    "consumers": args.consumers,
                    "first": first,
                    "count": min(chunk, batches - first),
                },
                settings={"async_insert": 0, "max_execution_time": 600},
            )
        rows = await client.query(
            "SELECT count() FROM events WHERE project_id = {p:String}", parameters={"p": project_id}
        )
        assert rows.result_rows[0][0] == batches * BATCH, rows.result_rows
    finally:
        await client.close()
    return time.perf_counter() - started


async def tenant_and_project(control: ControlSettings) -> tuple[str, str]:
    store = open_control_store(control, None)  # type: ignore[arg-type]
    await store.setup()
    try:
        tenant, token = await create_tenant(store, hasher_from(control), "bench")
        project = await create_project(store, tenant.id, ProjectCreate(name="bench", retention_days=90))
    finally:
        await store.close()
    return token.token, project.id


def start_dashboard(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [str(BIN / "sentinel-dashboard")],
        env={**os.environ, **env, "SENTINEL_DASHBOARD_PORT": str(port), "SENTINEL_DASHBOARD_HOST": "127.0.0.1"},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    raise SystemExit(f"the dashboard did not become ready; see {log}")


def calls(project_id: str, now_ms: int, event_id: str) -> dict[str, tuple[str, dict[str, Any]]]:
    base = f"/api/projects/{project_id}"
    return {
        "overview": (f"{base}/metrics/overview", {}),
        "timeseries p95 (auto)": (f"{base}/metrics/timeseries", {"metric": "p95"}),
        "endpoints by requests": (f"{base}/metrics/endpoints", {"limit": 50}),
        "endpoints by p95": (f"{base}/metrics/endpoints", {"limit": 50, "sort": "p95_ms"}),
        "status-codes": (f"{base}/metrics/status-codes", {}),
        "consumers by requests": (f"{base}/metrics/consumers", {"limit": 50}),
        "consumers by p95": (f"{base}/metrics/consumers", {"limit": 50, "sort": "p95_ms"}),
        "requests (log)": (f"{base}/requests", {"limit": 50}),
        "requests 5xx >= 100 ms": (f"{base}/requests", {"limit": 50, "status": "5xx", "min_duration_ms": 100}),
        "request detail": (f"{base}/requests/{event_id}", {}),
    }


async def measure(
    url: str, token: str, project_id: str, now_ms: int, repeat: int
) -> list[tuple[str, str, float, float]]:
    headers = {"Authorization": f"Bearer {token}"}
    out = []
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        latest = await client.get(f"/api/projects/{project_id}/requests", params={"limit": 1})
        event_id = latest.json()["items"][0]["event_id"]
        for window_name, span in (("1 h", HOUR), ("24 h", DAY), ("30 d", 30 * DAY)):
            window = {"from": str(now_ms - span), "to": str(now_ms)}
            for name, (path, params) in calls(project_id, now_ms, event_id).items():
                timings = []
                for attempt in range(repeat + 2):
                    started = time.perf_counter()
                    response = await client.get(path, params={**params, **window})
                    elapsed = (time.perf_counter() - started) * 1000
                    if response.status_code != 200:
                        raise SystemExit(f"{name} {window_name}: {response.status_code} {response.text[:300]}")
                    if attempt >= 2:
                        timings.append(elapsed)
                timings.sort()
                p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
                out.append((name, window_name, statistics.median(timings), p95))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--routes", type=int, default=200)
    parser.add_argument("--consumers", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=30, help="timed calls per endpoint and window")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sentinel-bench-query-") as tmp:
        work = Path(tmp)
        redis_engine = RedisEngine(work / "redis").start()
        clickhouse = ClickHouseEngine(work / "clickhouse").start()
        dashboard = None
        try:
            ch_settings = asyncio.run(fresh_database(clickhouse.url))
            control = ControlSettings(backend="sqlite", sqlite_path=str(work / "control.db"), hash_secret=SECRET)
            token, project_id = asyncio.run(tenant_and_project(control))
            now_ms = int(time.time() * 1000)
            seconds = asyncio.run(generate(ch_settings, project_id, args, now_ms))
            print(f"generated {args.events:,} events over {args.days} days in {seconds:.0f} s", flush=True)
            port = free_port()
            env = {
                "SENTINEL_REDIS_URL": redis_engine.url,
                "SENTINEL_CLICKHOUSE_URL": clickhouse.url,
                "SENTINEL_CLICKHOUSE_DATABASE": ch_settings.database,
                "SENTINEL_CONTROL_BACKEND": "sqlite",
                "SENTINEL_CONTROL_SQLITE_PATH": control.sqlite_path,
                "SENTINEL_CONTROL_HASH_SECRET": SECRET,
                "SENTINEL_LOG_LEVEL": "WARNING",
            }
            dashboard = start_dashboard(env, port, work / "dashboard.log")
            rows = asyncio.run(measure(f"http://127.0.0.1:{port}", token, project_id, now_ms, args.repeat))
        finally:
            if dashboard is not None:
                dashboard.terminate()
                dashboard.wait(timeout=15)
            clickhouse.stop()
            redis_engine.stop()
    width = max(len(r[0]) for r in rows)
    print(f"\n{'endpoint':<{width}}  {'window':>6}  {'p50 ms':>8}  {'p95 ms':>8}  target p95 <= {TARGET_MS:.0f} ms")
    for name, window, p50, p95 in rows:
        verdict = "ok" if p95 <= TARGET_MS else "OVER"
        record(
            "Dashboard queries", f"{name}, {window}: p95", p95, "ms", target=("<=", TARGET_MS), note=f"p50 {p50:.1f} ms"
        )
        print(f"{name:<{width}}  {window:>6}  {p50:>8.1f}  {p95:>8.1f}  {verdict}")
    over = sum(1 for r in rows if r[3] > TARGET_MS)
    print(
        f"\n{len(rows) - over} of {len(rows)} endpoint-window pairs meet the target"
        f" (load average {os.getloadavg()[0]:.1f})"
    )


if __name__ == "__main__":
    main()
