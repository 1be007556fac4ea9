"""Generators of realistic batches, for tests and benchmarks (deterministic with a seed)."""

from __future__ import annotations

import random
import uuid

from sentinel_analytics.clickhouse_client import create_client
from sentinel_analytics.migrations import migrate
from sentinel_config import ClickHouseSettings
from sentinel_queue import QueuedBatch
from sentinel_types import CaptureOverhead, Consumer, Event, LossCounters, SdkInfo

ROUTES = ("/users/{user_id}", "/users", "/orders/{order_id}", "/orders", "/health", "/search", "/items/{item_id}")
METHODS = ("GET", "GET", "GET", "POST", "PUT", "DELETE")
STATUSES = (200, 200, 200, 200, 201, 204, 301, 400, 401, 404, 404, 422, 429, 500, 502, 503)


def make_event(rng: random.Random, timestamp: int, *, full: bool = False) -> Event:
    """One event; ``full`` fills every optional field (headers, bodies, error, trace id...)."""
    route = rng.choice(ROUTES)
    status = rng.choice(STATUSES)
    event = Event(
        event_id=uuid.UUID(int=rng.getrandbits(128), version=4),
        timestamp=timestamp,
        method=rng.choice(METHODS),
        path=route.replace("{user_id}", str(rng.randint(1, 10_000)))
        .replace("{order_id}", str(rng.randint(1, 10_000)))
        .replace("{item_id}", str(rng.randint(1, 10_000))),
        route=route if rng.random() > 0.02 else None,
        status=status,
        duration_ms=round(rng.lognormvariate(3.0, 1.0), 3),
        ttfb_ms=round(rng.uniform(0.1, 5.0), 3) if rng.random() > 0.1 else None,
        request_size=rng.randint(0, 2_000),
        response_size=rng.randint(0, 20_000),
        client_ip=f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.0",
        user_agent=rng.choice(("python-httpx/0.27", "curl/8.5.0", "Mozilla/5.0 (X11; Linux x86_64)")),
        consumer=Consumer(id=f"consumer-{rng.randint(1, 50)}", name="Acme", group="pro")
        if rng.random() > 0.2
        else None,
        attributes={"region": rng.choice(("eu", "us"))},
    )
    if full:
        event.request_headers = {"content-type": "application/json", "x-request-id": str(uuid.uuid4())}
        event.response_headers = {}
        event.request_body = '{"q": "sentinel \\u00e9\\n"}'
        event.response_body = ""
        event.error = "ValueError" if status >= 500 else None
        event.aborted = rng.random() < 0.5
        event.trace_id = f"{rng.getrandbits(128):032x}"
    return event


def make_batch(
    rng: random.Random,
    *,
    project_id: str = "proj-1",
    tenant_id: str = "tenant-1",
    events: int = 500,
    now_ms: int,
    spread_ms: int = 60_000,
    full: bool = False,
    retention_days: int = 0,
) -> QueuedBatch:
    """A batch of ``events`` events with timestamps in ``[now_ms - spread_ms, now_ms]``."""
    return QueuedBatch(
        project_id=project_id,
        tenant_id=tenant_id,
        batch_id=uuid.UUID(int=rng.getrandbits(128), version=4),
        received_at=now_ms,
        sdk=SdkInfo(name="sentinel-python", version="0.1.0", runtime="CPython 3.11"),
        service=rng.choice(("api", "billing")),
        environment="production",
        sample_rate=1.0,
        dropped=LossCounters(queue_full=rng.randint(0, 3), send_failed=rng.randint(0, 1)),
        overhead=CaptureOverhead(samples=100, mean_us=12.5, p50_us=10.0, p99_us=40.25) if full else None,
        events=[make_event(rng, now_ms - rng.randint(0, spread_ms), full=full) for _ in range(events)],
        retention_days=retention_days,
    )


async def fresh_database(url: str) -> ClickHouseSettings:
    """Settings for a new, migrated database with a unique name on the ClickHouse server at ``url``."""
    settings = ClickHouseSettings(url=url, database=f"test_{uuid.uuid4().hex[:12]}")
    await migrate(settings)
    return settings


async def drop_database(settings: ClickHouseSettings) -> None:
    admin = await create_client(settings, with_database=False)
    try:
        await admin.command(f"DROP DATABASE IF EXISTS `{settings.database}` SYNC")
    finally:
        await admin.close()


def window_around(now_ms: int) -> tuple[int, int]:
    """A window holding ``now_ms`` and the two hours before it, on whole hours, so that the minute and the hour
    rollups cover exactly the same events as the raw table."""
    hour = 3_600_000
    return (now_ms // hour - 2) * hour, (now_ms // hour + 1) * hour
