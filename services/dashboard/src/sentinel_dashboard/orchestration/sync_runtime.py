"""The dashboard's sync trigger on app state: in-process (embedded) or EventBridge (aws)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from litestar import Litestar

from sentinel_connectors.runtime import open_sync_runner
from sentinel_dashboard.settings import Settings
from sentinel_flows import AwsClients, EventBridgePublisher, InProcessSyncDispatcher


def sync_lifespan(settings: Settings) -> Any:
    """``app.state.sync_trigger``: with the local backend an ``InProcessSyncDispatcher`` running the connectors in
    this process (syncs still running at shutdown are cancelled; their jobs stay ``running`` until triggered
    again), with the aws backend an ``EventBridgePublisher`` (the worker runs them)."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if settings.flows.backend == "aws":
                clients = AwsClients(settings.aws)
                stack.push_async_callback(clients.aclose)
                app.state.sync_trigger = EventBridgePublisher(clients, settings.flows)
            else:
                runner = await stack.enter_async_context(
                    open_sync_runner(
                        control=app.state.control,
                        client=app.state.redis,
                        partitions=settings.redis.partitions,
                        analytics=settings.analytics,
                        clickhouse=settings.clickhouse,
                        archive=settings.archive,
                        aws=settings.aws,
                        settings=settings.connectors,
                    )
                )
                dispatcher = InProcessSyncDispatcher(runner)
                stack.push_async_callback(dispatcher.aclose)
                app.state.sync_trigger = dispatcher
            yield

    return lifespan
