"""SyncRequested on EventBridge: a rule with an SQS target delivers the event to the worker's consumer."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from sentinel_flows import (
    DETAIL_TYPE,
    SOURCE,
    EventBridgePublisher,
    FlowSettings,
    SyncQueueConsumer,
    SyncRequest,
    ensure_sync_route,
)

DEADLINE_S = 60.0


async def receive_until(consumer: SyncQueueConsumer, received: list[Any], count: int) -> None:
    async with asyncio.timeout(DEADLINE_S):
        while len(received) < count:
            await consumer.poll_once()


class TestSyncOnEventBridge:
    async def test_published_event_reaches_the_queue_with_its_detail(
        self, clients: Any, flow_settings: FlowSettings
    ) -> None:
        await ensure_sync_route(clients, flow_settings)
        publisher = EventBridgePublisher(clients, flow_settings)

        event_id = await publisher.put_sync_requested(
            "job-9", "proj-1", "archive-replay", {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}
        )

        sqs = await clients.sqs()
        async with asyncio.timeout(DEADLINE_S):
            messages: list[Any] = []
            while not messages:
                answer = await sqs.receive_message(QueueUrl=flow_settings.sync_queue_url, WaitTimeSeconds=1)
                messages = answer.get("Messages", [])
        event = json.loads(messages[0]["Body"])
        assert (event["source"], event["detail-type"], event["id"]) == (SOURCE, DETAIL_TYPE, event_id)
        assert event["detail"]["job_id"] == "job-9"
        assert event["detail"]["project_id"] == "proj-1"
        assert event["detail"]["connector"] == "archive-replay"
        assert event["detail"]["params"] == {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}
        assert event["detail"]["requested_at"]

    async def test_consumer_hands_the_request_to_the_handler_and_deletes_it(
        self, clients: Any, flow_settings: FlowSettings, queue_depth: Any
    ) -> None:
        await ensure_sync_route(clients, flow_settings)
        received: list[SyncRequest] = []

        async def handler(request: SyncRequest) -> None:
            received.append(request)

        consumer = SyncQueueConsumer(clients, flow_settings, handler)
        await EventBridgePublisher(clients, flow_settings).put_sync_requested(
            "job-10", "proj-2", "s3-access-logs", {"bucket": "logs", "prefix": "alb/"}
        )
        await receive_until(consumer, received, 1)

        [request] = received
        assert (request.job_id, request.project_id, request.connector) == ("job-10", "proj-2", "s3-access-logs")
        assert request.params == {"bucket": "logs", "prefix": "alb/"}
        assert await queue_depth(flow_settings.sync_queue_url) == 0

    async def test_a_failing_sync_comes_back_for_another_try(
        self, clients: Any, flow_settings: FlowSettings, queue_depth: Any
    ) -> None:
        await ensure_sync_route(clients, flow_settings)
        attempts: list[str] = []

        async def handler(request: SyncRequest) -> None:
            attempts.append(request.job_id)
            if len(attempts) == 1:
                raise RuntimeError("the archive is not reachable")

        consumer = SyncQueueConsumer(clients, flow_settings, handler)
        await EventBridgePublisher(clients, flow_settings).put_sync_requested("job-11", "p", "archive-replay", {})
        await receive_until(consumer, attempts, 1)
        assert await queue_depth(flow_settings.sync_queue_url) == 1

        await receive_until(consumer, attempts, 2)
        assert attempts == ["job-11", "job-11"]
        assert await queue_depth(flow_settings.sync_queue_url) == 0

    async def test_events_of_other_sources_and_malformed_messages_are_dropped(
        self, clients: Any, flow_settings: FlowSettings, queue_depth: Any
    ) -> None:
        received: list[SyncRequest] = []

        async def handler(request: SyncRequest) -> None:
            received.append(request)

        sqs = await clients.sqs()
        other = {"source": "aws.s3", "detail-type": "Object Created", "detail": {}}
        bad_detail = {"source": SOURCE, "detail-type": DETAIL_TYPE, "detail": {"job_id": "j", "connector": "ftp"}}
        for body in (json.dumps(other), json.dumps(bad_detail), "not json"):
            await sqs.send_message(QueueUrl=flow_settings.sync_queue_url, MessageBody=body)

        consumer = SyncQueueConsumer(clients, flow_settings, handler)
        async with asyncio.timeout(DEADLINE_S):
            while await queue_depth(flow_settings.sync_queue_url):
                await consumer.poll_once()
        assert received == []

    async def test_run_stops_when_asked(self, clients: Any, flow_settings: FlowSettings) -> None:
        received: list[SyncRequest] = []
        arrived = asyncio.Event()

        async def handler(request: SyncRequest) -> None:
            received.append(request)
            arrived.set()

        await ensure_sync_route(clients, flow_settings)
        stop = asyncio.Event()
        running = asyncio.create_task(SyncQueueConsumer(clients, flow_settings, handler).run(stop))
        await EventBridgePublisher(clients, flow_settings).put_sync_requested("job-12", "p", "archive-replay", {})
        await asyncio.wait_for(arrived.wait(), timeout=DEADLINE_S)
        stop.set()
        await asyncio.wait_for(running, timeout=DEADLINE_S)
        assert [request.job_id for request in received] == ["job-12"]

    async def test_unknown_connector_is_refused_before_publishing(
        self, clients: Any, flow_settings: FlowSettings
    ) -> None:
        with pytest.raises(ValueError, match="connector"):
            await EventBridgePublisher(clients, flow_settings).put_sync_requested("j", "p", "ftp", {})
