"""Sentinel's wire types: events, batches and API payloads, as msgspec Structs.

>>> from sentinel_types import Event, EventBatch, encode, decode_batch
"""

from sentinel_types import limits
from sentinel_types.codec import (
    JSON_CONTENT_TYPE,
    MSGPACK_CONTENT_TYPE,
    BatchDecodeError,
    DecodedBatch,
    TooManyEventsError,
    WireFormat,
    content_type_for,
    decode,
    decode_batch,
    decode_batch_lenient,
    encode,
    format_for_content_type,
    raw_events,
    split_error,
)
from sentinel_types.events import CaptureOverhead, Consumer, Event, EventBatch, LossCounters, SdkInfo
from sentinel_types.responses import ErrorResponse, EventRejection, IngestResponse

__version__ = "0.1.0"

__all__ = [
    "JSON_CONTENT_TYPE",
    "MSGPACK_CONTENT_TYPE",
    "BatchDecodeError",
    "CaptureOverhead",
    "Consumer",
    "DecodedBatch",
    "ErrorResponse",
    "Event",
    "EventBatch",
    "EventRejection",
    "IngestResponse",
    "LossCounters",
    "SdkInfo",
    "TooManyEventsError",
    "WireFormat",
    "content_type_for",
    "decode",
    "decode_batch",
    "decode_batch_lenient",
    "encode",
    "format_for_content_type",
    "limits",
    "raw_events",
    "split_error",
]
