"""A long-polling SQS reader shared by the task queue worker and the sync consumer.

Each message goes to ``handle(body)``; a message is deleted when ``handle`` returns True and is otherwise left to
come back after the queue's visibility timeout (and, with a redrive policy, to reach a dead-letter queue).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import structlog

from sentinel_flows.aws import AwsClients

if TYPE_CHECKING:
    from types_aiobotocore_sqs.type_defs import MessageTypeDef

log = structlog.get_logger("sentinel.flows")

_MAX_BACKOFF_S = 30.0


class QueuePoller:
    """Reads ``queue_url`` in batches of up to 10 and handles a batch's messages concurrently."""

    def __init__(
        self,
        clients: AwsClients,
        queue_url: str,
        handle: Callable[[str], Awaitable[bool]],
        *,
        wait_s: int,
        visibility_timeout_s: int,
        what: str,
    ) -> None:
        self._clients = clients
        self._queue_url = queue_url
        self._handle = handle
        self._wait_s = wait_s
        self._visibility_timeout_s = visibility_timeout_s
        self._what = what

    async def _receive(self) -> list[MessageTypeDef]:
        sqs = await self._clients.sqs()
        answer = await sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=self._wait_s,
            VisibilityTimeout=self._visibility_timeout_s,
        )
        return answer.get("Messages", [])

    async def _process(self, message: MessageTypeDef) -> bool:
        try:
            return await self._handle(message.get("Body", ""))
        except Exception:
            log.exception("queue_message_failed", queue=self._what, message_id=message.get("MessageId"))
            return False

    async def _settle(self, messages: list[MessageTypeDef]) -> None:
        outcomes = await asyncio.gather(*(self._process(message) for message in messages))
        done = [message for message, delete in zip(messages, outcomes, strict=True) if delete]
        if done:
            sqs = await self._clients.sqs()
            await sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )

    async def poll_once(self) -> int:
        """Receive one batch (waiting up to ``wait_s`` for it), handle it, and return how many messages came."""
        messages = await self._receive()
        await self._settle(messages)
        return len(messages)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; a batch being handled is finished first. Errors are logged and retried."""
        backoff = 1.0
        while not stop.is_set():
            receive = asyncio.ensure_future(self._receive())
            stopped = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({receive, stopped}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopped.cancel()
                if not receive.done():
                    receive.cancel()
                    await asyncio.wait({receive})
            if receive.cancelled():
                return  # stopped while waiting for messages: none were received
            try:
                await self._settle(receive.result())
            except Exception as exc:
                log.warning("queue_poll_failed", queue=self._what, error=repr(exc), retry_in_s=backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)
            else:
                backoff = 1.0
