"""Response bodies of the metrics and request-log routes (the dashboard page reads these shapes).

Times are UTC epoch milliseconds. Windows are half-open: ``from_ms`` inclusive, ``to_ms`` exclusive. Latencies are
milliseconds; percentiles come from t-digest sketches (within a fraction of a percent of the exact values) and
are ``null`` when there were no requests. ``error_rate`` is (4xx + 5xx) / requests, 0 when there were none.
"""

from __future__ import annotations

from typing import Literal

import msgspec


class Window(msgspec.Struct, kw_only=True):
    """The time window a figure covers."""

    from_ms: int
    to_ms: int


class Overview(msgspec.Struct, kw_only=True):
    """``GET /api/projects/{project_id}/metrics/overview``."""

    window: Window
    requests: int
    errors_4xx: int
    errors_5xx: int
    error_rate: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    avg_duration_ms: float | None
    requests_per_minute: float
    """Requests divided by the window's length in minutes."""
    consumers: int
    """Distinct consumer ids seen."""
    completeness: float | None
    """Share of the events the SDKs captured that arrived: delivered / (delivered + lost), from the SDKs' loss
    counters (sampling is not a loss); ``null`` when no batch arrived in the window."""
    events_lost: int
    """Events the SDKs report having dropped (full buffer, oversize, failed sends, shutdown)."""


class Point(msgspec.Struct, kw_only=True):
    """One bucket of a time series. Every bucket of the window is present."""

    t: int
    """Bucket start, UTC epoch ms."""
    value: float | None
    """The metric; 0 for counts in an empty bucket, ``null`` for a percentile of an empty bucket."""
    requests: int


class Timeseries(msgspec.Struct, kw_only=True):
    """``GET /api/projects/{project_id}/metrics/timeseries``."""

    window: Window
    metric: Literal["requests", "errors", "p50", "p95", "p99"]
    interval: Literal["1m", "5m", "1h", "1d"]
    """The bucket width used (``auto`` resolved)."""
    points: list[Point]


class Endpoint(msgspec.Struct, kw_only=True):
    """Figures of one method and route."""

    method: str
    route: str | None
    """``null`` for requests the framework matched to no route."""
    requests: int
    errors_4xx: int
    errors_5xx: int
    error_rate: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    avg_duration_ms: float
    avg_request_size: float
    avg_response_size: float


class EndpointPage(msgspec.Struct, kw_only=True):
    """``GET /api/projects/{project_id}/metrics/endpoints``."""

    window: Window
    items: list[Endpoint]
    next: str | None
    """Opaque cursor of the next page (pass it as ``cursor``); ``null`` on the last page."""


class StatusCode(msgspec.Struct, kw_only=True):
    status: int
    requests: int
    share: float
    """Share of the window's requests."""


class StatusCodes(msgspec.Struct, kw_only=True):
    """``GET /api/projects/{project_id}/metrics/status-codes``, by status ascending."""

    window: Window
    requests: int
    items: list[StatusCode]


class ConsumerItem(msgspec.Struct, kw_only=True):
    """Figures of one consumer (requests without a consumer id are not counted here)."""

    consumer_id: str
    name: str | None
    group: str | None
    requests: int
    errors_4xx: int
    errors_5xx: int
    error_rate: float
    p95_ms: float


class ConsumerPage(msgspec.Struct, kw_only=True):
    """``GET /api/projects/{project_id}/metrics/consumers``."""

    window: Window
    items: list[ConsumerItem]
    next: str | None


class RequestSummary(msgspec.Struct, kw_only=True):
    """One row of the request log."""

    event_id: str
    timestamp: int
    service: str
    environment: str
    method: str
    path: str
    route: str | None
    status: int
    duration_ms: float
    request_size: int
    response_size: int
    consumer_id: str | None
    consumer_name: str | None
    error: str | None


class RequestPage(msgspec.Struct, kw_only=True):
    """``GET /api/projects/{project_id}/requests``, newest first."""

    window: Window
    items: list[RequestSummary]
    next: str | None


class RequestDetail(RequestSummary, kw_only=True):
    """``GET /api/projects/{project_id}/requests/{event_id}``: everything that was captured."""

    batch_id: str
    received_at: int
    ttfb_ms: float | None
    client_ip: str | None
    user_agent: str | None
    consumer_group: str | None
    attributes: dict[str, str]
    request_headers: dict[str, str] | None
    """``null``: headers were not captured; ``{}``: captured, none allowed by the capture list."""
    response_headers: dict[str, str] | None
    request_body: str | None
    response_body: str | None
    aborted: bool
    trace_id: str | None
