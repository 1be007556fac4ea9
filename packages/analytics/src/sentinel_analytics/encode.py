"""The ClickHouse insert body: one ``JSONCompactEachRow`` row per batch into the ``ingest_batches`` landing table.

Positional rows (arrays, not objects) are cheaper on both sides: msgspec writes them from ``astuple`` without
field names, and ClickHouse parses them about 1.6x faster than keyed objects. The layout below must match the
landing table's columns; ``LANDING_COLUMNS`` is compared with the live table when a store opens.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import msgspec
from msgspec.structs import astuple

from sentinel_analytics.wire import StoredBatch

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


def landing_rows(batches: Iterable[StoredBatch]) -> bytes:
    """The insert body for ``batches``: one line per batch, events as positional tuples."""
    encode = _json.encode
    lines = [
        encode(
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
        for b in batches
    ]
    lines.append(b"")
    return b"\n".join(lines)


def group_token(batch_ids: Sequence[str]) -> str:
    """The deduplication token of an insert: a digest of the exact, sorted set of its batch ids.

    The same set of batches always gives the same token, whatever order they were read in.
    """
    digest = hashlib.blake2b(digest_size=16)
    for batch_id in sorted(batch_ids):
        digest.update(batch_id.encode())
        digest.update(b"\n")
    return digest.hexdigest()
