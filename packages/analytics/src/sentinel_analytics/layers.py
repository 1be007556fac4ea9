"""Figures for the dashboard's layers: ingestion sources, tables and rollups, a project's stored bytes.

Used by the project state tree (``/api/projects/{id}/state``), cost-calc and the connectors' health. Every user
value is a server-side parameter (``{name:Type}``); table names come from ``system.tables`` of the store's own
database and are checked against ``[A-Za-z0-9_]+`` before they are quoted into a query.

**Stored bytes of a project.** ClickHouse reports compressed bytes per part (``system.parts``), not per project.
Every table here is partitioned by month and ordered by ``project_id`` first, so one project's rows of a month
sit together and compress like their neighbours: a project's bytes in a partition are apportioned by its share
of that partition's stored rows, ``bytes(partition) * rows(project, partition) / rows(partition)``, summed over
partitions. Rows are counted as stored (no ``FINAL``), the same count ``system.parts`` has.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from clickhouse_connect.driver.exceptions import ClickHouseError

from sentinel_analytics.clickhouse_client import create_client
from sentinel_config import ClickHouseSettings

_IDENT = re.compile(r"^[A-Za-z0-9_]+$")
RAW_TABLES = frozenset({"events", "batches", "dead_letters"})
SOURCE_WINDOW_S = 24 * 3600
RATE_WINDOW_S = 5 * 60

LayersError = ClickHouseError
"""What the reads below raise when the store is unreachable or refuses a query (clickhouse-connect's base error)."""


class SourceFigures(msgspec.Struct, kw_only=True):
    """One SDK source (service, environment) of a project, from its batches of the last 24 hours."""

    service: str
    environment: str
    sdk: str
    last_seen_ms: int
    events_per_min: float
    """Events per minute over the last five minutes."""
    events_24h: int
    lost_24h: int
    """Events the SDK reports having lost (queue full, oversize, send failures, shutdown); sampling is not loss."""
    sampled_out_24h: int
    loss_ratio: float
    """lost / (events + lost) over the last 24 hours."""


class TableFigures(msgspec.Struct, kw_only=True):
    """One table of the store as it concerns a project."""

    name: str
    kind: str
    """``raw`` (events, batches) or ``rollup`` (the aggregating tables)."""
    engine: str
    rows: int
    """The project's stored rows (rollups: before background merges finish combining them)."""
    last_at_ms: int | None
    """Newest time of the project's rows in the table's time column: its freshness (a rollup's newest bucket
    start)."""
    bucket_ms: int = 0
    """A rollup's bucket width (from its time column: minute, hour, day, week); 0 for raw tables."""


#: A rollup's bucket width by the name of its time column.
BUCKETS = {"minute": 60_000, "hour": 3_600_000, "day": 86_400_000, "week": 604_800_000}


class StorageFigures(msgspec.Struct, kw_only=True):
    """Compressed bytes a project holds, per table, apportioned by rows (see the module's docstring)."""

    total_bytes: int
    by_table: dict[str, int]
    rows_by_table: dict[str, int]


class _Table(msgspec.Struct):
    name: str
    engine: str
    time_column: str | None


def _quoted(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"unexpected table or column name {name!r}")
    return f"`{name}`"


class LayersReader:
    """Reads over one lazily opened clickhouse-connect client; ``close`` releases it."""

    def __init__(self, settings: ClickHouseSettings) -> None:
        self.settings = settings
        self._client: Any = None

    async def _ch(self) -> Any:
        if self._client is None:
            self._client = await create_client(self.settings)
        return self._client

    async def ping(self) -> bool:
        """True when the server answers a query on the database."""
        client = await self._ch()
        result = await client.query("SELECT 1")
        return bool(result.result_rows and result.result_rows[0][0] == 1)

    async def _tables(self) -> list[_Table]:
        """MergeTree-family tables with a ``project_id`` column, each with the first time column of its key."""
        client = await self._ch()
        result = await client.query(
            """
            SELECT t.name, t.engine, t.sorting_key,
                   groupArray((c.name, c.type))
            FROM system.tables AS t
            INNER JOIN system.columns AS c ON c.database = t.database AND c.table = t.name
            WHERE t.database = currentDatabase() AND t.engine LIKE '%MergeTree'
            GROUP BY t.name, t.engine, t.sorting_key
            HAVING has(groupArray(c.name), 'project_id')
            ORDER BY t.name
            """
        )
        tables = []
        for name, engine, sorting_key, columns in result.result_rows:
            types = dict(columns)
            key = [part.strip() for part in str(sorting_key).split(",")]
            time_column = next((column for column in key if str(types.get(column, "")).startswith("DateTime")), None)
            if _IDENT.match(name):
                tables.append(_Table(name, engine, time_column))
        return tables

    async def tables(self, project_id: str) -> list[TableFigures]:
        """Every project table of the store: the project's rows and freshness in each."""
        client = await self._ch()
        figures = []
        for table in await self._tables():
            last = (
                f"toUnixTimestamp64Milli(toDateTime64(max({_quoted(table.time_column)}), 3))"
                if table.time_column
                else "0"
            )
            result = await client.query(
                f"SELECT count(), {last} FROM {_quoted(table.name)} WHERE project_id = {{project_id:String}}",  # noqa: S608 - names from system.tables, checked
                parameters={"project_id": project_id},
            )
            rows, last_ms = result.result_rows[0]
            figures.append(
                TableFigures(
                    name=table.name,
                    kind="raw" if table.name in RAW_TABLES else "rollup",
                    engine=table.engine,
                    rows=int(rows),
                    last_at_ms=int(last_ms) if rows and table.time_column else None,
                    bucket_ms=BUCKETS.get(table.time_column or "", 0) if table.name not in RAW_TABLES else 0,
                )
            )
        return figures

    async def sources(self, project_id: str, now_ms: int) -> list[SourceFigures]:
        """The project's SDK sources seen in the 24 hours before ``now_ms``, most recently seen first."""
        client = await self._ch()
        result = await client.query(
            """
            SELECT service, environment, any(concat(sdk_name, ' ', sdk_version)),
                   toUnixTimestamp64Milli(max(received_at)),
                   sumIf(events, received_at >= {rate_since:DateTime64(3)}),
                   sum(events),
                   sum(dropped_queue_full + dropped_oversize + dropped_send_failed + dropped_shutdown),
                   sum(dropped_sampled_out)
            FROM batches
            WHERE project_id = {project_id:String} AND received_at >= {since:DateTime64(3)}
              AND received_at <= {now:DateTime64(3)}
            GROUP BY service, environment
            ORDER BY max(received_at) DESC
            """,
            parameters={
                "project_id": project_id,
                "since": (now_ms - SOURCE_WINDOW_S * 1000) / 1000,
                "rate_since": (now_ms - RATE_WINDOW_S * 1000) / 1000,
                "now": now_ms / 1000,
            },
        )
        sources = []
        for service, environment, sdk, last_ms, recent, events, lost, sampled in result.result_rows:
            sources.append(
                SourceFigures(
                    service=service,
                    environment=environment,
                    sdk=sdk,
                    last_seen_ms=int(last_ms),
                    events_per_min=round(int(recent) / (RATE_WINDOW_S / 60), 3),
                    events_24h=int(events),
                    lost_24h=int(lost),
                    sampled_out_24h=int(sampled),
                    loss_ratio=round(int(lost) / (int(events) + int(lost)), 6) if int(events) + int(lost) else 0.0,
                )
            )
        return sources

    async def month_ingest(self, project_id: str, month: str) -> tuple[int, int]:
        """``(events, batches)`` the project's SDKs delivered in ``month`` (``YYYY-MM``, by arrival, UTC)."""
        client = await self._ch()
        result = await client.query(
            """
            SELECT sum(events), count() FROM batches
            WHERE project_id = {project_id:String} AND toYYYYMM(received_at) = {month:UInt32}
            """,
            parameters={"project_id": project_id, "month": int(month.replace("-", ""))},
        )
        events, batches = result.result_rows[0]
        return int(events or 0), int(batches or 0)

    async def storage(self, project_id: str, through_month: str) -> StorageFigures:
        """Compressed bytes the project holds now in partitions up to ``through_month`` (``YYYY-MM``)."""
        client = await self._ch()
        last_partition = int(through_month.replace("-", ""))
        parts = await client.query(
            """
            SELECT table, partition_id, sum(data_compressed_bytes), sum(rows)
            FROM system.parts
            WHERE database = currentDatabase() AND active
            GROUP BY table, partition_id
            """
        )
        part_totals: dict[tuple[str, str], tuple[int, int]] = {
            (table, partition): (int(size), int(rows)) for table, partition, size, rows in parts.result_rows
        }
        by_table: dict[str, int] = {}
        rows_by_table: dict[str, int] = {}
        for table in await self._tables():
            result = await client.query(
                f"SELECT _partition_id, count() FROM {_quoted(table.name)} WHERE project_id = {{project_id:String}} GROUP BY _partition_id",  # noqa: S608, E501 - names from system.tables, checked
                parameters={"project_id": project_id},
            )
            size = 0.0
            rows_kept = 0
            for partition, rows in result.result_rows:
                if partition.isdigit() and int(partition) > last_partition:
                    continue
                total_bytes, total_rows = part_totals.get((table.name, partition), (0, 0))
                if total_rows:
                    size += total_bytes * int(rows) / total_rows
                rows_kept += int(rows)
            if rows_kept:
                by_table[table.name] = round(size)
                rows_by_table[table.name] = rows_kept
        return StorageFigures(total_bytes=sum(by_table.values()), by_table=by_table, rows_by_table=rows_by_table)

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()
