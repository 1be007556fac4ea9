"""Sentinel's queue contract, shared by the ingest API (writer) and the worker (reader)."""

from sentinel_queue.entry import ENTRY_FIELD, ENTRY_VERSION, QueuedBatch, decode_entry, encode_entry
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

__all__ = [
    "CONSUMER_GROUP",
    "DEAD_LETTER_STREAM",
    "ENTRY_FIELD",
    "ENTRY_VERSION",
    "QueuedBatch",
    "decode_entry",
    "encode_entry",
    "partition_for",
    "partition_lag",
    "seen_key",
    "stream_key",
    "stream_keys",
    "tail_channel",
]
