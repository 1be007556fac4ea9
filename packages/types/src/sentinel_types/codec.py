"""Encoding and decoding of batches, in JSON and MessagePack.

``decode_batch`` is strict: one bad event fails the whole batch. ``decode_batch_lenient`` validates the batch
envelope strictly and each event on its own, so the ingest API can accept the good events and report the bad
ones by index and field.

Whatever the bytes, both raise only ``BatchDecodeError`` (``TooManyEventsError`` included): strings that are not
UTF-8 and values nested deeper than the decoder can follow are reported like any other malformed body, and a body
of millions of tiny elements is refused without holding one object per element.
"""

import codecs
import functools
import itertools
import re
from typing import Any, Literal, TypeVar

import msgspec

from sentinel_types import limits
from sentinel_types.events import Event, EventBatch, _BatchEnvelope
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
    """The batch holds more events than the limit.

    ``count`` is how many it holds; when ``exact`` is False it is a lower bound (a JSON body is not counted past
    the limit, so that an array of millions of tiny elements costs no memory).
    """

    def __init__(self, count: int, limit: int, *, exact: bool = True) -> None:
        holds = str(count) if exact else f"more than {limit}"
        super().__init__("$.events", f"a batch may hold at most {limit} events, this one holds {holds}")
        self.count = count
        self.limit = limit
        self.exact = exact


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
    """Map a ``Content-Type`` header to a wire format; None when it is neither JSON nor MessagePack, or JSON
    declared in a charset other than UTF-8 (JSON on the wire is UTF-8; reading it as such would garble it)."""
    if not content_type:
        return None
    media, *params = (part.strip().lower() for part in content_type.split(";"))
    if media == JSON_CONTENT_TYPE:
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "charset" and value.strip().strip('"') not in ("utf-8", "utf8"):
                return None
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
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
        raise _body_error(exc, fmt, data) from exc


def decode_batch_lenient(
    data: bytes, fmt: WireFormat = "msgpack", *, max_events: int = limits.MAX_EVENTS_PER_BATCH
) -> DecodedBatch:
    """Decode a batch keeping every valid event and listing the invalid ones.

    Raises ``BatchDecodeError`` when the body is not a batch at all (malformed, or the envelope is invalid),
    and ``TooManyEventsError`` when it holds more than ``max_events`` events.
    """
    try:
        batch = decode(data, EventBatch, fmt)
    except (msgspec.ValidationError, UnicodeDecodeError):
        pass  # some event, the envelope, or the event count is wrong: find out which below
    except (msgspec.DecodeError, RecursionError) as exc:
        raise _body_error(exc, fmt, data) from exc
    else:
        if len(batch.events) > max_events:
            raise TooManyEventsError(len(batch.events), max_events)
        count = len(batch.events)
        return DecodedBatch(batch=batch, rejected=[], received=count, indexes=list(range(count)))

    # Events are taken undecoded, at most max_events + 1 of them: the decoder skips the rest without keeping them.
    try:
        raw = decode(data, _raw_batch_type(max_events), fmt)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
        raise _body_error(exc, fmt, data) from exc
    slots: tuple[msgspec.Raw, ...] = msgspec.structs.astuple(raw.events)
    if len(slots[max_events]):
        raise _too_many(data, fmt, max_events)
    events = list(itertools.takewhile(len, slots))
    received = len(events)
    if received == 0:
        raise BatchDecodeError("$.events", "a batch must hold at least one event")

    accepted: list[Event] = []
    indexes: list[int] = []
    rejected: list[EventRejection] = []
    for index, raw_event in enumerate(events):
        try:
            accepted.append(decode(raw_event, Event, fmt))
            indexes.append(index)
        except msgspec.DecodeError as exc:
            path, message = split_error(exc)
            field = path[2:] if path.startswith("$.") else path
            rejected.append(EventRejection(index=index, field=field, error=message))
        except (RecursionError, UnicodeDecodeError) as exc:
            rejected.append(EventRejection(index=index, field="$", error=_undecodable(exc, fmt)))
    envelope = {name: getattr(raw, name) for name in _BatchEnvelope.__struct_fields__}
    return DecodedBatch(
        batch=EventBatch(**envelope, events=accepted), rejected=rejected, received=received, indexes=indexes
    )


_NO_EVENT = msgspec.Raw()


@functools.cache
def _raw_batch_type(max_events: int) -> type[Any]:
    """A batch whose ``events`` are ``max_events + 1`` undecoded slots (an empty ``Raw`` where the array ended)."""
    slots = msgspec.defstruct(
        "_EventSlots",
        [(f"e{i}", msgspec.Raw, _NO_EVENT) for i in range(max_events + 1)],
        array_like=True,
        gc=False,
    )
    return msgspec.defstruct("_RawEventBatch", [("events", slots)], bases=(_BatchEnvelope,), kw_only=True)


def _too_many(data: bytes, fmt: WireFormat, max_events: int) -> TooManyEventsError:
    # A MessagePack array states its length up front; a JSON array would have to be walked, and is not.
    if fmt == "msgpack":
        header = bytes(memoryview(raw_events(data, fmt))[:5])
        if 0x90 <= header[0] <= 0x9F:
            return TooManyEventsError(header[0] & 0x0F, max_events)
        if header[:1] == b"\xdc":
            return TooManyEventsError(int.from_bytes(header[1:3], "big"), max_events)
        if header[:1] == b"\xdd":
            return TooManyEventsError(int.from_bytes(header[1:5], "big"), max_events)
    return TooManyEventsError(max_events + 1, max_events, exact=False)


class _EventsOnly(msgspec.Struct):
    events: msgspec.Raw


def raw_events(data: bytes, fmt: WireFormat = "msgpack") -> msgspec.Raw:
    """The ``events`` array of a batch body exactly as encoded, without decoding the events (the body must have
    been validated already)."""
    raw: msgspec.Raw = decode(data, _EventsOnly, fmt).events
    return raw


def _body_error(exc: Exception, fmt: WireFormat, data: bytes) -> BatchDecodeError:
    if isinstance(exc, msgspec.ValidationError):
        # The decoder validates as it reads: a truncated "0.5" is a "0" that breaks a bound before the end is seen.
        try:
            decode(data, msgspec.Raw, fmt)
        except (msgspec.DecodeError, RecursionError) as malformed:
            return _body_error(malformed, fmt, data)
        path, message = split_error(exc)
        return BatchDecodeError(path, message)
    if isinstance(exc, RecursionError | UnicodeDecodeError):
        return BatchDecodeError("$", _undecodable(exc, fmt))
    return BatchDecodeError("$", f"body is not valid {_NAMES[fmt]}: {exc}{_encoding_hint(data, fmt)}")


_NAMES: dict[WireFormat, str] = {"json": "JSON", "msgpack": "MessagePack"}
_WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _undecodable(exc: RecursionError | UnicodeDecodeError, fmt: WireFormat) -> str:
    if isinstance(exc, RecursionError):
        return f"the {_NAMES[fmt]} nests arrays or maps deeper than the decoder follows: send flatter data"
    return f"a string is not valid UTF-8 ({exc.reason}, byte 0x{exc.object[exc.start]:02x}): send strings as UTF-8"


def _encoding_hint(data: bytes, fmt: WireFormat) -> str:
    if fmt != "json":
        return ""
    if data.startswith(codecs.BOM_UTF8):
        return " (the body starts with a byte order mark: send UTF-8 without one)"
    if data.startswith(_WIDE_BOMS) or b"\0" in data[:4]:
        return " (the body looks like UTF-16 or UTF-32: send UTF-8)"
    return ""
