"""A table's node in the state tree: fresh or stale by its newest row, a rollup's bucket counted to its end."""

from __future__ import annotations

import pytest

from sentinel_analytics.layers import TableFigures
from sentinel_dashboard.state.tree import FRESH_WITHIN_MS, table_node

HOUR, DAY = 3_600_000, 86_400_000
NOW = 1_800_000_000_000


def _table(last_at_ms: int | None, bucket_ms: int, rows: int = 10) -> TableFigures:
    return TableFigures(
        name="t", kind="rollup", engine="AggregatingMergeTree", rows=rows, last_at_ms=last_at_ms, bucket_ms=bucket_ms
    )


@pytest.mark.parametrize(
    ("last_at_ms", "bucket_ms", "status"),
    [
        (NOW // DAY * DAY, DAY, "fresh"),  # the newest daily bucket is today's, started hours ago
        (NOW - 21 * HOUR, DAY, "fresh"),
        (NOW - DAY - FRESH_WITHIN_MS - 1, DAY, "stale"),  # a bucket that ended over the freshness window ago
        (NOW - 2 * HOUR, 60_000, "stale"),
        (NOW - 30_000, 60_000, "fresh"),
        (NOW - 2 * HOUR, 0, "stale"),  # a raw table: its newest row itself
        (None, DAY, "empty"),
    ],
)
def test_freshness_counts_a_rollup_bucket_to_its_end(last_at_ms: int | None, bucket_ms: int, status: str) -> None:
    node = table_node(_table(last_at_ms, bucket_ms), NOW)
    assert node.status == status
    assert node.meta.get("bucket") == {0: None, 60_000: "1 minute", DAY: "1 day"}[bucket_ms]
