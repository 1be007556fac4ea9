"""A long-polling SQS reader shared by the task queue worker and the sync consumer.

Each message goes to the subclass's ``handle(body)``, up to ``worker_concurrency`` at once. While a handler runs,
its message is kept hidden (the visibility timeout is renewed at half its length), so a long export is not
delivered twice; if the process dies, the message comes back once the timeout passes. A message is deleted when
``handle`` returns True and otherwise left to come back (and, with a redrive policy, to reach a dead-letter queue).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
from typing import TYPE_CHECKING

import structlog

from sentinel_flows.aws import AwsClients
from sentinel_flows.settings import FlowSettings

if TYPE_CHECKING:
    from types_aiobotocore_sqs.type_defs import MessageTypeDef

log = structlog.get_logger("sentinel.flows")

_MAX_BACKOFF_S = 30.0
_MAX_BATCH = 10


class QueueConsumer(abc.ABC):
    """Reads ``queue_url`` and hands each message's body to ``handle`` (settings: wait, visibility, concurrency)."""

    def __init__(self, clients: AwsClients, settings: FlowSettings, queue_url: str, *, what: str) -> None:
        self._clients = clients
        self._queue_url = queue_url
        self._wait_s = settings.queue_wait_s
        self._visibility_timeout_s = settings.visibility_timeout_s
        self._concurrency = settings.worker_concurrency
        self._what = what

    @abc.abstractmethod
    async def handle(self, body: str) -> bool:
        """Handle one message's body; True when the message can be deleted."""

    async def _receive(self, count: int) -> list[MessageTypeDef]:
        sqs = await self._clients.sqs()
        answer = await sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=self._wait_s,
            VisibilityTimeout=self._visibility_timeout_s,
        )
        return answer.get("Messages", [])

    async def _keep_hidden(self, receipt: str) -> None:
        sqs = await self._clients.sqs()
        while True:
            await asyncio.sleep(self._visibility_timeout_s / 2)
            try:
                await sqs.change_message_visibility(
                    QueueUrl=self._queue_url, ReceiptHandle=receipt, VisibilityTimeout=self._visibility_timeout_s
                )
            except Exception as exc:
                log.warning("queue_visibility_not_extended", queue=self._what, error=repr(exc))

    async def _process(self, message: MessageTypeDef) -> None:
        receipt = message["ReceiptHandle"]
        keeper = asyncio.create_task(self._keep_hidden(receipt))
        try:
            done = await self.handle(message.get("Body", ""))
        except Exception:
            log.exception("queue_message_failed", queue=self._what, message_id=message.get("MessageId"))
            done = False
        finally:
            keeper.cancel()
        if not done:
            return
        try:
            sqs = await self._clients.sqs()
            await sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=receipt)
        except Exception as exc:  # it will be delivered again: handlers are idempotent
            log.warning("queue_delete_failed", queue=self._what, error=repr(exc))

    async def poll_once(self) -> int:
        """Receive one batch (waiting up to ``wait_s`` for it), handle it, and return how many messages came."""
        messages = await self._receive(min(self._concurrency, _MAX_BATCH))
        await asyncio.gather(*(self._process(message) for message in messages))
        return len(messages)

    async def run(self, stop: asyncio.Event) -> None:
        """Handle messages until ``stop`` is set, then finish those in hand. Receive errors are logged and retried."""
        in_flight: set[asyncio.Task[None]] = set()
        stopped = asyncio.ensure_future(stop.wait())
        backoff = 1.0
        try:
            while not stop.is_set():
                room = self._concurrency - len(in_flight)
                if room <= 0:
                    await asyncio.wait({*in_flight, stopped}, return_when=asyncio.FIRST_COMPLETED)
                    continue
                receive = asyncio.ensure_future(self._receive(min(room, _MAX_BATCH)))
                try:
                    await asyncio.wait({receive, stopped}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    if not receive.done():
                        receive.cancel()
                        await asyncio.wait({receive})
                if receive.cancelled():
                    break  # stopped while waiting for messages: none were received
                if receive.exception() is not None:
                    log.warning("queue_receive_failed", queue=self._what, error=repr(receive.exception()))
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(stopped), timeout=backoff)
                    backoff = min(backoff * 2, _MAX_BACKOFF_S)
                    continue
                backoff = 1.0
                for message in receive.result():
                    task = asyncio.create_task(self._process(message))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
        except asyncio.CancelledError:
            for task in in_flight:
                task.cancel()
            raise
        finally:
            stopped.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
