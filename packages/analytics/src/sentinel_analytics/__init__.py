"""Sentinel's analytics store: schema migrations, the write path and queries, on ClickHouse or Tinybird.

The worker decodes queue entries with ``decode_stored``, encodes each batch as its insert row (``landing_line``) and
writes groups of rows through an ``AnalyticsStore`` (``ClickHouseStore`` or ``TinybirdStore``) under a
deduplication token from ``group_token``.
"""

from sentinel_analytics.clickhouse import ClickHouseStore
from sentinel_analytics.clickhouse_client import create_client
from sentinel_analytics.encode import (
    archive_text,
    batch_from_row,
    group_token,
    landing_line,
    landing_rows,
    read_archive,
)
from sentinel_analytics.migrations import MigrationError, default_migrations_dir, load_migrations, migrate
from sentinel_analytics.store import AnalyticsStore, DeadLetter, StoreError
from sentinel_analytics.wire import StoredBatch, StoredEvent, decode_stored

__all__ = [
    "AnalyticsStore",
    "ClickHouseStore",
    "DeadLetter",
    "MigrationError",
    "StoreError",
    "StoredBatch",
    "StoredEvent",
    "archive_text",
    "batch_from_row",
    "create_client",
    "decode_stored",
    "default_migrations_dir",
    "group_token",
    "landing_line",
    "landing_rows",
    "load_migrations",
    "migrate",
    "read_archive",
]
