"""The dashboard's reads: metrics, time series, endpoints, status codes, consumers and the request log.

``open_reader`` picks the backend from settings; both run the fixed-shape queries of ``sql`` (see ``plan`` for how
a window is split between rollups and the raw table).
"""

from __future__ import annotations

from sentinel_analytics.reads.clickhouse import ClickHouseReader
from sentinel_analytics.reads.tinybird import TinybirdReader
from sentinel_analytics.reads.types import (
    INTERVAL_MS,
    AnalyticsReader,
    Bucket,
    ConsumerCursor,
    ConsumerFigures,
    ConsumerSort,
    EndpointCursor,
    EndpointFigures,
    EndpointSort,
    Figures,
    Interval,
    Loss,
    Metric,
    Order,
    OverviewFigures,
    ReadError,
    RequestCursor,
    RequestFilter,
    RequestRecord,
    RequestRow,
    Scope,
    StatusCount,
)
from sentinel_config import AnalyticsSettings, ClickHouseSettings, TinybirdSettings


def open_reader(
    analytics: AnalyticsSettings, clickhouse: ClickHouseSettings, tinybird: TinybirdSettings
) -> AnalyticsReader:
    """The configured backend's reader; connections open on first use."""
    if analytics.backend == "tinybird":
        return TinybirdReader(tinybird)
    return ClickHouseReader(clickhouse)


__all__ = [
    "INTERVAL_MS",
    "AnalyticsReader",
    "Bucket",
    "ClickHouseReader",
    "ConsumerCursor",
    "ConsumerFigures",
    "ConsumerSort",
    "EndpointCursor",
    "EndpointFigures",
    "EndpointSort",
    "Figures",
    "Interval",
    "Loss",
    "Metric",
    "Order",
    "OverviewFigures",
    "ReadError",
    "RequestCursor",
    "RequestFilter",
    "RequestRecord",
    "RequestRow",
    "Scope",
    "StatusCount",
    "TinybirdReader",
    "open_reader",
]
