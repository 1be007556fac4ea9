"""Redis going away answers 503 (never 500) and ingestion resumes when it is back; a server worker that dies is
replaced."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import urllib.request
from pathlib import Path
from typing import Any

from ingest_helpers import batch, ingest_process, seed_key

from sentinel_local import RedisEngine, answers_ok, process_tree
from sentinel_types import encode


async def test_redis_stopped_is_503_and_recovery_follows(make_stack: Any, tmp_path: Path) -> None:
    engine = RedisEngine(tmp_path / "redis", persistent=True).start()
    try:
        stack = await make_stack(redis_url=engine.url)
        before = await stack.client.post("/v1/events/batch", content=encode(batch(), "json"), headers=stack.headers())
        assert before.status_code == 202

        engine.stop()
        for _ in range(3):
            down = await stack.client.post("/v1/events/batch", content=encode(batch(), "json"), headers=stack.headers())
            assert down.status_code == 503
            assert down.headers["retry-after"] == "1"
            assert down.json()["error"] == "unavailable"
        ready = await stack.client.get("/readyz")
        assert ready.status_code == 503

        engine.restart()
        after = await stack.client.post("/v1/events/batch", content=encode(batch(), "json"), headers=stack.headers())
        assert after.status_code == 202
        assert (await stack.client.get("/readyz")).status_code == 200
    finally:
        engine.stop()


def test_a_server_worker_that_dies_is_replaced(tmp_path: Path, redis_server: RedisEngine) -> None:
    db = tmp_path / "control.db"
    key = asyncio.run(seed_key(db))
    with ingest_process(f"{redis_server.url.rsplit('/', 1)[0]}/8", db) as (url, process):
        assert process.pid is not None
        (first,) = process_tree(process.pid)[1:]
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            replaced = [pid for pid in process_tree(process.pid)[1:] if pid != first]
            if replaced and answers_ok(url + "/healthz"):
                break
            time.sleep(0.2)
        assert replaced, "the dead worker was not replaced"
        assert answers_ok(url + "/healthz"), "the replacement does not answer"
        request = urllib.request.Request(
            url + "/v1/events/batch",
            data=encode(batch(), "json"),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 202
