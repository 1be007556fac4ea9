"""Encoding and decoding of batches, in JSON and MessagePack.

``decode_batch`` is strict: one bad event fails the whole batch. ``decode_batch_lenient`` validates the batch
envelope strictly and each event on its own, so the ingest API can accept the good events and report the bad
ones by index and field.
"""

import re
from typing import Any, Literal, TypeVar

import msgspec

from sentinel_types import limits
from sentinel_types.events import Event, EventBatch, _BatchEnvelope, _RawEventBatch
from sentinel_types.responses import EventRejection

WireFormat = Literal["json", "msgpack"]
"""The two body encodings the ingest API speaks."""

JSON_CONTENT_TYPE = "application/json"
MSGPACK_CONTENT_TYPE = "application/msgpack"
_MSGPACK_CONTENT_TYPES = frozenset({"application/msgpack", "application/x-msgpack", "application/vnd.msgpack"})

_T = TypeVar("_T")

_json_encoder = msgspec.json.Encoder()
# UUIDs as 16 raw bytes: 20 bytes shorter per id than the canonical string; decoders accept both.
_msgpack_encoder = msgspec.msgpack.Encoder(uuid_format="bytes")

_json_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}
_msgpack_decoders: dict[type[Any], msgspec.msgpack.Decoder[Any]] = {}

_PATH_SUFFIX = re.compile(r" - at `(?P<path>\$[^`]*)`$")


class BatchDecodeError(ValueError):
    """The body is not a valid batch. ``field`` is the JSON path at fault (``$`` for the whole body)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class TooManyEventsError(BatchDecodeError):
    """The batch holds more events than the limit."""

    def __init__(self, count: int, limit: int) -> None:
        super().__init__("$.events", f"a batch may hold at most {limit} events, this one holds {count}")
        self.count = count
        self.limit = limit


class DecodedBatch(msgspec.Struct, kw_only=True):
    """Result of a lenient decode: the batch with only its valid events, and the rejected ones."""

    batch: EventBatch
    """The batch; ``batch.events`` holds the accepted events only (possibly none)."""
    rejected: list[EventRejection]
    """One entry per invalid event, in batch order."""
    received: int
    """How many events the body held in all."""
    indexes: list[int]
    """Position in the body of each accepted event (``batch.events[i]`` was at ``indexes[i]``)."""


def format_for_content_type(content_type: str | None) -> WireFormat | None:
    """Map a ``Content-Type`` header to a wire format; None when it is neither JSON nor MessagePack."""
    if not content_type:
        return None
    media = content_type.split(";", 1)[0].strip().lower()
    if media == JSON_CONTENT_TYPE:
        return "json"
    if media in _MSGPACK_CONTENT_TYPES:
        return "msgpack"
    return None


def content_type_for(fmt: WireFormat) -> str:
    """The ``Content-Type`` to send for a wire format."""
    return JSON_CONTENT_TYPE if fmt == "json" else MSGPACK_CONTENT_TYPE


def encode(obj: Any, fmt: WireFormat = "msgpack") -> bytes:
    """Encode any Sentinel Struct (or builtin value) to JSON or MessagePack."""
    if fmt == "json":
        return _json_encoder.encode(obj)
    if fmt == "msgpack":
        return _msgpack_encoder.encode(obj)
    raise ValueError(f"unknown wire format {fmt!r}: expected 'json' or 'msgpack'")


def decode(data: bytes, type_: type[_T], fmt: WireFormat = "msgpack") -> _T:
    """Decode ``data`` as ``type_``; raises ``msgspec.DecodeError`` or ``msgspec.ValidationError``."""
    decoder: msgspec.json.Decoder[Any] | msgspec.msgpack.Decoder[Any]
    if fmt == "json":
        decoder = _json_decoders.get(type_) or _json_decoders.setdefault(type_, msgspec.json.Decoder(type_))
    elif fmt == "msgpack":
        decoder = _msgpack_decoders.get(type_) or _msgpack_decoders.setdefault(type_, msgspec.msgpack.Decoder(type_))
    else:
        raise ValueError(f"unknown wire format {fmt!r}: expected 'json' or 'msgpack'")
    result: _T = decoder.decode(data)
    return result


def split_error(exc: msgspec.MsgspecError) -> tuple[str, str]:
    """Split a msgspec error into (JSON path, message): ``("$.events[0].status", "Expected `int` ...")``."""
    text = str(exc)
    match = _PATH_SUFFIX.search(text)
    if match is None:
        return "$", text
    return match.group("path"), text[: match.start()]


def decode_batch(data: bytes, fmt: WireFormat = "msgpack") -> EventBatch:
    """Decode a whole batch strictly; raises ``BatchDecodeError`` naming the first field at fault."""
    try:
        return decode(data, EventBatch, fmt)
    except msgspec.DecodeError as exc:
        raise _body_error(exc, fmt) from exc


def decode_batch_lenient(
    data: bytes, fmt: WireFormat = "msgpack", *, max_events: int = limits.MAX_EVENTS_PER_BATCH
) -> DecodedBatch:
    """Decode a batch keeping every valid event and listing the invalid ones.

    Raises ``BatchDecodeError`` when the body is not a batch at all (malformed, or the envelope is invalid),
    and ``TooManyEventsError`` when it holds more than ``max_events`` events.
    """
    try:
        batch = decode(data, EventBatch, fmt)
    except msgspec.ValidationError:
        pass  # some event, the envelope, or the event count is wrong: find out which below
    except msgspec.DecodeError as exc:
        raise _body_error(exc, fmt) from exc
    else:
        if len(batch.events) > max_events:
            raise TooManyEventsError(len(batch.events), max_events)
        count = len(batch.events)
        return DecodedBatch(batch=batch, rejected=[], received=count, indexes=list(range(count)))

    try:
        raw = decode(data, _RawEventBatch, fmt)
    except msgspec.DecodeError as exc:
        raise _body_error(exc, fmt) from exc
    received = len(raw.events)
    if received > max_events:
        raise TooManyEventsError(received, max_events)
    if received == 0:
        raise BatchDecodeError("$.events", "a batch must hold at least one event")

    accepted: list[Event] = []
    indexes: list[int] = []
    rejected: list[EventRejection] = []
    for index, raw_event in enumerate(raw.events):
        try:
            accepted.append(decode(raw_event, Event, fmt))
            indexes.append(index)
        except msgspec.DecodeError as exc:
            path, message = split_error(exc)
            field = path[2:] if path.startswith("$.") else path
            rejected.append(EventRejection(index=index, field=field, error=message))
    envelope = {name: getattr(raw, name) for name in _BatchEnvelope.__struct_fields__}
    return DecodedBatch(
        batch=EventBatch(**envelope, events=accepted), rejected=rejected, received=received, indexes=indexes
    )


class _EventsOnly(msgspec.Struct):
    events: msgspec.Raw


def raw_events(data: bytes, fmt: WireFormat = "msgpack") -> msgspec.Raw:
    """The ``events`` array of a batch body exactly as encoded, without decoding the events (the body must have
    been validated already)."""
    raw: msgspec.Raw = decode(data, _EventsOnly, fmt).events
    return raw


def _body_error(exc: msgspec.DecodeError, fmt: WireFormat) -> BatchDecodeError:
    if isinstance(exc, msgspec.ValidationError):
        path, message = split_error(exc)
        return BatchDecodeError(path, message)
    return BatchDecodeError("$", f"body is not valid {'JSON' if fmt == 'json' else 'MessagePack'}: {exc}")
