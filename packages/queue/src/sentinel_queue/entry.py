"""The stream entry: one MessagePack blob per accepted batch, under field ``d`` of the entry.

One entry per batch, not per event: appending and reading a batch costs one command, whatever its size.
The entry carries everything the worker needs without asking the control plane: the project and tenant, the
batch id (the store's de-duplication token), when the ingest API received it, the SDK's identity and loss
counters, and the accepted events.
"""

from __future__ import annotations

import uuid

import msgspec

from sentinel_types import CaptureOverhead, Event, LossCounters, SdkInfo

ENTRY_FIELD = b"d"
ENTRY_VERSION = 1


class QueuedBatch(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """What the ingest API appends to the stream and the worker reads back."""

    v: int = ENTRY_VERSION
    """Entry format version; readers accept this version and older."""
    project_id: str
    tenant_id: str
    batch_id: uuid.UUID
    received_at: int
    """When the ingest API accepted the batch, UTC milliseconds."""
    sdk: SdkInfo
    service: str = "default"
    environment: str = "production"
    sample_rate: float = 1.0
    dropped: LossCounters = msgspec.field(default_factory=LossCounters)
    overhead: CaptureOverhead | None = None
    events: list[Event] = msgspec.field(default_factory=list)
    retention_days: int = 0
    """The project's retention when the batch was accepted, in days; 0 means unknown (the worker applies its
    default). The analytics store expires rows after it."""


_encoder = msgspec.msgpack.Encoder(uuid_format="bytes")
_decoder = msgspec.msgpack.Decoder(QueuedBatch)


def encode_entry(batch: QueuedBatch) -> bytes:
    """The blob to store under ``ENTRY_FIELD``."""
    return _encoder.encode(batch)


def decode_entry(blob: bytes) -> QueuedBatch:
    """Decode a blob; raises ``msgspec.DecodeError`` (a poison entry) if it is not a batch."""
    return _decoder.decode(blob)
