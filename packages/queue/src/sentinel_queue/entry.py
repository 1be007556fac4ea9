"""The stream entry: one MessagePack blob per accepted batch, under field ``d`` of the entry.

One entry per batch, not per event: appending and reading a batch costs one command, whatever its size.
The entry carries everything the worker needs without asking the control plane: the project and tenant, the
batch id (the store's de-duplication token), when the ingest API received it, the SDK's identity and loss
counters, and the accepted events.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from sentinel_types import CaptureOverhead, Event, LossCounters, SdkInfo

ENTRY_FIELD = b"d"
ENTRY_VERSION = 1
SYNC_FIELD = b"s"
"""Optional entry field: the id of the sync job that re-enqueued the batch (archive replay, log import). The worker
mixes it into the insert's deduplication token, so a batch restored after a loss is not dropped by the store as a
repeat of the insert that first stored it."""
ARCHIVED_FIELD = b"a"
"""Optional entry field, ``b"1"``: the batch was read back from the archive, so the worker does not archive it
again."""


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


def _field_spec(info: msgspec.structs.FieldInfo) -> tuple[str, Any, Any]:
    kind = msgspec.Raw if info.name == "events" else info.type
    if info.default_factory is not msgspec.NODEFAULT:
        return info.name, kind, msgspec.field(default_factory=info.default_factory)
    return info.name, kind, info.default


# The same entry with its events already encoded: the ingest API copies a MessagePack body's events array as it
# came (after validating it) instead of encoding the events again. Built from QueuedBatch so the two never drift.
_QueuedBatchRawEvents = msgspec.defstruct(
    "_QueuedBatchRawEvents",
    [
        _field_spec(info)
        if info.default is not msgspec.NODEFAULT or info.default_factory is not msgspec.NODEFAULT
        else (info.name, info.type)
        for info in msgspec.structs.fields(QueuedBatch)
    ],
    kw_only=True,
    omit_defaults=True,
)

_encoder = msgspec.msgpack.Encoder(uuid_format="bytes")
_decoder = msgspec.msgpack.Decoder(QueuedBatch)


def encode_entry(batch: QueuedBatch, *, events_msgpack: msgspec.Raw | bytes | None = None) -> bytes:
    """The blob to store under ``ENTRY_FIELD``.

    ``events_msgpack``, when given, is the events array already encoded as MessagePack (``batch.events`` is then
    ignored): it must decode as ``list[Event]``, which the caller has checked.
    """
    if events_msgpack is None:
        return _encoder.encode(batch)
    fields = {name: getattr(batch, name) for name in batch.__struct_fields__ if name != "events"}
    raw = events_msgpack if isinstance(events_msgpack, msgspec.Raw) else msgspec.Raw(events_msgpack)
    return _encoder.encode(_QueuedBatchRawEvents(**fields, events=raw))


def decode_entry(blob: bytes) -> QueuedBatch:
    """Decode a blob; raises ``msgspec.DecodeError`` (a poison entry) if it is not a batch."""
    return _decoder.decode(blob)
