"""Sync triggers: a ``SyncRequested`` event for a connector sync, on EventBridge (aws) or in-process (local).

The orchestration API calls ``put_sync_requested``; the worker side receives a ``SyncRequest`` in a
``SyncHandler`` (the connectors live elsewhere). On AWS the event goes to the bus with ``source`` =
``sentinel.orchestration`` and ``detail-type`` = ``SyncRequested``; a rule (``SYNC_EVENT_PATTERN``) delivers it to
an SQS queue that ``SyncQueueConsumer`` reads. Locally ``InProcessSyncDispatcher`` calls the handler directly.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, get_args

import msgspec
import structlog

from sentinel_flows._sqs import QueueConsumer
from sentinel_flows.aws import AwsClients
from sentinel_flows.model import FlowError
from sentinel_flows.settings import FlowSettings

log = structlog.get_logger("sentinel.flows")

SOURCE = "sentinel.orchestration"
DETAIL_TYPE = "SyncRequested"
SYNC_EVENT_PATTERN: dict[str, list[str]] = {"source": [SOURCE], "detail-type": [DETAIL_TYPE]}
"""The EventBridge event pattern of the rule that routes sync requests to the sync queue."""

Connector = Literal["archive-replay", "s3-access-logs"]
CONNECTORS: tuple[str, ...] = get_args(Connector)


class SyncRequest(msgspec.Struct, kw_only=True, frozen=True):
    """A request to run one connector sync for a project: the event's ``detail``."""

    job_id: str
    """The orchestration job this sync reports to."""
    project_id: str
    connector: Connector
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    """Connector parameters as the API received them (time range, S3 prefix, ...)."""
    requested_at: datetime


SyncHandler = Callable[[SyncRequest], Awaitable[None]]
"""Runs one sync. Raising means "try again later" on AWS (the message comes back); report failures on the job."""


class SyncTrigger(Protocol):
    """What the trigger-sync route calls: ``EventBridgePublisher`` or ``InProcessSyncDispatcher``."""

    async def put_sync_requested(self, job_id: str, project_id: str, connector: str, params: Mapping[str, Any]) -> str:
        """Request the sync; return the event's id."""
        ...


class SyncPublishError(FlowError):
    """EventBridge did not accept the event."""


def sync_request(job_id: str, project_id: str, connector: str, params: Mapping[str, Any]) -> SyncRequest:
    """Build and check a ``SyncRequest``; raise ``ValueError`` naming the problem (unknown connector, ...).

    The request goes through JSON, so an in-process handler sees exactly what one behind EventBridge would.
    """
    if connector not in CONNECTORS:
        raise ValueError(f"connector {connector!r} is not one of {', '.join(CONNECTORS)}")
    raw = {
        "job_id": job_id,
        "project_id": project_id,
        "connector": connector,
        "params": dict(params),
        "requested_at": datetime.now(UTC),
    }
    try:
        return msgspec.json.decode(msgspec.json.encode(raw), type=SyncRequest)
    except (TypeError, msgspec.EncodeError, msgspec.ValidationError) as exc:
        raise ValueError(f"invalid sync request: {exc}") from None


class EventBridgePublisher:
    """Publishes ``SyncRequested`` events on ``settings.event_bus_name``."""

    def __init__(self, clients: AwsClients, settings: FlowSettings) -> None:
        self._clients = clients
        self._bus = settings.event_bus_name

    async def put_sync_requested(self, job_id: str, project_id: str, connector: str, params: Mapping[str, Any]) -> str:
        """Put the event; return its EventBridge id. Raise ``SyncPublishError`` if the bus rejected it."""
        request = sync_request(job_id, project_id, connector, params)
        events = await self._clients.events()
        answer = await events.put_events(
            Entries=[
                {
                    "Source": SOURCE,
                    "DetailType": DETAIL_TYPE,
                    "Detail": msgspec.json.encode(request).decode(),
                    "EventBusName": self._bus,
                }
            ]
        )
        entry = answer["Entries"][0]
        if answer.get("FailedEntryCount") or "EventId" not in entry:
            raise SyncPublishError(
                f"EventBridge rejected the event: {entry.get('ErrorCode')} {entry.get('ErrorMessage')}"
            )
        return entry["EventId"]


class _Envelope(msgspec.Struct, frozen=True):
    source: str
    detail_type: str = msgspec.field(name="detail-type")
    detail: msgspec.Raw = msgspec.Raw(b"null")
    id: str = ""


class SyncQueueConsumer(QueueConsumer):
    """Reads ``SyncRequested`` events (as an EventBridge rule's SQS target delivers them) and runs ``handler``
    (``run(stop)`` in the worker process, or ``poll_once()``)."""

    def __init__(self, clients: AwsClients, settings: FlowSettings, handler: SyncHandler) -> None:
        super().__init__(clients, settings, settings.sync_queue_url, what="syncs")
        self._handler = handler

    async def handle(self, body: str) -> bool:
        """Run one event's sync; True when the message can be deleted (malformed events are dropped and logged)."""
        try:
            envelope = msgspec.json.decode(body, type=_Envelope)
            if (envelope.source, envelope.detail_type) != (SOURCE, DETAIL_TYPE):
                log.warning("sync_event_ignored", source=envelope.source, detail_type=envelope.detail_type)
                return True
            request = msgspec.json.decode(envelope.detail, type=SyncRequest)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.error("sync_event_invalid", error=str(exc), body=body[:500])
            return True
        await self._handler(request)
        return True


class InProcessSyncDispatcher:
    """The embedded ``SyncTrigger``: runs ``handler`` in a background task of this process (no retries)."""

    def __init__(self, handler: SyncHandler) -> None:
        self._handler = handler
        self._running: set[asyncio.Task[None]] = set()

    async def put_sync_requested(self, job_id: str, project_id: str, connector: str, params: Mapping[str, Any]) -> str:
        """Start the sync in the background; return an event id."""
        request = sync_request(job_id, project_id, connector, params)
        event_id = str(uuid.uuid4())
        task = asyncio.create_task(self._run(request, event_id), name=f"sync-{event_id}")
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return event_id

    async def _run(self, request: SyncRequest, event_id: str) -> None:
        try:
            await self._handler(request)
        except Exception:
            log.exception("sync_failed", job_id=request.job_id, connector=request.connector, event_id=event_id)

    async def join(self) -> None:
        """Wait for every sync started so far to end."""
        while self._running:
            await asyncio.gather(*self._running)

    async def aclose(self) -> None:
        """Cancel the syncs still running."""
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
