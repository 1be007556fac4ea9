"""The ClickHouse insert body: one ``JSONCompactEachRow`` row per batch into the ``ingest_batches`` landing table,
and the raw archive's objects, which hold the same rows.

Positional rows (arrays, not objects) are cheaper on both sides: msgspec writes them from ``astuple`` without
field names, and ClickHouse parses them about 1.6x faster than keyed objects. The layout below must match the
landing table's columns; ``LANDING_COLUMNS`` is compared with the live table when a store opens.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
from msgspec.structs import astuple

from sentinel_analytics.wire import StoredBatch, StoredEvent

#: Column names of ``ingest_batches``, in order.
LANDING_COLUMNS = (
    "project_id",
    "tenant_id",
    "batch_id",
    "received_at",
    "sdk",
    "service",
    "environment",
    "sample_rate",
    "dropped",
    "overhead",
    "retention_days",
    "events",
)
LANDING_TABLE = "ingest_batches"
LANDING_FORMAT = "JSONCompactEachRow"

_json = msgspec.json.Encoder()


def landing_line(b: StoredBatch) -> bytes:
    """One batch as its ``ingest_batches`` row: positional, events as positional tuples, no newline."""
    return _json.encode(
        (
            b.project_id,
            b.tenant_id,
            b.batch_id,
            b.received_at,
            b.sdk,
            b.service,
            b.environment,
            b.sample_rate,
            b.dropped,
            b.overhead,
            b.retention_days,
            [astuple(e) for e in b.events],
        )
    )


def landing_rows(batches: Iterable[StoredBatch]) -> bytes:
    """The rows of ``batches``, one line each (the insert without its statement)."""
    return b"\n".join([*(landing_line(b) for b in batches), b""])


INSERT_PREFIX = f"INSERT INTO {LANDING_TABLE} FORMAT {LANDING_FORMAT}".encode()


def insert_parts(lines: Sequence[bytes]) -> list[bytes]:
    """The HTTP body of the insert of ``lines`` (``landing_line`` each) in the order it is sent: the statement,
    then each row, each followed by a newline. The parts are sent one after another, never joined into one body."""
    parts = [INSERT_PREFIX, b"\n"]
    for line in lines:
        parts += (line, b"\n")
    return parts


# --- the raw archive ---------------------------------------------------------------------------------------------

ARCHIVE_FORMAT = "sentinel.landing-rows/1"
ARCHIVE_HEADER = _json.encode(
    {"format": ARCHIVE_FORMAT, "columns": LANDING_COLUMNS, "event_fields": StoredEvent.__struct_fields__}
)
"""First line of an archive object: what the lines after it are (each the batch's row, as inserted)."""

_header = msgspec.json.Decoder(dict[str, Any])
_row = msgspec.json.Decoder(list[Any])
_old_line = msgspec.json.Decoder(StoredBatch)


def archive_text(lines: Sequence[bytes]) -> bytes:
    """An archive object before compression: the header line, then one landing row per batch.

    The rows are the bytes of the store's insert, so a batch is encoded once for both writes; the header names
    their columns, so the object reads without this code's layout."""
    return b"\n".join([ARCHIVE_HEADER, *lines, b""])


def read_archive(text: bytes) -> tuple[list[StoredBatch], int]:
    """The batches of an archive object (decompressed), and how many of its lines could not be read.

    Reads this format and the earlier one (no header, each line a batch as a JSON object). The queue entry's
    layout version (``v``) is not archived: the format line versions the rows, and batches read back are in this
    code's layout, so they carry its entry version when they are queued again."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return [], 0
    try:
        header = _header.decode(lines[0])
    except (msgspec.DecodeError, msgspec.ValidationError):
        header = None
    if header is None or "format" not in header:
        return _read_objects(lines)
    if header.get("format") != ARCHIVE_FORMAT:
        return [], len(lines) - 1  # a later format this code does not know
    columns = header.get("columns")
    fields = header.get("event_fields")
    if not isinstance(columns, list) or not isinstance(fields, list):
        return [], len(lines) - 1
    batches: list[StoredBatch] = []
    bad = 0
    for line in lines[1:]:
        try:
            batches.append(batch_from_row(line, columns, fields))
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError, TypeError):
            bad += 1
    return batches, bad


def batch_from_row(
    line: bytes, columns: Sequence[str] = LANDING_COLUMNS, event_fields: Sequence[str] = StoredEvent.__struct_fields__
) -> StoredBatch:
    """A ``landing_line`` back to its batch (raises ``msgspec.DecodeError``, ``msgspec.ValidationError``,
    ``ValueError`` or ``TypeError`` if it is not one). ``columns`` and ``event_fields`` name the row's positions: by
    default this code's layout; an archive object's header gives the layout it was written with."""
    row = _row.decode(line)
    if len(row) != len(columns):
        raise ValueError(f"{len(row)} values for {len(columns)} columns")
    batch = dict(zip(columns, row, strict=True))
    batch["events"] = [dict(zip(event_fields, event, strict=True)) for event in batch.get("events") or ()]
    return msgspec.convert(batch, StoredBatch)


def _read_objects(lines: list[bytes]) -> tuple[list[StoredBatch], int]:
    batches: list[StoredBatch] = []
    bad = 0
    for line in lines:
        try:
            batches.append(_old_line.decode(line))
        except (msgspec.DecodeError, msgspec.ValidationError):
            bad += 1
    return batches, bad


def group_token(batch_ids: Sequence[str]) -> str:
    """The deduplication token of an insert: a digest of the exact, sorted set of its batch ids.

    The same set of batches always gives the same token, whatever order they were read in.
    """
    digest = hashlib.blake2b(digest_size=16)
    for batch_id in sorted(batch_ids):
        digest.update(batch_id.encode())
        digest.update(b"\n")
    return digest.hexdigest()
