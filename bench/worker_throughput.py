"""Worker throughput and end-to-end lag against the local ClickHouse engine.

1. Drain: millions of events preloaded in Redis as 500-event QueuedBatch entries; one ``sentinel-worker``
   process drains them into ClickHouse (raw table, batches, rollups) and the local archive. Reports events/s of
   the drain and the CPU seconds the worker process and the ClickHouse process spent per million events (the
   worker's own capacity is events / its CPU time: what one process sustains with a core to itself).
2. Lag: a producer appends batches at a steady 20k events/s (stamping ``received_at`` as the ingest API
   does); a poller sees when each batch becomes queryable in ClickHouse. Reports accepted -> queryable p50/p99.

Engines are started here on free ports; everything shares this machine's cores (ClickHouse included).

    uv run python bench/worker_throughput.py [--events 2000000] [--lag-seconds 20] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import msgspec
import redis.asyncio as aioredis
from _results import record

from sentinel_analytics import create_client
from sentinel_analytics.testing import fresh_database, make_batch
from sentinel_config import ArchiveSettings, ClickHouseSettings, RedisSettings
from sentinel_local import ClickHouseEngine, RedisEngine, free_port
from sentinel_queue import QueuedBatch, encode_entry, partition_for, stream_key
from sentinel_worker.settings import Settings, WorkerProcessSettings

EVENTS_PER_BATCH = 500
PARTITIONS = 8
BIN = Path(sys.executable).parent
TICKS = os.sysconf("SC_CLK_TCK")
EXTRA_ENV: dict[str, str] = {}


def templates(count: int) -> list[QueuedBatch]:
    rng = random.Random(3)
    now = int(time.time() * 1000)
    projects = [f"bench-{i}" for i in range(16)]
    return [
        make_batch(rng, project_id=rng.choice(projects), events=EVENTS_PER_BATCH, now_ms=now, spread_ms=5_000)
        for _ in range(count)
    ]


def fresh(template: QueuedBatch, received_at: int) -> bytes:
    return encode_entry(msgspec.structs.replace(template, batch_id=uuid.uuid4(), received_at=received_at))


async def preload(client: Any, batches: list[QueuedBatch], entries: int) -> None:
    now = int(time.time() * 1000)
    pipe = client.pipeline(transaction=False)
    for i in range(entries):
        template = batches[i % len(batches)]
        pipe.xadd(stream_key(partition_for(template.project_id, PARTITIONS)), {b"d": fresh(template, now)})
        if i % 200 == 199:
            await pipe.execute()
    await pipe.execute()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def worker_env(redis_url: str, ch: ClickHouseSettings, archive: Path, port: int) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")},
        "SENTINEL_REDIS_URL": redis_url,
        "SENTINEL_REDIS_PARTITIONS": str(PARTITIONS),
        "SENTINEL_CLICKHOUSE_URL": ch.url,
        "SENTINEL_CLICKHOUSE_DATABASE": ch.database,
        "SENTINEL_ARCHIVE_LOCAL_DIR": str(archive),
        "SENTINEL_WORKER_PORT": str(port),
        "SENTINEL_WORKER_MIGRATE_ON_START": "false",
        "SENTINEL_LOG_LEVEL": "WARNING",
        **EXTRA_ENV,
    }


async def stored_events(ch: Any) -> int:
    result = await ch.query("SELECT sum(events) FROM batches")
    return int(result.result_rows[0][0] or 0)


async def drain(
    redis_url: str, ch_settings: ClickHouseSettings, ch_pid: int, work: Path, events: int
) -> dict[str, float]:
    client = aioredis.Redis.from_url(redis_url)
    ch = await create_client(ch_settings)
    entries = events // EVENTS_PER_BATCH
    print(f"preloading {entries} batches ({entries * EVENTS_PER_BATCH:,} events) ...", flush=True)
    await preload(client, templates(64), entries)
    worker = await asyncio.create_subprocess_exec(
        str(BIN / "sentinel-worker"), env=worker_env(redis_url, ch_settings, work / "archive", free_port())
    )
    try:
        worker_cpu0, ch_cpu0 = cpu_seconds(worker.pid), cpu_seconds(ch_pid)
        total = entries * EVENTS_PER_BATCH
        first = 0
        while (done := await stored_events(ch)) < total:
            if worker.returncode is not None:
                raise SystemExit(f"the worker exited with status {worker.returncode}")
            if not first and done:  # time from the first insert: process start-up is not throughput
                first, started = done, time.monotonic()
            await asyncio.sleep(0.05)
        elapsed = time.monotonic() - started
        worker_cpu, ch_cpu = cpu_seconds(worker.pid) - worker_cpu0, cpu_seconds(ch_pid) - ch_cpu0
    finally:
        worker.terminate()
        await worker.wait()
    await client.aclose()
    await ch.close()
    return {
        "events": done,
        "seconds": elapsed,
        "rate": (done - first) / elapsed,
        "worker_cpu_per_m": worker_cpu / done * 1e6,
        "ch_cpu_per_m": ch_cpu / done * 1e6,
        "worker_capacity": done / worker_cpu,
    }


async def lag(redis_url: str, ch_settings: ClickHouseSettings, work: Path, seconds: float, rate: int) -> list[float]:
    client = aioredis.Redis.from_url(redis_url)
    ch = await create_client(ch_settings)
    batches = templates(16)
    worker = await asyncio.create_subprocess_exec(
        str(BIN / "sentinel-worker"), env=worker_env(redis_url, ch_settings, work / "archive2", free_port())
    )
    sent: dict[str, int] = {}
    seen: dict[str, float] = {}
    stop = asyncio.Event()

    async def produce() -> None:
        interval = EVENTS_PER_BATCH / rate
        next_at = time.monotonic()
        i = 0
        while not stop.is_set():
            template = batches[i % len(batches)]
            batch_id = uuid.uuid4()
            received_at = time.time_ns() // 1_000_000
            blob = encode_entry(msgspec.structs.replace(template, batch_id=batch_id, received_at=received_at))
            await client.xadd(stream_key(partition_for(template.project_id, PARTITIONS)), {b"d": blob})
            sent[str(batch_id)] = received_at
            i += 1
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def poll() -> None:
        since = time.time() - 5
        while not stop.is_set() or len(seen) < len(sent):
            result = await ch.query(
                "SELECT toString(batch_id) FROM batches WHERE received_at >= {since:DateTime64(3)}",
                parameters={"since": since},
            )
            now_ms = time.time_ns() / 1_000_000
            for (batch_id,) in result.result_rows:
                if batch_id not in seen and batch_id in sent:
                    seen[batch_id] = now_ms - sent[batch_id]
            if stop.is_set() and time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)

    await asyncio.sleep(3)  # let the worker start and create its group
    deadline = time.monotonic() + seconds + 30
    tasks = [asyncio.create_task(produce()), asyncio.create_task(poll())]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks)
    worker.terminate()
    await worker.wait()
    await client.aclose()
    await ch.close()
    missing = len(sent) - len(seen)
    if missing:
        print(f"warning: {missing} batches not seen in ClickHouse", flush=True)
    return sorted(seen.values())


def profile_drain(redis_url: str, ch_settings: ClickHouseSettings, work: Path, events: int) -> None:
    """Drain in this process under cProfile and print where the worker's time goes."""
    from sentinel_worker.testing import running_consumer

    async def main() -> None:
        client = aioredis.Redis.from_url(redis_url)
        await client.flushdb()
        await preload(client, templates(64), events // EVENTS_PER_BATCH)
        ch = await create_client(ch_settings)
        settings = Settings(
            worker=WorkerProcessSettings(port=0),
            redis=RedisSettings(url=redis_url, partitions=PARTITIONS),
            clickhouse=ch_settings,
            archive=ArchiveSettings(local_dir=str(work / "archive3")),
        )
        before = await stored_events(ch)
        profiler = cProfile.Profile()
        profiler.enable()
        async with running_consumer(settings):
            while True:
                if await stored_events(ch) - before >= events:
                    break
                await asyncio.sleep(0.1)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumtime").print_stats(
            "sentinel_|clickhouse_connect.driver.asyncclient|redis.asyncio.client", 25
        )
        await client.aclose()
        await ch.close()

    asyncio.run(main())


def percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2_000_000, help="events preloaded for the drain")
    parser.add_argument("--lag-seconds", type=float, default=20.0, help="duration of the steady-rate run")
    parser.add_argument("--rate", type=int, default=20_000, help="events/s of the steady-rate run")
    parser.add_argument("--profile", action="store_true", help="also drain in-process under cProfile")
    parser.add_argument(
        "--env", action="append", default=[], help="extra worker setting, e.g. SENTINEL_WORKER_MAX_INFLIGHT=3"
    )
    args = parser.parse_args()
    EXTRA_ENV.update(item.split("=", 1) for item in args.env)
    with tempfile.TemporaryDirectory(prefix="sentinel-bench-worker-") as tmp:
        work = Path(tmp)
        redis_engine = RedisEngine(work / "redis").start()
        clickhouse = ClickHouseEngine(work / "clickhouse").start()
        try:
            assert clickhouse.process is not None
            ch_settings = asyncio.run(fresh_database(clickhouse.url))
            drained = asyncio.run(drain(redis_engine.url, ch_settings, clickhouse.process.pid, work, args.events))
            lags = asyncio.run(lag(redis_engine.url, ch_settings, work, args.lag_seconds, args.rate))
            if args.profile:
                profile_drain(redis_engine.url, ch_settings, work, min(args.events, 500_000))
        finally:
            clickhouse.stop()
            redis_engine.stop()
    cores = len(os.sched_getaffinity(0))
    rows = [
        ("drain: events/s into ClickHouse (1 worker process)", f"{drained['rate']:,.0f}", ">= 300,000"),
        ("drain: events drained", f"{drained['events']:,.0f} in {drained['seconds']:.1f} s", ""),
        ("worker CPU s per 1M events", f"{drained['worker_cpu_per_m']:.2f}", ""),
        ("worker capacity, events per CPU-second", f"{drained['worker_capacity']:,.0f}", ">= 300,000"),
        ("ClickHouse CPU s per 1M events", f"{drained['ch_cpu_per_m']:.2f}", ""),
        (
            f"drain ceiling of this machine ({cores} cores / worker + ClickHouse CPU)",
            f"{cores * 1e6 / (drained['worker_cpu_per_m'] + drained['ch_cpu_per_m']):,.0f}",
            "",
        ),
        (f"lag at {args.rate:,} events/s: accepted -> queryable p50", f"{statistics.median(lags):.0f} ms", ""),
        (
            f"lag at {args.rate:,} events/s: accepted -> queryable p99",
            f"{percentile(lags, 0.99):.0f} ms",
            "<= 1,000 ms",
        ),
        ("lag: batches measured", f"{len(lags):,}", ""),
    ]
    ceiling = cores * 1e6 / (drained["worker_cpu_per_m"] + drained["ch_cpu_per_m"])
    record(
        "Worker",
        "drain into ClickHouse, one worker process",
        drained["rate"],
        "events/s",
        target=(">=", 300_000.0),
        note=f"this machine's ceiling {ceiling:,.0f} (worker + ClickHouse CPU on {cores} cores)",
    )
    record(
        "Worker",
        "worker capacity (events per worker CPU-second)",
        drained["worker_capacity"],
        "events/s",
        target=(">=", 300_000.0),
    )
    record(
        "Worker",
        f"lag accepted -> queryable at {args.rate:,} events/s, p99",
        percentile(lags, 0.99),
        "ms",
        target=("<=", 1_000.0),
        note=f"p50 {statistics.median(lags):.0f} ms",
    )
    width = max(len(r[0]) for r in rows)
    print(f"\n{'measure':<{width}}  {'value':>24}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>24}  {target}")


if __name__ == "__main__":
    main()
