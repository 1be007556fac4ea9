"""Sentinel's queue contract, shared by the ingest API (writer) and the worker (reader)."""

from sentinel_queue.entry import (
    ARCHIVED_FIELD,
    ENTRY_FIELD,
    ENTRY_VERSION,
    SYNC_FIELD,
    QueuedBatch,
    decode_entry,
    encode_entry,
)
from sentinel_queue.lag import partition_lag
from sentinel_queue.names import (
    CONSUMER_GROUP,
    DEAD_LETTER_STREAM,
    partition_for,
    seen_key,
    stream_key,
    stream_keys,
    tail_channel,
)
from sentinel_queue.updates import (
    RESUMABLE,
    TOPICS,
    Topic,
    backlog_after,
    channel,
    id_key,
    publish_update,
    split_message,
    updates_stream,
)

__all__ = [
    "ARCHIVED_FIELD",
    "CONSUMER_GROUP",
    "DEAD_LETTER_STREAM",
    "ENTRY_FIELD",
    "ENTRY_VERSION",
    "RESUMABLE",
    "SYNC_FIELD",
    "TOPICS",
    "QueuedBatch",
    "Topic",
    "backlog_after",
    "channel",
    "decode_entry",
    "encode_entry",
    "id_key",
    "partition_for",
    "partition_lag",
    "publish_update",
    "seen_key",
    "split_message",
    "stream_key",
    "stream_keys",
    "tail_channel",
    "updates_stream",
]
