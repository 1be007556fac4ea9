"""Redis key names of the queue, Redis Cluster ready.

Each partition's keys share one hash tag, ``{N}``, so the stream and the de-duplication marks of its batches
live in one slot: the ingest API's Lua script can mark a batch as seen and append it in one atomic step, on a
single Redis or on a cluster. Different partitions hash to different slots, so a cluster spreads them.
"""

from __future__ import annotations

import zlib

STREAM_PREFIX = "sentinel:events"
SEEN_PREFIX = "sentinel:seen"
DEAD_LETTER_STREAM = "sentinel:deadletter"
CONSUMER_GROUP = "sentinel-workers"
TAIL_CHANNEL_PREFIX = "sentinel:tail"


def partition_for(project_id: str, partitions: int) -> int:
    """The partition of a project: a stable hash, so one project's batches stay in order in one stream."""
    return zlib.crc32(project_id.encode()) % partitions


def stream_key(partition: int) -> str:
    """``sentinel:events:{3}``: the stream of partition 3."""
    return f"{STREAM_PREFIX}:{{{partition}}}"


def seen_key(partition: int, project_id: str, batch_id: str) -> str:
    """The de-duplication mark of one batch, in its partition's slot."""
    return f"{SEEN_PREFIX}:{{{partition}}}:{project_id}:{batch_id}"


def stream_keys(partitions: int) -> list[str]:
    """Every partition's stream."""
    return [stream_key(p) for p in range(partitions)]


def tail_channel(project_id: str) -> str:
    """Pub/sub channel of a project's live tail."""
    return f"{TAIL_CHANNEL_PREFIX}:{project_id}"
