"""The ingest API as a Litestar app."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request

from sentinel_control import KeyResolver, hasher_from, open_control_store
from sentinel_ingest import __version__
from sentinel_ingest.batches.admission import ByteBudget, LoadShedder
from sentinel_ingest.batches.enqueue import BatchQueue, LagMonitor
from sentinel_ingest.batches.routes import BATCH_PATH, ingest_batch
from sentinel_ingest.settings import Settings, get_settings
from sentinel_service import create_service_app, redis_lifespan, redis_ready


def _lifespan(settings: Settings) -> Any:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        store = open_control_store(settings.control, settings.aws)
        await store.setup()
        app.state.control = store
        app.state.resolver = KeyResolver(
            store,
            app.state.hasher,
            ttl_s=settings.control.key_cache_ttl_s,
            negative_ttl_s=settings.control.key_cache_negative_ttl_s,
        )
        app.state.queue = BatchQueue(app.state.redis, settings.redis.partitions, settings.ingest.dedup_ttl_s)
        app.state.lag = LagMonitor(app.state.redis, settings.redis.partitions, settings.ingest.lag_max_age_s)
        tune_gc()
        try:
            yield
        finally:
            await store.close()

    return lifespan


def tune_gc() -> None:
    """Collect garbage far less often: each batch allocates thousands of short-lived objects that reference
    counting frees at once, and default thresholds ran a collection about once per batch (~40% of decode time).
    Objects alive after start-up are frozen out of every collection."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


async def _control_ready(request: Request[Any, Any, Any]) -> None:
    await request.app.state.control.ping()


async def _below_high_water(request: Request[Any, Any, Any]) -> None:
    worst = await request.app.state.lag.worst()
    limit = request.app.state.settings.ingest.high_water_entries
    if worst > limit:
        raise RuntimeError(f"queue backlog {worst} batches is above the high-water mark {limit}")


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the app; tests pass their own settings, production reads ``SENTINEL_*`` once."""
    settings = settings or get_settings()
    hasher = hasher_from(settings.control)  # a missing server secret fails here, at start-up
    app = create_service_app(
        service="ingest",
        version=__version__,
        title="Sentinel ingest API",
        log=settings.log,
        route_handlers=[ingest_batch],
        # Redis first: the queue objects are built on the open client.
        lifespans=[redis_lifespan(settings.redis), _lifespan(settings)],
        readiness={"redis": redis_ready, "control": _control_ready, "queue": _below_high_water},
    )
    app.state.settings = settings
    app.state.hasher = hasher
    app.state.body_budget = ByteBudget(settings.ingest.max_body_bytes_in_flight)
    return app


def create_asgi_app() -> LoadShedder:
    """The app as served: ``create_app()`` behind the load shedder (the server's factory)."""
    settings = get_settings()
    return LoadShedder(create_app(settings), limit=settings.ingest.max_in_flight, path=BATCH_PATH)
