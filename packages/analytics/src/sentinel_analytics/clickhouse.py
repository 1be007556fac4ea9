"""The ClickHouse backend: one deduplicated insert per group of batches into the landing table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp
import msgspec
from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import Payload
from clickhouse_connect.driver.exceptions import ClickHouseError, DatabaseError, OperationalError

from sentinel_analytics.clickhouse_client import create_client
from sentinel_analytics.encode import LANDING_COLUMNS, LANDING_TABLE, insert_parts, landing_line
from sentinel_analytics.store import DeadLetter, StoreError
from sentinel_analytics.wire import StoredBatch
from sentinel_config import ClickHouseSettings

#: Settings of every insert. The token makes a repeated insert a no-op in the landing table's targets and in
#: every materialized view below them (the tables set ``non_replicated_deduplication_window``).
INSERT_SETTINGS: dict[str, Any] = {
    "async_insert": 0,
    "insert_deduplicate": 1,
    "deduplicate_blocks_in_dependent_materialized_views": 1,
    "input_format_json_read_objects_as_strings": 1,
    "input_format_json_named_tuples_as_objects": 1,
    "input_format_json_defaults_for_missing_elements_in_named_tuple": 1,
    "input_format_parallel_parsing": 0,
}

# ClickHouse error codes that mean "this data is wrong", not "the server is unwell": retrying cannot help.
_REJECTED_CODES = frozenset({6, 26, 27, 38, 41, 53, 62, 69, 70, 72, 117, 130, 321, 377, 499, 1001})
_CODE_MARK = "Code: "

_dead_letter_columns = [
    "stream",
    "entry_id",
    "first_seen",
    "dead_lettered_at",
    "deliveries",
    "project_id",
    "batch_id",
    "error",
    "payload",
]


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _error_code(exc: Exception) -> int | None:
    text = str(exc)
    start = text.find(_CODE_MARK)
    if start < 0:
        return None
    digits = "".join(ch for ch in text[start + len(_CODE_MARK) : start + len(_CODE_MARK) + 6] if ch.isdigit())
    return int(digits) if digits else None


def store_error(exc: Exception) -> StoreError:
    """Classify a clickhouse-connect failure: connection problems and server trouble are retryable."""
    if isinstance(exc, DatabaseError) and not isinstance(exc, OperationalError):
        code = _error_code(exc)
        if code in _REJECTED_CODES:
            return StoreError(f"ClickHouse rejected the data: {exc}", retryable=False)
    return StoreError(f"ClickHouse write failed: {exc}", retryable=True)


class InsertBody(Payload):
    """An insert's HTTP body sent as its parts (``insert_parts``), one write each.

    Given one ``bytes`` body, the HTTP client copies it into a ``BytesIO`` and reads that back in 64 KB copies; and
    joining the rows into that body was one more copy. For an insert of 100,000 events that is three copies of
    ~25 MB into fresh memory. The parts are kept, so the body can be sent again (``write_rows`` retries a broken
    connection itself: the client replays only bytes bodies)."""

    def __init__(self, parts: list[bytes]) -> None:
        super().__init__(parts, content_type="application/octet-stream")
        self._size = sum(map(len, parts))

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return b"".join(self._value).decode(encoding, errors)

    async def write(self, writer: AbstractStreamWriter) -> None:
        for part in self._value:
            await writer.write(part)


class ClickHouseStore:
    """Writes to ClickHouse over HTTP (clickhouse-connect, async)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    @classmethod
    async def open(cls, settings: ClickHouseSettings) -> ClickHouseStore:
        return cls(await create_client(settings))

    async def check_layout(self) -> None:
        """Fail fast if the landing table's columns are not the layout this code writes."""
        result = await self.client.query(
            "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {t:String} "
            "ORDER BY position",
            parameters={"t": LANDING_TABLE},
        )
        columns = tuple(row[0] for row in result.result_rows)
        if columns != LANDING_COLUMNS:
            raise StoreError(
                f"table {LANDING_TABLE} has columns {columns}, this worker writes {LANDING_COLUMNS}: "
                "run `sentinel-worker migrate` with the matching migrations",
                retryable=False,
            )

    async def write(self, token: str, batches: Sequence[StoredBatch]) -> None:
        await self.write_rows(token, [landing_line(batch) for batch in batches])

    async def write_rows(self, token: str, lines: Sequence[bytes]) -> None:
        if not lines:
            return
        body = InsertBody(insert_parts(lines))
        settings = {**INSERT_SETTINGS, "insert_deduplication_token": token}
        for attempt in (1, 2):
            try:
                await self.client.raw_insert(None, insert_block=body, settings=settings)  # the body has the INSERT
                return
            except OperationalError as exc:
                # The connection broke (a pooled keep-alive connection the server had closed): once more at once on
                # a new one. The client replays only bytes bodies itself; the token makes a repeat harmless.
                if attempt == 2 or not isinstance(exc.__cause__, aiohttp.ClientConnectionError):
                    raise store_error(exc) from exc
            except (ClickHouseError, OSError) as exc:
                raise store_error(exc) from exc

    async def write_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        if not letters:
            return
        rows = [
            [
                letter.stream,
                letter.entry_id,
                _utc(letter.first_seen),
                _utc(letter.dead_lettered_at),
                letter.deliveries,
                letter.project_id,
                letter.batch_id,
                letter.error,
                letter.payload,
            ]
            for letter in letters
        ]
        try:
            await self.client.insert(
                "dead_letters", rows, column_names=_dead_letter_columns, settings={"async_insert": 0}
            )
        except (ClickHouseError, OSError) as exc:
            raise store_error(exc) from exc

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except (ClickHouseError, OSError):
            return False

    async def close(self) -> None:
        await self.client.close()


def decode_json_object(text: str | None) -> dict[str, str] | None:
    """A header map stored as JSON text back to a dict (None stays None)."""
    return None if text is None else msgspec.json.decode(text, type=dict[str, str])
