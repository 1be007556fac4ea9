"""Figures from the analytics reader shaped into the metrics payloads (rates, averages, zero-filled series)."""

from __future__ import annotations

from typing import Any

from sentinel_analytics.reads import (
    INTERVAL_MS,
    AnalyticsReader,
    ConsumerCursor,
    ConsumerSort,
    EndpointCursor,
    EndpointSort,
    Interval,
    Metric,
    Order,
    Scope,
)
from sentinel_dashboard.metrics.params import PageQuery, encode_cursor
from sentinel_dashboard.metrics.payloads import (
    ConsumerItem,
    ConsumerPage,
    Endpoint,
    EndpointPage,
    Overview,
    Point,
    StatusCode,
    StatusCodes,
    Timeseries,
    Window,
)
from sentinel_service import ApiError

MAX_POINTS = 1_500


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


async def overview(reader: AnalyticsReader, scope: Scope, window: Window) -> Overview:
    figures = await reader.overview(scope)
    loss = await reader.loss(scope)
    n = figures.requests
    delivered_or_lost = loss.events + loss.lost
    return Overview(
        window=window,
        requests=n,
        errors_4xx=figures.errors_4xx,
        errors_5xx=figures.errors_5xx,
        error_rate=_rate(figures.errors_4xx + figures.errors_5xx, n),
        p50_ms=figures.p50_ms if n else None,
        p95_ms=figures.p95_ms if n else None,
        p99_ms=figures.p99_ms if n else None,
        avg_duration_ms=figures.duration_sum / n if n else None,
        requests_per_minute=n / ((window.to_ms - window.from_ms) / 60_000),
        consumers=figures.consumers,
        completeness=loss.events / delivered_or_lost if delivered_or_lost else None,
        events_lost=loss.lost,
    )


def auto_interval(span_ms: int) -> Interval:
    """About 60-400 points for any window."""
    if span_ms <= 6 * 3_600_000:
        return "1m"
    if span_ms <= 2 * 86_400_000:
        return "5m"
    if span_ms <= 16 * 86_400_000:
        return "1h"
    return "1d"


async def timeseries(
    reader: AnalyticsReader, scope: Scope, window: Window, metric: Metric, interval: Interval | None
) -> Timeseries:
    chosen = interval or auto_interval(window.to_ms - window.from_ms)
    step = INTERVAL_MS[chosen]
    first = window.from_ms // step * step
    if (window.to_ms - first) // step > MAX_POINTS:
        raise ApiError(
            400, f"interval {chosen} gives more than {MAX_POINTS} points for this window: widen it", field="interval"
        )
    found = {b.start_ms: b for b in await reader.timeseries(scope, chosen)}
    points = []
    for t in range(first, window.to_ms, step):
        bucket = found.get(t)
        value: float | None
        if metric in ("requests", "errors"):
            value = float(getattr(bucket, metric)) if bucket else 0.0
        else:
            value = getattr(bucket, f"{metric}_ms") if bucket and bucket.requests else None
        points.append(Point(t=t, value=value, requests=bucket.requests if bucket else 0))
    return Timeseries(window=window, metric=metric, interval=chosen, points=points)


async def endpoints(
    reader: AnalyticsReader,
    scope: Scope,
    window: Window,
    *,
    sort: EndpointSort,
    order: Order,
    limit: int,
    query: dict[str, Any],
    after: list[Any] | None,
) -> EndpointPage:
    cursor = EndpointCursor(key=after[0], method=after[1], route=after[2]) if after else None
    rows = await reader.endpoints(scope, sort=sort, order=order, limit=limit + 1, after=cursor)
    items = [
        Endpoint(
            method=r.method,
            route=r.route or None,
            requests=r.requests,
            errors_4xx=r.errors_4xx,
            errors_5xx=r.errors_5xx,
            error_rate=_rate(r.errors_4xx + r.errors_5xx, r.requests),
            p50_ms=r.p50_ms,
            p95_ms=r.p95_ms,
            p99_ms=r.p99_ms,
            avg_duration_ms=r.duration_sum / r.requests if r.requests else 0.0,
            avg_request_size=r.request_size_sum / r.requests if r.requests else 0.0,
            avg_response_size=r.response_size_sum / r.requests if r.requests else 0.0,
        )
        for r in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        page = PageQuery(
            kind="endpoints",
            from_ms=window.from_ms,
            to_ms=window.to_ms,
            query=query,
            after=[last.sort_key, last.method, last.route],
        )
        next_cursor = encode_cursor(page)
    return EndpointPage(window=window, items=items, next=next_cursor)


async def status_codes(reader: AnalyticsReader, scope: Scope, window: Window) -> StatusCodes:
    counts = await reader.status_codes(scope)
    total = sum(c.requests for c in counts)
    return StatusCodes(
        window=window,
        requests=total,
        items=[StatusCode(status=c.status, requests=c.requests, share=_rate(c.requests, total)) for c in counts],
    )


async def consumers(
    reader: AnalyticsReader,
    scope: Scope,
    window: Window,
    *,
    sort: ConsumerSort,
    order: Order,
    limit: int,
    query: dict[str, Any],
    after: list[Any] | None,
) -> ConsumerPage:
    cursor = ConsumerCursor(key=after[0], consumer_id=after[1]) if after else None
    rows = await reader.consumers(scope, sort=sort, order=order, limit=limit + 1, after=cursor)
    items = [
        ConsumerItem(
            consumer_id=r.consumer_id,
            name=r.name,
            group=r.group,
            requests=r.requests,
            errors_4xx=r.errors_4xx,
            errors_5xx=r.errors_5xx,
            error_rate=_rate(r.errors_4xx + r.errors_5xx, r.requests),
            p95_ms=r.p95_ms,
        )
        for r in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        page = PageQuery(
            kind="consumers",
            from_ms=window.from_ms,
            to_ms=window.to_ms,
            query=query,
            after=[last.sort_key, last.consumer_id],
        )
        next_cursor = encode_cursor(page)
    return ConsumerPage(window=window, items=items, next=next_cursor)
