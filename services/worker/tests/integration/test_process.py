"""The ``sentinel-worker`` process: SIGKILL between insert and acknowledgement, recovery by a new process,
health and metrics, graceful SIGTERM."""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from sentinel_analytics.queries import overview
from sentinel_analytics.testing import make_batch, window_around
from sentinel_config import ClickHouseSettings
from sentinel_local import free_port
from sentinel_queue import stream_key
from sentinel_worker.testing import Queue, count_events, wait_for

BIN = Path(sys.executable).parent
NOW = int(time.time() * 1000)
_INSERT = re.compile(rb"INSERT(\+|%20| )+INTO(\+|%20| )+ingest_batches", re.IGNORECASE)


class HoldingProxy:
    """A TCP proxy to ClickHouse that, once ``hold`` is set, swallows the answers to landing-table inserts: the
    insert is committed, but the worker never learns it was."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.hold = False
        self.held = asyncio.Event()
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        inserting = False

        async def upstream() -> None:
            nonlocal inserting
            while data := await reader.read(65536):
                inserting = inserting or bool(_INSERT.search(data))
                up_writer.write(data)
                await up_writer.drain()

        async def downstream() -> None:
            while data := await up_reader.read(65536):
                if self.hold and inserting:
                    self.held.set()
                    continue
                writer.write(data)
                await writer.drain()

        await asyncio.gather(upstream(), downstream(), return_exceptions=True)
        writer.close()
        up_writer.close()


def start_worker(queue: Queue, clickhouse_url: str, ch: ClickHouseSettings, tmp_path: Path, port: int) -> Any:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")},
        "SENTINEL_REDIS_URL": queue.url,
        "SENTINEL_REDIS_PARTITIONS": "4",
        "SENTINEL_CLICKHOUSE_URL": clickhouse_url,
        "SENTINEL_CLICKHOUSE_DATABASE": ch.database,
        "SENTINEL_ARCHIVE_LOCAL_DIR": str(tmp_path / "archive"),
        "SENTINEL_WORKER_PORT": str(port),
        "SENTINEL_WORKER_MIGRATE_ON_START": "false",
        "SENTINEL_WORKER_FLUSH_INTERVAL_S": "0.05",
        "SENTINEL_WORKER_CLAIM_IDLE_S": "1",
        "SENTINEL_WORKER_CLAIM_INTERVAL_S": "0.2",
        "SENTINEL_LOG_FORMAT": "json",
    }
    return subprocess.Popen([str(BIN / "sentinel-worker")], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


async def metric(port: int, name: str) -> float:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{port}/metrics")
    for line in response.text.splitlines():
        if line.startswith(f"sentinel_worker_{name} "):
            return float(line.split()[1])
    raise AssertionError(f"metric {name} missing")


async def _equals(value: Any, expected: Any) -> bool:
    return (await value) == expected


async def test_kill_between_insert_and_ack_then_a_new_worker_loses_nothing_and_counts_once(
    queue: Queue, ch_settings: ClickHouseSettings, ch_client: Any, clickhouse_server: Any, tmp_path: Path
) -> None:
    proxy = HoldingProxy(clickhouse_server.port)
    await proxy.start()
    proxy.hold = True
    rng = random.Random(11)
    sent = [make_batch(rng, project_id="p-kill", events=40, now_ms=NOW) for _ in range(25)]
    doomed = start_worker(queue, f"http://127.0.0.1:{proxy.port}", ch_settings, tmp_path, free_port())
    rescuer = None
    try:
        await queue.enqueue(sent)
        await asyncio.wait_for(proxy.held.wait(), timeout=60)
        await wait_for(lambda: count_events(ch_client, "p-kill"), what="the insert to be committed")
        committed = await count_events(ch_client, "p-kill")
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=30)
        assert await queue.pending() > 0  # it died holding entries whose rows are already stored

        port = free_port()
        rescuer = start_worker(queue, clickhouse_server.url, ch_settings, tmp_path, port)
        await wait_for(lambda: _equals(queue.pending(), 0), timeout=90, what="the new worker to settle everything")
        await wait_for(lambda: _equals(count_events(ch_client, "p-kill"), 1000), what="every event")
        assert committed > 0
        assert await metric(port, "groups_replayed_total") >= 1
        assert await metric(port, "entries_claimed_total") >= 1
        assert await _healthy(port)

        window = window_around(NOW)
        raw = await overview(ch_client, "p-kill", *window)
        minute = await overview(ch_client, "p-kill", *window, source="requests_1m")
        hour = await overview(ch_client, "p-kill", *window, source="requests_1h")
        assert raw.requests == minute.requests == hour.requests == 1000
        assert raw.errors_5xx == minute.errors_5xx == hour.errors_5xx
        result = await ch_client.query("SELECT count(), uniqExact(batch_id) FROM batches WHERE project_id = 'p-kill'")
        assert result.result_rows == [(25, 25)]

        rescuer.send_signal(signal.SIGTERM)
        output = rescuer.communicate(timeout=60)[0].decode()
        assert rescuer.returncode == 0, output
        assert '"consumer_stopped"' in output
    finally:
        for process in (doomed, rescuer):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
        await proxy.stop()


async def test_sigterm_finishes_writes_and_acknowledges_before_exit(
    queue: Queue, ch_settings: ClickHouseSettings, ch_client: Any, clickhouse_server: Any, tmp_path: Path
) -> None:
    rng = random.Random(12)
    port = free_port()
    worker = start_worker(queue, clickhouse_server.url, ch_settings, tmp_path, port)
    try:
        await wait_for(lambda: _healthy(port), what="the worker's health endpoint")
        await queue.enqueue([make_batch(rng, project_id="p-term", events=100, now_ms=NOW) for _ in range(50)])
        await wait_for(lambda: count_events(ch_client, "p-term"), what="the first rows")
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=60)[0].decode()
        assert worker.returncode == 0, output
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    # Whatever it read was written and acknowledged; whatever it did not read is still there, undelivered.
    assert await queue.pending() == 0
    stored = await count_events(ch_client, "p-term")
    undelivered = 0
    for partition in range(4):
        stream = stream_key(partition)
        [group] = await queue.client.xinfo_groups(stream)
        last = group["last-delivered-id"].decode()
        undelivered += len(await queue.client.xrange(stream, min=f"({last}"))
    assert stored > 0
    assert stored + undelivered * 100 == 5000


async def _healthy(port: int) -> bool:
    try:
        async with httpx.AsyncClient() as client:
            return (await client.get(f"http://127.0.0.1:{port}/healthz", timeout=1)).status_code == 200
    except httpx.HTTPError:
        return False
