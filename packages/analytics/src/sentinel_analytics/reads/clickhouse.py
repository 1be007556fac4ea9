"""The ClickHouse reader: the shared queries over an async clickhouse-connect client, opened on first use.

Opening lazily lets the dashboard start (and report not-ready) while ClickHouse is down. Each query runs under
the client's ``max_execution_time`` (``SENTINEL_CLICKHOUSE_QUERY_TIMEOUT_S``); hitting it is a ``ReadError`` with
``timeout=True``, which the dashboard answers with 504.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from clickhouse_connect.driver.exceptions import ClickHouseError, DatabaseError

from sentinel_analytics.clickhouse_client import create_client
from sentinel_analytics.reads.base import NEVER, SqlReader
from sentinel_analytics.reads.plan import DAY
from sentinel_analytics.reads.rows import Row
from sentinel_analytics.reads.sql import QUERIES
from sentinel_analytics.reads.types import ReadError
from sentinel_config import ClickHouseSettings

_SINCE_TTL_S = 60.0
# TIMEOUT_EXCEEDED, TOO_SLOW (the estimate says the limit will be exceeded), QUERY_WAS_CANCELLED.
_TIMEOUT_MARKS = ("TIMEOUT_EXCEEDED", "TOO_SLOW", "Code: 159.", "Code: 160.")


class ClickHouseReader(SqlReader):
    def __init__(self, settings: ClickHouseSettings, *, client: Any | None = None) -> None:
        self.settings = settings
        self._client = client
        self._lock = asyncio.Lock()
        self._since: tuple[int, float] | None = None

    async def _get_client(self) -> Any:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    try:
                        self._client = await create_client(self.settings)
                    except ClickHouseError as exc:
                        raise ReadError(f"ClickHouse is unreachable at {self.settings.url}: {exc}") from exc
        return self._client

    async def consumers_since(self) -> int:
        """``rollup_since`` of the per-consumer tables (migration 0005), read once a minute at most."""
        now = time.monotonic()
        if self._since is None or now - self._since[1] > _SINCE_TTL_S:
            try:
                rows = await self.run(
                    "SELECT toUnixTimestamp(max(since)) * 1000 AS since, count() AS n FROM rollup_since "
                    "WHERE rollup = 'consumers_all'",
                    {},
                )
            except ReadError as exc:
                if "UNKNOWN_TABLE" not in str(exc) and "Code: 60." not in str(exc):
                    raise
                rows = []  # a store not migrated this far: never read the per-consumer tables
            since = int(rows[0]["since"]) if rows and rows[0]["n"] else NEVER
            if since != NEVER:
                since = -(-since // DAY) * DAY  # a whole day, as the window plan needs
            self._since = (since, now)
        return self._since[0]

    async def _rows(self, query: str, params: dict[str, Any]) -> list[Row]:
        return await self.run(QUERIES[query], params)

    async def run(self, sql: str, params: dict[str, Any], settings: dict[str, Any] | None = None) -> list[Row]:
        """Named rows of ``sql``; ClickHouse errors become ``ReadError``."""
        client = await self._get_client()
        try:
            result = await client.query(sql, parameters=params, settings=settings)
        except DatabaseError as exc:
            text = str(exc)
            timeout = any(mark in text for mark in _TIMEOUT_MARKS)
            raise ReadError(text.splitlines()[0][:500], timeout=timeout) from exc
        except ClickHouseError as exc:
            raise ReadError(f"ClickHouse query failed: {str(exc)[:500]}") from exc
        return list(result.named_results())

    async def ping(self) -> bool:
        try:
            client = await self._get_client()
        except ReadError:
            return False
        return bool(await client.ping())

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
