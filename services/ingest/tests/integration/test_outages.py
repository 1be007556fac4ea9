"""Redis going away answers 503 (never 500) and ingestion resumes when it is back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ingest_helpers import batch

from sentinel_local import RedisEngine
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
