"""The live tail: a rate-limited sample of each project's events on Redis pub/sub (``tail_channel``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import msgspec

from sentinel_analytics import StoredBatch
from sentinel_queue import tail_channel


class TailMessage(msgspec.Struct, kw_only=True):
    """One event as the dashboard's live tail shows it."""

    project_id: str
    service: str
    environment: str
    received_at: int
    event: Any


_json = msgspec.json.Encoder()


class TailPublisher:
    """A token bucket per project (``rate`` events/s, burst of one second); sampling is the first events that fit."""

    def __init__(self, client: Any, rate: float) -> None:
        self.client = client
        self.rate = rate
        self._buckets: dict[str, tuple[float, float]] = {}

    def _allowance(self, project_id: str, now: float) -> int:
        tokens, last = self._buckets.get(project_id, (self.rate, now))
        tokens = min(self.rate, tokens + (now - last) * self.rate)
        self._buckets[project_id] = (tokens, now)
        return int(tokens)

    def _spend(self, project_id: str, count: int) -> None:
        tokens, last = self._buckets[project_id]
        self._buckets[project_id] = (tokens - count, last)

    async def publish(self, batches: Sequence[StoredBatch]) -> int:
        """Publish what the rate allows; returns how many events went out."""
        if self.rate <= 0:
            return 0
        now = time.monotonic()
        pipe = self.client.pipeline(transaction=False)
        sent = 0
        for batch in batches:
            allowed = self._allowance(batch.project_id, now)
            if allowed <= 0:
                continue
            chosen = batch.events[:allowed]
            self._spend(batch.project_id, len(chosen))
            channel = tail_channel(batch.project_id)
            for event in chosen:
                message = TailMessage(
                    project_id=batch.project_id,
                    service=batch.service,
                    environment=batch.environment,
                    received_at=batch.received_at,
                    event=event,
                )
                pipe.publish(channel, _json.encode(message))
            sent += len(chosen)
        if sent:
            await pipe.execute()
        return sent
