"""Connector syncs in the worker (``SENTINEL_FLOWS_BACKEND=aws``): ``SyncRequested`` events that an EventBridge
rule delivers to the sync queue are run here by the connectors' ``SyncRunner``, which reports on each job."""

from __future__ import annotations

import asyncio

import redis.asyncio as redis
import structlog

from sentinel_connectors.runtime import open_sync_runner
from sentinel_control import open_control_store
from sentinel_flows import AwsClients, SyncQueueConsumer
from sentinel_worker.settings import Settings

log = structlog.get_logger("sentinel.worker")


async def run_syncs(settings: Settings, client: redis.Redis, stop: asyncio.Event) -> None:
    """Consume the sync queue until ``stop`` is set (syncs in hand are finished first). If it cannot run (the
    control store is unreachable at start-up, ...), it sets ``stop`` so the whole worker drains and exits."""
    try:
        await _consume(settings, client, stop)
    except BaseException:
        stop.set()
        raise


async def _consume(settings: Settings, client: redis.Redis, stop: asyncio.Event) -> None:
    control = open_control_store(settings.control, settings.aws)
    clients = AwsClients(settings.aws)
    try:
        await control.setup()
        async with open_sync_runner(
            control=control,
            client=client,
            partitions=settings.redis.partitions,
            analytics=settings.analytics,
            clickhouse=settings.clickhouse,
            archive=settings.archive,
            aws=settings.aws,
            settings=settings.connectors,
        ) as runner:
            log.info("sync_consumer_started", queue=settings.flows.sync_queue_url)
            await SyncQueueConsumer(clients, settings.flows, runner).run(stop)
    finally:
        await clients.aclose()
        await control.close()
        log.info("sync_consumer_stopped")
