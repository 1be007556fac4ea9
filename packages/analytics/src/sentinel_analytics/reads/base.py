"""The reader's logic, shared by both backends: windows split into rollup ranges, parameters, row parsing.

A backend only runs a named query (``sql.QUERIES``) with bound parameters and returns named rows.
"""

from __future__ import annotations

import abc
import json
from typing import Any

from sentinel_analytics.reads import rows as parse
from sentinel_analytics.reads.plan import DAY, HOUR, MINUTE, WEEK, Plan, join, split
from sentinel_analytics.reads.rows import Row
from sentinel_analytics.reads.sql import GRAIN_NAMES
from sentinel_analytics.reads.types import (
    INTERVAL_MS,
    Bucket,
    ConsumerCursor,
    ConsumerFigures,
    ConsumerSort,
    EndpointCursor,
    EndpointFigures,
    EndpointSort,
    Interval,
    Loss,
    Order,
    OverviewFigures,
    RequestCursor,
    RequestFilter,
    RequestRecord,
    RequestRow,
    Scope,
    StatusCount,
)

_PROJECT_GRAINS = (HOUR, MINUTE)
# Sorting by a percentile merges every group's sketch; other sorts merge only the page's (*_page, then *_sketches).
_PERCENTILE_SORTS = frozenset({"p50_ms", "p95_ms", "p99_ms"})


def _scope(scope: Scope) -> dict[str, Any]:
    return {"project_id": scope.project_id, "environment": scope.environment, "service": scope.service}


def _window(scope: Scope, grains: tuple[int, ...], names: tuple[int, ...]) -> dict[str, Any]:
    plan = split(scope.start_ms, scope.end_ms, grains)
    return {**_scope(scope), **plan.params({grain: GRAIN_NAMES[grain] for grain in names})}


#: ``consumers_since`` when the per-consumer tables are never to be read.
NEVER = 2**62
#: The plan's key for days of the per-consumer tables (``a``), apart from ``consumers_1d``'s days (``d``).
ALL_DAYS = -DAY


def _consumer_window(scope: Scope, since_ms: int) -> dict[str, Any]:
    """A consumer query's window (``sql._CONSUMER_LEVELS``). Without a service or environment filter, the part from
    ``since_ms`` on (when the per-consumer tables became complete; a day boundary) takes whole weeks and days from
    them; the rest, and every filtered read, takes days from ``consumers_1d``. Hours and raw edges either way."""
    start, end = scope.start_ms, scope.end_ms
    if scope.environment or scope.service or since_ms >= end:
        plan = split(start, end, (DAY, HOUR))
        return {**_scope(scope), **plan.params({DAY: "d", HOUR: "h"}, unused=("w", "a"))}
    cut = max(start, since_ms)
    whole = split(cut, end, (WEEK, DAY, HOUR))
    before = split(start, cut, (DAY, HOUR))
    per_consumer = Plan({WEEK: whole.ranges[WEEK], ALL_DAYS: whole.ranges[DAY], HOUR: whole.ranges[HOUR]}, whole.raw)
    plan = join(before, per_consumer)
    return {**_scope(scope), **plan.params({WEEK: "w", ALL_DAYS: "a", DAY: "d", HOUR: "h"})}


class SqlReader(abc.ABC):
    """``AnalyticsReader`` over a backend that runs the queries of ``sql.QUERIES`` by name."""

    #: How many keys, and how many characters of their JSON, one sketches query may carry (the keys travel as one
    #: parameter, in a URL for some backends).
    sketch_keys_per_call = 1_000
    sketch_chars_per_call = 500_000

    @abc.abstractmethod
    async def _rows(self, query: str, params: dict[str, Any]) -> list[Row]:
        """Named rows of ``query`` with ``params`` bound server-side; raises ``ReadError``."""

    async def _sketches(self, query: str, params: dict[str, Any], keys: list[Any]) -> list[Row]:
        """Rows of a sketches query for ``keys``, in as many calls as the per-call limits need."""
        rows: list[Row] = []
        chunk: list[str] = []
        size = 2
        for key in keys:
            encoded = json.dumps(key)
            if chunk and (
                len(chunk) >= self.sketch_keys_per_call or size + len(encoded) + 1 > self.sketch_chars_per_call
            ):
                rows.extend(await self._rows(query, {**params, "keys": "[" + ",".join(chunk) + "]"}))
                chunk, size = [], 2
            chunk.append(encoded)
            size += len(encoded) + 1
        if chunk:
            rows.extend(await self._rows(query, {**params, "keys": "[" + ",".join(chunk) + "]"}))
        return rows

    async def overview(self, scope: Scope) -> OverviewFigures:
        return parse.overview(await self._rows("metrics_overview", _window(scope, _PROJECT_GRAINS, _PROJECT_GRAINS)))

    async def loss(self, scope: Scope) -> Loss:
        params = {**_scope(scope), "start": scope.start_ms, "end": scope.end_ms}
        return parse.loss(await self._rows("metrics_loss", params))

    async def timeseries(self, scope: Scope, interval: Interval) -> list[Bucket]:
        step = INTERVAL_MS[interval]
        # Minute buckets cannot use hourly rows; hour and day buckets can use both.
        grains = _PROJECT_GRAINS if step >= HOUR else (MINUTE,)
        params = {**_window(scope, grains, _PROJECT_GRAINS), "step_s": step // 1000}
        return parse.buckets(await self._rows("metrics_timeseries", params))

    async def endpoints(
        self, scope: Scope, *, sort: EndpointSort, order: Order, limit: int, after: EndpointCursor | None
    ) -> list[EndpointFigures]:
        grains = (DAY, HOUR)
        params = {
            **_window(scope, grains, grains),
            "sort": sort,
            "order": order,
            "limit": limit,
            "has_after": int(after is not None),
            "after_key": after.key if after else 0.0,
            "after_method": after.method if after else "",
            "after_route": after.route if after else "",
        }
        if sort in _PERCENTILE_SORTS:
            return parse.endpoints(await self._rows("metrics_endpoints", params))
        page = [dict(row) for row in await self._rows("metrics_endpoints_page", params)]
        if page:
            keys = [[row["method"], row["route"]] for row in page]
            sketches = await self._sketches("metrics_endpoint_sketches", _window(scope, grains, grains), keys)
            latency = {(row["method"], row["route"]): row["latency"] for row in sketches}
            for row in page:
                row["latency"] = latency.get((row["method"], row["route"]), [])
        return parse.endpoints(page)

    async def status_codes(self, scope: Scope) -> list[StatusCount]:
        return parse.status_codes(
            await self._rows("metrics_status_codes", _window(scope, _PROJECT_GRAINS, _PROJECT_GRAINS))
        )

    async def consumers_since(self) -> int:
        """Since when (ms) the per-consumer rollups hold every request; ``NEVER`` here (backends that know say)."""
        return NEVER

    async def consumers(
        self, scope: Scope, *, sort: ConsumerSort, order: Order, limit: int, after: ConsumerCursor | None
    ) -> list[ConsumerFigures]:
        window = _consumer_window(scope, await self.consumers_since())
        params = {
            **window,
            "sort": sort,
            "order": order,
            "limit": limit,
            "has_after": int(after is not None),
            "after_key": after.key if after else 0.0,
            "after_consumer": after.consumer_id if after else "",
        }
        if sort in _PERCENTILE_SORTS:
            return parse.consumers(await self._rows("metrics_consumers", params))
        page = [dict(row) for row in await self._rows("metrics_consumers_page", params)]
        if page:
            keys = [row["consumer_id"] for row in page]
            sketches = await self._sketches("metrics_consumer_sketches", window, keys)
            p95 = {row["consumer_id"]: row["p95_ms"] for row in sketches}
            for row in page:
                row["p95_ms"] = p95.get(row["consumer_id"], 0.0)
        return parse.consumers(page)

    async def requests(
        self, scope: Scope, filters: RequestFilter, *, limit: int, before: RequestCursor | None
    ) -> list[RequestRow]:
        params = {
            **_scope(scope),
            "start": scope.start_ms,
            "end": scope.end_ms,
            "route": filters.route,
            "method": filters.method,
            "status_min": filters.status_min,
            "status_max": filters.status_max,
            "consumer_id": filters.consumer_id,
            "min_duration_ms": filters.min_duration_ms,
            "has_before": int(before is not None),
            "before_ts": before.timestamp_ms if before else 0,
            "before_id": before.event_id if before else "00000000-0000-0000-0000-000000000000",
            "limit": limit,
        }
        return parse.requests(await self._rows("request_log", params))

    async def request(self, project_id: str, event_id: str) -> RequestRecord | None:
        return parse.request(await self._rows("request_detail", {"project_id": project_id, "event_id": event_id}))
