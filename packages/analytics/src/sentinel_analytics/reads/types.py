"""What the dashboard reads from the analytics store: the ``AnalyticsReader`` protocol, its inputs and results.

Times are UTC epoch milliseconds; windows are half-open ``[start_ms, end_ms)``. Figures are exact for any window:
a reader answers from rollups for the whole days, hours and minutes inside the window and from the raw table for
the ragged edges (see ``plan``).
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

import msgspec

Metric = Literal["requests", "errors", "p50", "p95", "p99"]
Interval = Literal["1m", "5m", "1h", "1d"]
EndpointSort = Literal["requests", "error_rate", "p50_ms", "p95_ms", "p99_ms", "avg_request_size", "avg_response_size"]
ConsumerSort = Literal["requests", "error_rate", "p95_ms"]
Order = Literal["asc", "desc"]

INTERVAL_MS: dict[str, int] = {"1m": 60_000, "5m": 300_000, "1h": 3_600_000, "1d": 86_400_000}


class ReadError(RuntimeError):
    """A read failed. ``timeout`` is True when the store stopped the query at its time limit."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


class Scope(msgspec.Struct, kw_only=True, frozen=True):
    """Which events a read covers: one project, a time window, optional environment and service."""

    project_id: str
    start_ms: int
    end_ms: int
    environment: str = ""
    """Empty: every environment."""
    service: str = ""
    """Empty: every service."""


class Figures(msgspec.Struct, kw_only=True):
    """Totals of a set of requests. Percentiles are 0 when there are no requests."""

    requests: int
    errors_4xx: int
    errors_5xx: int
    duration_sum: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    request_size_sum: int
    response_size_sum: int


class OverviewFigures(Figures, kw_only=True):
    consumers: int
    """Distinct consumer ids."""


class Loss(msgspec.Struct, kw_only=True):
    """What the SDKs delivered and what they report having lost, over the minutes starting in the window."""

    events: int
    queue_full: int
    sampled_out: int
    oversize: int
    send_failed: int
    shutdown: int

    @property
    def lost(self) -> int:
        """Events captured but not delivered (sampling is a choice, not a loss)."""
        return self.queue_full + self.oversize + self.send_failed + self.shutdown


class Bucket(msgspec.Struct, kw_only=True):
    """One time bucket; empty buckets are absent (the caller zero-fills)."""

    start_ms: int
    requests: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float


class EndpointFigures(Figures, kw_only=True):
    method: str
    route: str
    """Empty when the framework matched no route."""
    sort_key: float
    """The row's position in the requested order (for the next page's cursor)."""


class EndpointCursor(msgspec.Struct, kw_only=True, frozen=True, array_like=True):
    """Where a page of endpoints ends: its last sort key and identity."""

    key: float
    method: str
    route: str


class StatusCount(msgspec.Struct, kw_only=True):
    status: int
    requests: int


class ConsumerFigures(msgspec.Struct, kw_only=True):
    consumer_id: str
    name: str | None
    group: str | None
    requests: int
    errors_4xx: int
    errors_5xx: int
    p95_ms: float
    sort_key: float


class ConsumerCursor(msgspec.Struct, kw_only=True, frozen=True, array_like=True):
    key: float
    consumer_id: str


class RequestFilter(msgspec.Struct, kw_only=True, frozen=True):
    """Request log filters; empty or zero values do not filter."""

    route: str = ""
    method: str = ""
    status_min: int = 0
    status_max: int = 999
    consumer_id: str = ""
    min_duration_ms: float = 0.0


class RequestCursor(msgspec.Struct, kw_only=True, frozen=True, array_like=True):
    """The last row of a request-log page (newest first): its timestamp and id."""

    timestamp_ms: int
    event_id: str


class RequestRow(msgspec.Struct, kw_only=True):
    """One request in the log."""

    event_id: str
    timestamp_ms: int
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


class RequestRecord(RequestRow, kw_only=True):
    """One request with everything that was captured."""

    batch_id: str
    received_at_ms: int
    ttfb_ms: float | None
    client_ip: str | None
    user_agent: str | None
    consumer_group: str | None
    attributes: dict[str, str]
    request_headers: dict[str, str] | None
    response_headers: dict[str, str] | None
    request_body: str | None
    response_body: str | None
    aborted: bool
    trace_id: str | None


@runtime_checkable
class AnalyticsReader(Protocol):
    """The read side of the analytics store, on ClickHouse or Tinybird. Raises ``ReadError``."""

    async def overview(self, scope: Scope) -> OverviewFigures: ...

    async def loss(self, scope: Scope) -> Loss: ...

    async def timeseries(self, scope: Scope, interval: Interval) -> list[Bucket]:
        """Non-empty buckets of ``interval`` (aligned to UTC epoch multiples), oldest first."""
        ...

    async def endpoints(
        self, scope: Scope, *, sort: EndpointSort, order: Order, limit: int, after: EndpointCursor | None
    ) -> list[EndpointFigures]:
        """Per method and route, ordered by ``sort`` then method and route."""
        ...

    async def status_codes(self, scope: Scope) -> list[StatusCount]: ...

    async def consumers(
        self, scope: Scope, *, sort: ConsumerSort, order: Order, limit: int, after: ConsumerCursor | None
    ) -> list[ConsumerFigures]: ...

    async def requests(
        self, scope: Scope, filters: RequestFilter, *, limit: int, before: RequestCursor | None
    ) -> list[RequestRow]:
        """Newest first."""
        ...

    async def request(self, project_id: str, event_id: str) -> RequestRecord | None: ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...
