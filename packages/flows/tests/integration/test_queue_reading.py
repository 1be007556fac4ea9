"""How the worker side reads its SQS queues: concurrent handlers, messages kept hidden while handled."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from sentinel_flows import DETAIL_TYPE, SOURCE, FlowSettings, SyncQueueConsumer, SyncRequest

DEADLINE_S = 60.0


async def send_event(clients: Any, settings: FlowSettings, job_id: str) -> None:
    detail = {
        "job_id": job_id,
        "project_id": "p",
        "connector": "archive-replay",
        "params": {},
        "requested_at": datetime.now(UTC).isoformat(),
    }
    body = {"version": "0", "id": job_id, "source": SOURCE, "detail-type": DETAIL_TYPE, "detail": detail}
    sqs = await clients.sqs()
    await sqs.send_message(QueueUrl=settings.sync_queue_url, MessageBody=json.dumps(body))


async def test_a_slow_handler_does_not_hold_up_the_next_message(
    clients: Any, flow_settings: FlowSettings, background: Any
) -> None:
    slow_started, release_slow, fast_done = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def handler(request: SyncRequest) -> None:
        if request.job_id == "slow":
            slow_started.set()
            await release_slow.wait()
        else:
            fast_done.set()

    stop = asyncio.Event()
    background(SyncQueueConsumer(clients, flow_settings, handler).run(stop))
    await send_event(clients, flow_settings, "slow")
    await asyncio.wait_for(slow_started.wait(), DEADLINE_S)
    await send_event(clients, flow_settings, "fast")

    await asyncio.wait_for(fast_done.wait(), DEADLINE_S)
    assert not release_slow.is_set()
    release_slow.set()


async def test_a_message_stays_hidden_while_its_handler_runs(
    clients: Any, flow_settings: FlowSettings, background: Any, queue_depth: Any
) -> None:
    calls: list[str] = []
    started, release = asyncio.Event(), asyncio.Event()

    async def handler(request: SyncRequest) -> None:
        calls.append(request.job_id)
        started.set()
        await release.wait()

    stop = asyncio.Event()
    background(SyncQueueConsumer(clients, flow_settings, handler).run(stop))
    await send_event(clients, flow_settings, "long")
    await asyncio.wait_for(started.wait(), DEADLINE_S)
    # Three visibility timeouts (1 s each here): without renewal the message would have come back meanwhile.
    await asyncio.sleep(3 * flow_settings.visibility_timeout_s)
    assert calls == ["long"]
    release.set()
    async with asyncio.timeout(DEADLINE_S):
        left = 1
        while left:
            await asyncio.sleep(0.05)
            left = await queue_depth(flow_settings.sync_queue_url)
    assert calls == ["long"]
