"""Helpers of the ingest tests: batches, events and the stack under test."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import redis.asyncio as redis
from litestar.testing import AsyncTestClient

from sentinel_config import ControlSettings, LogSettings, RedisSettings
from sentinel_control import ControlStore, Project, SecretHasher, SqliteControlStore
from sentinel_control.testing import make_key, make_project, make_tenant
from sentinel_ingest.settings import IngestServerSettings, Settings
from sentinel_local import free_port, http_status
from sentinel_local._process import ManagedProcess, venv_bin
from sentinel_types import Event, EventBatch, SdkInfo

HASH_SECRET = "ingest-test-secret-0123456789-abcdefghijklmn"
REDIS_DB = 3  # other suites share the session's Redis: this one keeps to its own database
PARTITIONS = 4


@dataclass
class Stack:
    client: AsyncTestClient  # type: ignore[type-arg]
    redis: redis.Redis
    store: ControlStore
    hasher: SecretHasher
    project: Project
    key: str
    settings: Settings

    def headers(self, fmt: str = "json", **extra: str) -> dict[str, str]:
        content_type = "application/json" if fmt == "json" else "application/msgpack"
        return {"Authorization": f"Bearer {self.key}", "Content-Type": content_type, **extra}


DAY_MS = 86_400_000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def event(**fields: Any) -> Event:
    base: dict[str, Any] = {
        "event_id": uuid.uuid4(),
        "timestamp": now_ms(),
        "method": "GET",
        "route": "/items/{id}",
        "path": "/items/1",
        "status": 200,
        "duration_ms": 3.5,
    }
    return Event(**{**base, **fields})


def batch(events: int = 3, **fields: Any) -> EventBatch:
    base: dict[str, Any] = {
        "batch_id": uuid.uuid4(),
        "sent_at": now_ms(),
        "sdk": SdkInfo(name="sentinel-python", version="0.1.0"),
        "events": [event() for _ in range(events)],
    }
    return EventBatch(**{**base, **fields})


def as_dict(value: msgspec.Struct) -> dict[str, Any]:
    result: dict[str, Any] = msgspec.to_builtins(value)
    return result


def settings_for(redis_url: str, db_path: Path, **ingest: Any) -> Settings:
    return Settings(
        ingest=IngestServerSettings(**ingest),
        redis=RedisSettings(url=redis_url, partitions=PARTITIONS, socket_timeout_s=1.0),
        control=ControlSettings(sqlite_path=str(db_path), hash_secret=HASH_SECRET, key_cache_ttl_s=0.3),
        log=LogSettings(format="json"),
    )


async def seed_key(db: Path, **project: Any) -> str:
    """A tenant, a project (``project`` sets its fields, such as rate limits) and an ingest key, in SQLite."""
    store = SqliteControlStore(db)
    await store.setup()
    try:
        tenant = await make_tenant(store)
        key, _ = await make_key(store, SecretHasher(HASH_SECRET), await make_project(store, tenant, **project))
        return key
    finally:
        await store.close()


@contextmanager
def ingest_process(redis_url: str, db: Path, **env: str) -> Iterator[tuple[str, ManagedProcess]]:
    """A real ``sentinel-ingest`` process on a free loopback port (``env``: more ``SENTINEL_*`` variables)."""
    port = free_port()
    process = ManagedProcess(
        "ingest",
        [venv_bin("sentinel-ingest") or "sentinel-ingest", "--port", str(port)],
        log_path=db.with_name(f"ingest-{port}.log"),
        env={
            "SENTINEL_REDIS_URL": redis_url,
            "SENTINEL_CONTROL_SQLITE_PATH": str(db),
            "SENTINEL_CONTROL_HASH_SECRET": HASH_SECRET,
            "SENTINEL_LOG_LEVEL": "WARNING",
            **env,
        },
    )
    url = f"http://127.0.0.1:{port}"
    process.start()
    try:
        process.wait_ready(lambda: http_status(url + "/healthz", timeout=1) == 200, 30)
        yield url, process
    finally:
        process.stop()
