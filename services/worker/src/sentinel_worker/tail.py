"""What the worker publishes live on Redis pub/sub once batches are stored.

- the live tail: a rate-limited sample of each project's events (``tail_channel``, SSE topic ``requests``);
- live figures: per project, the requests stored since the last tick with their errors and latency, one message
  per tick at most (SSE topic ``metrics``). Exact over what this worker stored; the dashboard's metric routes
  remain the source of truth.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from operator import attrgetter
from typing import Any, NamedTuple

import msgspec

from sentinel_analytics import StoredBatch, StoredEvent
from sentinel_queue import tail_channel
from sentinel_queue.updates import channel


class TailMessage(msgspec.Struct, kw_only=True):
    """One event as the dashboard's live tail shows it."""

    project_id: str
    service: str
    environment: str
    received_at: int
    event: Any


_json = msgspec.json.Encoder()


class TailPublisher:
    """A token bucket per project (``rate`` events/s, a burst of one second or one event, whichever is more);
    sampling is the first events that fit."""

    def __init__(self, client: Any, rate: float) -> None:
        self.client = client
        self.rate = rate
        self._burst = max(rate, 1.0)  # below one event a second, the bucket still fills up to one event
        self._buckets: dict[str, tuple[float, float]] = {}

    def _allowance(self, project_id: str, now: float) -> int:
        tokens, last = self._buckets.get(project_id, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self.rate)
        self._buckets[project_id] = (tokens, now)
        return int(tokens)

    def _spend(self, project_id: str, count: int) -> None:
        tokens, last = self._buckets[project_id]
        self._buckets[project_id] = (tokens - count, last)

    async def publish(self, sources: Sequence[tuple[StoredBatch, list[StoredEvent]]]) -> int:
        """Publish what the rate allows of each ``(batch, events)``, from the first event; returns how many events
        went out. ``events`` may be a prefix of the batch's events as long as the rate (a burst of one second)."""
        if self.rate <= 0:
            return 0
        now = time.monotonic()
        pipe = self.client.pipeline(transaction=False)
        sent = 0
        for batch, events in sources:
            allowed = self._allowance(batch.project_id, now)
            if allowed <= 0:
                continue
            chosen = events[:allowed]
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


class BatchFigures(NamedTuple):
    """What live figures need of one batch, taken while its events are decoded (they are not kept)."""

    project_id: str
    service: str
    environment: str
    requests: int
    errors_4xx: int
    errors_5xx: int
    duration_ms_sum: float
    duration_ms_max: float
    earliest: int
    """The earliest event's timestamp, epoch ms."""


_status = attrgetter("status")
_duration = attrgetter("duration_ms")
_timestamp = attrgetter("timestamp")


def batch_figures(batch: StoredBatch) -> BatchFigures | None:
    """The figures of a batch's events (None for a batch without events); each pass is a loop in C."""
    events = batch.events
    if not events:
        return None
    statuses = list(map(_status, events))
    durations = list(map(_duration, events))
    errors_5xx = sum(map((500).__le__, statuses))
    return BatchFigures(
        project_id=batch.project_id,
        service=batch.service,
        environment=batch.environment,
        requests=len(events),
        errors_4xx=sum(map((400).__le__, statuses)) - errors_5xx,
        errors_5xx=errors_5xx,
        duration_ms_sum=sum(durations),
        duration_ms_max=max(durations),
        earliest=min(map(_timestamp, events)),
    )


class SourceFigures(msgspec.Struct, kw_only=True):
    """The requests of one SDK source (service and environment) stored during a tick."""

    service: str
    environment: str
    requests: int = 0
    errors_4xx: int = 0
    errors_5xx: int = 0
    duration_ms_sum: float = 0.0
    duration_ms_max: float = 0.0


class MetricsTick(msgspec.Struct, kw_only=True):
    """One project's live figures: the requests stored since the previous tick, over ``from_ms`` .. ``to_ms``
    (epoch ms: the previous tick's end, or the earliest of these requests if later; and the publishing time)."""

    project_id: str
    from_ms: int
    to_ms: int
    requests: int
    errors_4xx: int
    errors_5xx: int
    avg_ms: float
    max_ms: float
    sources: list[SourceFigures]


class LiveMetrics:
    """Adds up the figures of stored batches per project; publishes a ``MetricsTick`` per project with news each
    ``flush``."""

    _FORGET_MS = 60_000  # a project quiet for longer is forgotten

    def __init__(self, client: Any) -> None:
        self.client = client
        self._since: dict[str, int] = {}
        self._earliest: dict[str, int] = {}
        self._sources: dict[str, dict[tuple[str, str], SourceFigures]] = {}

    def add(self, figures_of_batches: Iterable[BatchFigures]) -> None:
        for batch in figures_of_batches:
            per_project = self._sources.get(batch.project_id)
            if per_project is None:
                per_project = self._sources[batch.project_id] = {}
            if batch.earliest < self._earliest.get(batch.project_id, batch.earliest + 1):
                self._earliest[batch.project_id] = batch.earliest
            key = (batch.service, batch.environment)
            figures = per_project.get(key)
            if figures is None:
                figures = per_project[key] = SourceFigures(service=batch.service, environment=batch.environment)
            figures.requests += batch.requests
            figures.errors_4xx += batch.errors_4xx
            figures.errors_5xx += batch.errors_5xx
            figures.duration_ms_sum += batch.duration_ms_sum
            if batch.duration_ms_max > figures.duration_ms_max:
                figures.duration_ms_max = batch.duration_ms_max

    def pending(self) -> int:
        """Projects with figures not yet published."""
        return len(self._sources)

    async def flush(self) -> int:
        """Publish one tick per project with news; returns how many went out. Figures are dropped if Redis fails."""
        now = int(time.time() * 1000)
        sources, self._sources = self._sources, {}
        earliest, self._earliest = self._earliest, {}
        if not sources:
            return 0
        pipe = self.client.pipeline(transaction=False)
        for project_id, per_source in sources.items():
            items = sorted(per_source.values(), key=lambda f: (f.service, f.environment))
            requests = sum(f.requests for f in items)
            tick = MetricsTick(
                project_id=project_id,
                from_ms=self._from(project_id, earliest.get(project_id, now), now),
                to_ms=now,
                requests=requests,
                errors_4xx=sum(f.errors_4xx for f in items),
                errors_5xx=sum(f.errors_5xx for f in items),
                avg_ms=round(sum(f.duration_ms_sum for f in items) / requests, 3) if requests else 0.0,
                max_ms=max(f.duration_ms_max for f in items),
                sources=items,
            )
            pipe.publish(channel(project_id, "metrics"), _json.encode(tick))
        await pipe.execute()
        self._since = {p: t for p, t in self._since.items() if now - t <= self._FORGET_MS} | dict.fromkeys(sources, now)
        return len(sources)

    def _from(self, project_id: str, earliest_ms: int, now: int) -> int:
        """Where a tick starts: the previous tick's end while traffic lasts (ticks tile the time), but never
        before the earliest request it holds, so the first tick after a quiet spell does not span the spell."""
        since = self._since.get(project_id)
        start = earliest_ms if since is None else max(since, earliest_ms)
        return min(start, now)
