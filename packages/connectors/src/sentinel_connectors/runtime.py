"""``open_sync_runner``: a ``SyncRunner`` with the clients of one process (the dashboard's, or the worker's)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import msgspec
import redis.asyncio as redis

from sentinel_config import AnalyticsSettings, ArchiveSettings, AwsSettings, ClickHouseSettings
from sentinel_connectors.context import ObjectSource
from sentinel_connectors.requeue import ClickHouseBatchIndex
from sentinel_connectors.runner import SyncRunner
from sentinel_connectors.settings import ConnectorSettings
from sentinel_control import ControlStore
from sentinel_storage import ObjectStore, S3ObjectStore, open_object_store


class BucketSources:
    """One ``S3ObjectStore`` per bucket an import reads, with the process's AWS credentials and the archive's S3
    endpoint (empty: AWS), closed together."""

    def __init__(self, archive: ArchiveSettings, aws: AwsSettings) -> None:
        self._archive = archive
        self._aws = aws
        self._stores: dict[str, S3ObjectStore] = {}

    def __call__(self, bucket: str) -> ObjectSource:
        if bucket not in self._stores:
            settings = msgspec.structs.replace(self._archive, backend="s3", bucket=bucket)
            self._stores[bucket] = S3ObjectStore(settings, self._aws)
        return self._stores[bucket]

    async def close(self) -> None:
        for store in self._stores.values():
            await store.close()
        self._stores.clear()


@asynccontextmanager
async def open_sync_runner(
    *,
    control: ControlStore,
    client: redis.Redis,
    partitions: int,
    analytics: AnalyticsSettings,
    clickhouse: ClickHouseSettings,
    archive: ArchiveSettings,
    aws: AwsSettings,
    settings: ConnectorSettings | None = None,
    archive_store: ObjectStore | None = None,
) -> AsyncIterator[SyncRunner]:
    """The runner over this process's control store and Redis, with its own ClickHouse client (when the store is
    ClickHouse, opened on first use), archive and bucket readers; they close when the block ends."""
    index = ClickHouseBatchIndex(clickhouse) if analytics.backend == "clickhouse" else None
    store = archive_store or open_object_store(archive, aws)
    buckets = BucketSources(archive, aws)
    try:
        yield SyncRunner(
            control=control,
            client=client,
            partitions=partitions,
            index=index,
            archive=store,
            buckets=buckets,
            settings=settings,
        )
    finally:
        await buckets.close()
        if archive_store is None:
            await store.close()
        if index is not None:
            await index.close()
