"""``SyncRunner``: the ``SyncHandler`` that runs a connector for a sync job and reports on the job.

The same runner serves both modes: the dashboard's ``InProcessSyncDispatcher`` calls it in a background task
(embedded), the worker's ``SyncQueueConsumer`` calls it for each ``SyncRequested`` event from EventBridge (aws).
A request is checked against its job (same project, kind ``sync``, same connector); a job that already ended is
left alone, so a redelivered event has no second effect, and a job still running (its first run died) is run
again, which the connectors make safe.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis.asyncio as redis
import structlog

from sentinel_connectors.archive_replay import replay_archive
from sentinel_connectors.context import ObjectSource, SyncContext, SyncFailed
from sentinel_connectors.jobs import JobReporter
from sentinel_connectors.params import ArchiveReplayParams, ParamsError, parse_params
from sentinel_connectors.requeue import BatchIndex
from sentinel_connectors.s3_access_logs import import_access_logs
from sentinel_connectors.settings import ConnectorSettings
from sentinel_control import ControlStore
from sentinel_flows import SyncRequest

log = structlog.get_logger("sentinel.connectors")


class SyncRunner:
    """Runs ``SyncRequest``s; every outcome, failures included, ends up on the job."""

    def __init__(
        self,
        *,
        control: ControlStore,
        client: redis.Redis,
        partitions: int,
        index: BatchIndex | None,
        archive: ObjectSource,
        buckets: Callable[[str], ObjectSource],
        settings: ConnectorSettings | None = None,
    ) -> None:
        self._control = control
        self._redis = client
        self._partitions = partitions
        self._index = index
        self._archive = archive
        self._buckets = buckets
        self._settings = settings or ConnectorSettings()

    async def __call__(self, request: SyncRequest) -> None:
        bound = log.bind(job_id=request.job_id, project_id=request.project_id, connector=request.connector)
        job = await self._control.find_job(request.job_id)
        if job is None or (job.project_id, job.kind, job.name) != (request.project_id, "sync", request.connector):
            bound.warning("sync_request_without_job")
            return
        if job.finished:
            bound.info("sync_already_ended", status=job.status)
            return
        reporter = JobReporter(self._control, self._redis, job)
        if not await reporter.start():
            return
        try:
            params = parse_params(request.connector, request.params)
        except ParamsError as exc:
            await reporter.fail(f"{exc.field}: {exc.message}")
            return
        project = await self._control.get_project(job.tenant_id, job.project_id)
        if project is None:
            await reporter.fail("the project no longer exists")
            return
        if self._index is None:
            await reporter.fail("connector syncs need the ClickHouse analytics store (SENTINEL_ANALYTICS_BACKEND)")
            return

        latest: dict[str, Any] = {}

        async def progress(fraction: float, result: dict[str, Any]) -> None:
            latest.clear()
            latest.update(result)  # kept even when the report is throttled: a failure shows the last counts
            await reporter.progress(fraction, result)

        context = SyncContext(
            job_id=job.id,
            tenant_id=job.tenant_id,
            project_id=job.project_id,
            retention_days=project.retention_days,
            redis=self._redis,
            partitions=self._partitions,
            index=self._index,
            archive=self._archive,
            buckets=self._buckets,
            settings=self._settings,
            progress=progress,
        )
        bound.info("sync_started")
        try:
            if isinstance(params, ArchiveReplayParams):
                result = await replay_archive(context, params)
            else:
                result = await import_access_logs(context, params)
        except SyncFailed as exc:
            bound.warning("sync_failed", error=str(exc))
            await reporter.fail(str(exc), dict(latest) or reporter.job.result)
            return
        except Exception as exc:
            bound.exception("sync_crashed")
            await reporter.fail(f"{type(exc).__name__}: {exc}", dict(latest) or reporter.job.result)
            return
        await reporter.succeed(result)
        bound.info("sync_succeeded")
