"""In-process fan-out of Redis pub/sub to SSE connections: one subscription per channel per process.

Each connection has a bounded queue. When a slow client lets it fill, new messages for that client are dropped
and counted, and the client gets a ``dropped`` event with the count once it catches up: memory stays bounded
whatever the client does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from dataclasses import dataclass, field

import redis.asyncio as redis
import structlog

from sentinel_queue import Topic, split_message

log = structlog.get_logger("sentinel.stream")


@dataclass(frozen=True, slots=True)
class Update:
    topic: Topic
    id: str | None
    data: bytes


@dataclass(eq=False)
class Subscriber:
    """One SSE connection's inbox."""

    tenant_id: str
    queue: asyncio.Queue[Update]
    dropped: int = 0
    channels: dict[str, Topic] = field(default_factory=dict)

    def offer(self, update: Update) -> None:
        try:
            self.queue.put_nowait(update)
        except asyncio.QueueFull:
            self.dropped += 1


class TooManyConnectionsError(Exception):
    """The tenant already has its maximum of live connections in this process."""


class Hub:
    """Subscribes to a channel when its first listener arrives and unsubscribes when the last one leaves."""

    def __init__(self, client: redis.Redis, *, queue_size: int, max_per_tenant: int) -> None:
        self._client = client
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)
        self._queue_size = queue_size
        self._max_per_tenant = max_per_tenant
        self._listeners: dict[str, set[Subscriber]] = defaultdict(set)
        self._per_tenant: dict[str, int] = defaultdict(int)
        self._lock = asyncio.Lock()
        self._subscribed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self.published = 0

    def start(self) -> None:
        self._reader = asyncio.create_task(self._read(), name="sse-hub-reader")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]

    def connections(self, tenant_id: str) -> int:
        return self._per_tenant.get(tenant_id, 0)

    async def join(self, tenant_id: str, channels: dict[str, Topic]) -> Subscriber:
        """A new subscriber on ``channels`` (channel → topic); ``TooManyConnectionsError`` past the cap."""
        async with self._lock:
            if self._per_tenant[tenant_id] >= self._max_per_tenant:
                raise TooManyConnectionsError(tenant_id)
            subscriber = Subscriber(tenant_id=tenant_id, queue=asyncio.Queue(self._queue_size), channels=channels)
            new = [name for name in channels if not self._listeners.get(name)]
            for name in channels:
                self._listeners[name].add(subscriber)
            self._per_tenant[tenant_id] += 1
            if new:
                await self._pubsub.subscribe(*new)
                self._subscribed.set()
            return subscriber

    async def leave(self, subscriber: Subscriber) -> None:
        async with self._lock:
            gone = []
            for name in subscriber.channels:
                listeners = self._listeners.get(name)
                if listeners is None:
                    continue
                listeners.discard(subscriber)
                if not listeners:
                    del self._listeners[name]
                    gone.append(name)
            self._per_tenant[subscriber.tenant_id] -= 1
            if self._per_tenant[subscriber.tenant_id] <= 0:
                del self._per_tenant[subscriber.tenant_id]
            if gone:
                with contextlib.suppress(redis.RedisError):
                    await self._pubsub.unsubscribe(*gone)

    async def _read(self) -> None:
        backoff = 0.5
        while True:
            await self._subscribed.wait()
            try:
                message = await self._pubsub.get_message(timeout=1.0)
                backoff = 0.5
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("pubsub_unavailable", error=str(exc), retry_in_s=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            except RuntimeError:  # no subscription left on the connection
                self._subscribed.clear()
                continue
            if message is None or message.get("type") != "message":
                continue
            name = message["channel"].decode() if isinstance(message["channel"], bytes) else message["channel"]
            update_id, data = split_message(message["data"])
            for subscriber in tuple(self._listeners.get(name, ())):
                subscriber.offer(Update(topic=subscriber.channels[name], id=update_id, data=data))
            self.published += 1
