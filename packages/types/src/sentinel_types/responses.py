"""Answers of the ingest API."""

import uuid

import msgspec


class EventRejection(msgspec.Struct, kw_only=True, frozen=True):
    """Why one event of a batch was not accepted."""

    index: int
    """Position of the event in the batch's ``events`` list (0-based)."""
    field: str
    """Path of the offending field inside the event, such as ``status`` or ``consumer.id``; ``$`` for the event."""
    error: str
    """What is wrong, in words."""


class IngestResponse(msgspec.Struct, kw_only=True):
    """202 answer of ``POST /v1/events/batch``."""

    batch_id: uuid.UUID
    """The batch id, echoed."""
    accepted: int
    """Events accepted and queued (0 for a duplicate batch)."""
    duplicate: bool = False
    """True when this batch id was already accepted; nothing was queued again."""
    rejected: list[EventRejection] = msgspec.field(default_factory=list)
    """Events that were not accepted, with the reason."""


class ErrorResponse(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Body of every 4xx and 5xx answer of Sentinel's APIs (unset optional fields are left out)."""

    status: int
    """HTTP status code, repeated in the body."""
    error: str
    """Stable machine-readable code, such as ``invalid_batch`` or ``rate_limited``."""
    message: str
    """What went wrong and what to do, in words."""
    field: str | None = None
    """Path of the offending field, such as ``$.events[3].status``, when one field is at fault."""
    rejected: list[EventRejection] = msgspec.field(default_factory=list)
    """Per-event rejections, when every event of a batch was rejected."""
    request_id: str | None = None
    """Id of the request, for support and log search."""
