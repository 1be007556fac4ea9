"""Sentinel's sync connectors and the runner that executes them for sync jobs.

``archive-replay`` puts a project's archived batches of a time range back through the queue (restoring the store
after a loss, storing nothing twice); ``s3-access-logs`` imports ALB access logs or NDJSON request logs from an S3
prefix as events. ``SyncRunner`` is the ``sentinel_flows.SyncHandler`` both modes call: in-process in the
dashboard, or in the worker for ``SyncRequested`` events from EventBridge. ``announce`` and ``JobReporter``
publish job changes on the SSE ``jobs`` topic from any process.
"""

from sentinel_connectors.context import ObjectSource, SyncContext, SyncFailed
from sentinel_connectors.jobs import JobReporter, announce
from sentinel_connectors.params import (
    CONNECTOR_NAMES,
    ArchiveReplayParams,
    ConnectorParams,
    ParamsError,
    S3AccessLogsParams,
    parse_params,
)
from sentinel_connectors.requeue import BatchIndex, ClickHouseBatchIndex, Requeuer
from sentinel_connectors.runner import SyncRunner
from sentinel_connectors.settings import ConnectorSettings

__all__ = [
    "CONNECTOR_NAMES",
    "ArchiveReplayParams",
    "BatchIndex",
    "ClickHouseBatchIndex",
    "ConnectorParams",
    "ConnectorSettings",
    "JobReporter",
    "ObjectSource",
    "ParamsError",
    "Requeuer",
    "S3AccessLogsParams",
    "SyncContext",
    "SyncFailed",
    "SyncRunner",
    "announce",
    "parse_params",
]
