"""A known distribution of requests and its exact figures, for tests of the readers and the dashboard routes.

``KnownData`` lays events at fixed steps across a span around a UTC day, with routes, statuses, consumers,
services, sizes and latencies that follow simple cycles; ``expected_*`` compute every figure in Python from the
events inside a window, so a test compares what the store answers with numbers it did not get from the store.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from sentinel_analytics.reads.plan import DAY, HOUR, MINUTE
from sentinel_analytics.wire import StoredBatch, decode_stored
from sentinel_queue import QueuedBatch, encode_entry
from sentinel_types import Consumer, Event, LossCounters, SdkInfo

ROUTES: tuple[tuple[str, str | None], ...] = (
    ("GET", "/users/{id}"),
    ("POST", "/orders"),
    ("GET", "/health"),
    ("DELETE", "/items/{id}"),
    ("GET", None),
)
STATUSES = (200, 201, 404, 500, 200, 429, 503, 200, 302, 400, 200)
CONSUMERS = 7  # consumer-1 .. consumer-6, and no consumer for every 7th


class Known(msgspec.Struct, kw_only=True):
    """One generated event with the batch fields a query can filter on."""

    event: Event
    service: str
    environment: str


def _event(project_id: str, i: int, timestamp: int) -> Event:
    method, route = ROUTES[i % len(ROUTES)]
    c = i % CONSUMERS
    return Event(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{project_id}/{timestamp}/{i}"),
        timestamp=timestamp,
        method=method,
        path=(route or "/unmatched").replace("{id}", str(i % 97)),
        route=route,
        status=STATUSES[i % len(STATUSES)],
        duration_ms=round(1 + ((i * 37) % 1000) / 10 + (i % len(ROUTES)) * 20 + (i % 13) ** 2 / 7, 3),
        request_size=(i * 13) % 300,
        response_size=(i * 7919) % 5000,
        consumer=Consumer(id=f"consumer-{c}", name=f"Consumer {c}", group="pro" if c % 2 else "free") if c else None,
        request_headers={"content-type": "application/json"} if i % 2 else None,
        response_headers={} if i % 2 else None,
        request_body=f'{{"n": {i}}}' if i % 2 else None,
        error="boom" if STATUSES[i % len(STATUSES)] >= 500 else None,
        trace_id=f"{i:032x}",
    )


class KnownData:
    """``count`` events every ``step_ms`` from ``start_ms``, in batches of ``per_batch``; batch ``b`` is service
    ``billing`` when ``b % 3 == 0`` (else ``api``) and environment ``staging`` when ``b % 4 == 0``."""

    def __init__(
        self, project_id: str, tenant_id: str, start_ms: int, *, count: int, step_ms: int, per_batch: int = 250
    ) -> None:
        self.project_id = project_id
        self.batches: list[QueuedBatch] = []
        self.known: list[Known] = []
        events = [_event(project_id, i, start_ms + i * step_ms) for i in range(count)]
        for b, first in enumerate(range(0, count, per_batch)):
            chunk = events[first : first + per_batch]
            service = "billing" if b % 3 == 0 else "api"
            environment = "staging" if b % 4 == 0 else "production"
            self.batches.append(
                QueuedBatch(
                    project_id=project_id,
                    tenant_id=tenant_id,
                    batch_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{project_id}/{start_ms}/batch/{b}"),
                    received_at=chunk[-1].timestamp,
                    sdk=SdkInfo(name="sentinel-python", version="0.1.0", runtime="CPython 3.11"),
                    service=service,
                    environment=environment,
                    sample_rate=1.0,
                    dropped=LossCounters(queue_full=b % 5, send_failed=1, sampled_out=2),
                    events=chunk,
                    retention_days=3650,
                )
            )
            self.known.extend(Known(event=e, service=service, environment=environment) for e in chunk)

    def stored(self) -> list[StoredBatch]:
        return [decode_stored(encode_entry(batch), 3650) for batch in self.batches]

    def select(self, start: int, end: int, environment: str = "", service: str = "") -> list[Known]:
        return [
            k
            for k in self.known
            if start <= k.event.timestamp < end
            and (not environment or k.environment == environment)
            and (not service or k.service == service)
        ]

    def loss(self, start: int, end: int) -> dict[str, int]:
        """Loss counters of the batches received in the minutes from ``start``'s minute to ``end``."""
        first = start // MINUTE * MINUTE
        chosen = [b for b in self.batches if first <= b.received_at // MINUTE * MINUTE < end]
        return {
            "events": sum(len(b.events) for b in chosen),
            "queue_full": sum(b.dropped.queue_full for b in chosen),
            "send_failed": sum(b.dropped.send_failed for b in chosen),
            "sampled_out": sum(b.dropped.sampled_out for b in chosen),
        }


def is_error(status: int) -> tuple[int, int]:
    return int(400 <= status < 500), int(status >= 500)


def figures(events: Iterable[Event]) -> dict[str, Any]:
    """Exact totals of ``events``: requests, 4xx, 5xx, duration and size sums, the sorted durations."""
    events = list(events)
    return {
        "requests": len(events),
        "errors_4xx": sum(is_error(e.status)[0] for e in events),
        "errors_5xx": sum(is_error(e.status)[1] for e in events),
        "duration_sum": sum(e.duration_ms for e in events),
        "request_size_sum": sum(e.request_size for e in events),
        "response_size_sum": sum(e.response_size for e in events),
        "durations": sorted(e.duration_ms for e in events),
    }


def within_rank(durations: Sequence[float], q: float, value: float, *, tolerance: float = 0.02) -> bool:
    """True when ``value`` lies between the exact quantiles ``q - tolerance`` and ``q + tolerance`` (t-digest's
    error is a rank error: small in the tails, larger in the middle; on these sizes well under 2 %), give or take
    Float32 rounding."""
    n = len(durations)
    low = durations[max(0, math.floor((q - tolerance) * n) - 1)]
    high = durations[min(n - 1, math.ceil((q + tolerance) * n))]
    # The sketch answers in Float32: allow its rounding.
    return low * (1 - 1e-6) <= value <= high * (1 + 1e-6)


def by_endpoint(known: Iterable[Known]) -> dict[tuple[str, str], list[Event]]:
    groups: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for k in known:
        groups[(k.event.method, k.event.route or "")].append(k.event)
    return dict(groups)


def by_consumer(known: Iterable[Known]) -> dict[str, list[Event]]:
    groups: dict[str, list[Event]] = defaultdict(list)
    for k in known:
        if k.event.consumer is not None and k.event.consumer.id is not None:
            groups[k.event.consumer.id].append(k.event)
    return dict(groups)


def by_status(known: Iterable[Known]) -> dict[int, int]:
    counts: dict[int, int] = defaultdict(int)
    for k in known:
        counts[k.event.status] += 1
    return dict(counts)


def ragged_window(day_ms: int) -> tuple[int, int]:
    """A window around the day ``day_ms`` that needs every source: whole day, hours, minutes and raw edges."""
    return day_ms - 2 * HOUR - 5 * MINUTE - 7_000, day_ms + DAY + 2 * HOUR + 3 * MINUTE + 13_000


def assert_consumer_rows(rows: Sequence[Any], groups: dict[str, list[Event]]) -> None:
    """Every consumer of ``groups`` (``by_consumer``) is in ``rows`` with its exact counts and a p95 within rank."""
    assert {row.consumer_id for row in rows} == set(groups)
    for row in rows:
        want = figures(groups[row.consumer_id])
        assert (row.requests, row.errors_4xx, row.errors_5xx) == (
            want["requests"],
            want["errors_4xx"],
            want["errors_5xx"],
        ), row.consumer_id
        assert within_rank(want["durations"], 0.95, row.p95_ms), row.consumer_id
