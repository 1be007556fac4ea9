"""Turn captures into wire events on the sender thread: decode, redact, scrub, resolve the client IP, apply limits."""

from __future__ import annotations

import os
import random
import re
import struct
import uuid
from functools import lru_cache

import msgspec

from sentinel_sdk._capture import Capture
from sentinel_sdk._ip import IpResolver
from sentinel_sdk._options import Options
from sentinel_sdk._privacy import Redactor
from sentinel_sdk._scrub import scrub_path
from sentinel_types import Consumer, limits

_METHOD = re.compile(r"[A-Z][A-Z0-9_-]*")
_COMMON_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_MAX_DURATION_NS = int(limits.MAX_DURATION_MS * 1_000_000)
_MAX_ROUTE = limits.MAX_ROUTE_LENGTH  # module constants: read once per event, a global is cheaper than an attribute
_MAX_CLIENT_IP = limits.MAX_CLIENT_IP_LENGTH
_MAX_USER_AGENT = limits.MAX_USER_AGENT_LENGTH
_ZERO_TRACE_ID = b"0" * 32  # "no trace" in W3C Trace Context
_VALID_STATUSES = frozenset(range(100, 600))
_MAX_CACHED_PATHS = 4_096  # (path, query) pairs
_ABORTED_BEFORE_RESPONSE = 499  # nginx's "client closed request": the client left before any status was sent

_VERSION_8 = 0x80  # RFC 9562's version for a layout of one's own (below), in the high nibble of byte 6
_VARIANT_RFC_4122 = 0x80  # and the variant bits 10 at the top of byte 8
_COUNTER = struct.Struct(">I")
_uuid_list = msgspec.msgpack.Decoder(list[uuid.UUID])


class EventIds:
    """Event ids, made a batch at a time: UUIDs (RFC 9562 version 8) whose first 12 bytes are random for each
    batch (90 random bits beside the version and variant) and whose last 4 count the batch's events from a random
    start.

    Ids only need to be unique (they name events, they guard nothing; the worker keeps one event per id): two
    batches share ids only if their 90 random bits are equal and their counters overlap. Sharing a prefix costs
    gzip much less than 16 random bytes per event: a batch compresses in two thirds of the time, to half the
    size. The 16 bytes of each id are what MessagePack carries (``bin 16``, the wire's UUID encoding), so a
    MessagePack batch takes them as ``bytes``: no ``uuid.UUID`` object is built (about 1.5 µs each in Python).
    The random bits come from a generator seeded from the OS's random source, not from the OS for every batch:
    reading it releases the GIL, and taking the GIL back while the app is busy costs the sender its warm caches.
    A forked child reseeds before its first batch (two processes must never make the same ids).
    """

    def __init__(self) -> None:
        self._pid = -1
        self._random = random.Random()  # noqa: S311 - unique ids, not secrets (see above)

    def raw(self, count: int) -> list[bytes]:
        """``count`` ids (at most 2**32) as their 16 bytes."""
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._random.seed(os.urandom(32))
        prefix = bytearray(self._random.randbytes(12))
        prefix[6] = (prefix[6] & 0x0F) | _VERSION_8
        prefix[8] = (prefix[8] & 0x3F) | _VARIANT_RFC_4122
        first = self._random.randrange(0x1_0000_0000 - count + 1)
        return list(map(bytes(prefix).__add__, map(_COUNTER.pack, range(first, first + count))))

    def uuids(self, count: int) -> list[uuid.UUID]:
        """``count`` ids as ``uuid.UUID`` (for the JSON wire format), built in C from one MessagePack array."""
        data = b"".join(self.raw(count))
        packed = bytearray(5 + 18 * count)  # array32 header, then per id: 0xc4 (bin8), 16 (length), 16 bytes
        packed[0] = 0xDD
        packed[1:5] = count.to_bytes(4, "big")
        packed[5::18] = b"\xc4" * count
        packed[6::18] = b"\x10" * count
        for offset in range(16):
            packed[7 + offset :: 18] = data[offset::16]
        ids: list[uuid.UUID] = _uuid_list.decode(packed)
        return ids


class WireEvent(msgspec.Struct, omit_defaults=True, gc=False):
    """What the sender encodes for one event: ``sentinel_types.Event``'s fields under the same names and
    defaults, built with one positional call (several times cheaper than keywords and attribute sets). Encoding
    does not validate; the builder applies the wire limits itself, and every batch decodes as ``Event`` (tested).
    """

    event_id: uuid.UUID | bytes  # 16 bytes for MessagePack (its UUID encoding), a UUID for JSON
    timestamp: int
    method: str
    path: str
    status: int
    duration_ms: float
    route: str | None = None
    ttfb_ms: float | None = None
    request_size: int = 0
    response_size: int = 0
    client_ip: str | None = None
    user_agent: str | None = None
    trace_id: str | None = None
    consumer: Consumer | None = None
    error: str | None = None
    aborted: bool = False
    request_headers: dict[str, str] | None = None
    response_headers: dict[str, str] | None = None
    request_body: str | None = None
    response_body: str | None = None


class EventBuilder:
    """Converts ``Capture`` objects to ``Event`` structs following the client's privacy options."""

    def __init__(self, options: Options) -> None:
        self._redactor = Redactor(
            redact_headers=options.redact_headers,
            redact_query_params=options.redact_query_params,
            redact_body_fields=options.redact_body_fields,
            scrub_values=options.scrub_values,
        )
        self._ips = IpResolver(options.trusted_proxies, options.proxy_header, options.anonymize_ip, options.ip_hash_key)
        self._peer_is_client = self._ips.passthrough
        self._scrub_values = options.scrub_values
        self._capture_query = options.capture_query
        self._captures_more = bool(options.capture_headers) or options.capture_bodies
        """Headers or bodies may be on a capture (else those fields are always None)."""
        self._query = lru_cache(maxsize=4096)(self._redactor.query)
        self._paths: dict[str, dict[bytes | str, str]] = {}
        """path -> query -> what the event says: requests repeat (path, query) pairs often enough that two dict
        lookups (no key to build) beat scrubbing and redacting again. Emptied when it holds too many pairs."""
        self._cached = 0

    @property
    def reads_proxy_header(self) -> bool:
        """True when the request path must keep the proxy header."""
        return self._ips.reads_proxy_header

    def build(self, c: Capture, event_id: uuid.UUID | bytes, clock_offset_ns: int) -> WireEvent:
        """The wire event of one capture.

        ``clock_offset_ns`` is ``time_ns() - perf_counter_ns()`` read when the batch is built: the request path
        records only the monotonic start, and the event is dated by it. A capture waits seconds at most, in which
        the two clocks move apart by microseconds (unless the wall clock is stepped meanwhile: then the event is
        dated on the new clock, as its batch is).
        """
        # The fields of almost every event in one positional call; the rare ones are set afterwards.
        start = c.start_ns
        status = c.status or (_ABORTED_BEFORE_RESPONSE if c.aborted else 500)
        duration = (c.end_ns or start) - start
        duration_ms = (duration if duration < _MAX_DURATION_NS else _MAX_DURATION_NS) / 1e6
        ttfb: int | float | None = c.ttfb_ns
        if ttfb:
            if ttfb == c.end_ns:  # a body sent in one go (Flask, most WSGI apps): the same figure
                ttfb = duration_ms
            else:
                ttfb -= start
                ttfb = (ttfb if ttfb < _MAX_DURATION_NS else _MAX_DURATION_NS) / 1e6
        else:
            ttfb = None
        route = c.route
        if self._peer_is_client:
            peer = c.peer
            client_ip = None if peer is None else peer[:_MAX_CLIENT_IP]
        else:
            client_ip = self._ips.resolve(c.peer, None if c.proxy_header is None else _text(c.proxy_header))
        agent = c.user_agent
        user_agent = None
        if agent is not None:
            user_agent = (agent.decode("latin-1") if isinstance(agent, bytes) else agent)[:_MAX_USER_AGENT]
        traceparent = c.traceparent
        trace_id = None
        if traceparent is not None:  # W3C ``00-<32 hex>-<16 hex>-<2 hex>``: the trace id, unless malformed or zero
            if not isinstance(traceparent, bytes):  # WSGI hands headers over as latin-1 text
                try:
                    traceparent = traceparent.encode("latin-1")
                except UnicodeEncodeError:
                    traceparent = b""
            # bytes.isalnum is ASCII-only, and twice as fast as str's
            if len(traceparent) >= 55 and traceparent[2] == 45 == traceparent[35]:
                trace = traceparent[3:35]
                if trace.isalnum() and trace != _ZERO_TRACE_ID:
                    trace_id = trace.decode()
        method = c.method
        queries = self._paths.get(c.path)
        path = None if queries is None else queries.get(c.query)
        if path is None:
            path = self._new_path(c.path, c.query)
        event = WireEvent(
            event_id,
            (start + clock_offset_ns) // 1_000_000,
            method if method in _COMMON_METHODS else _method(method),
            path,
            status if status in _VALID_STATUSES else 500,
            duration_ms,
            None if route is None else route[:_MAX_ROUTE],
            ttfb,
            c.request_size,
            c.response_size,
            client_ip,
            user_agent,
            trace_id,
        )
        if c.consumer is not None:
            event.consumer = _consumer(c.consumer)
        if c.error is not None:
            event.error = c.error[: limits.MAX_ERROR_LENGTH]
        if c.aborted:
            event.aborted = True
        if self._captures_more:
            self._add_headers_and_bodies(c, event)
        return event

    def _add_headers_and_bodies(self, c: Capture, event: WireEvent) -> None:
        if c.request_headers is not None:
            event.request_headers = self._redactor.headers(c.request_headers)
        if c.response_headers is not None:
            event.response_headers = self._redactor.headers(c.response_headers)
        if c.request_body is not None:
            event.request_body = self._body(c.request_body, c.request_body_type, c.request_size)
        if c.response_body is not None:
            event.response_body = self._body(c.response_body, c.response_body_type, c.response_size)

    def _new_path(self, path: str, query: bytes | str) -> str:
        """What the event says for a (path, query) pair not cached yet; cached."""
        if self._cached >= _MAX_CACHED_PATHS:
            self._paths.clear()
            self._cached = 0
        queries = self._paths.get(path)
        if queries is None:
            queries = self._paths[path] = {}
        found = queries[query] = self._scrubbed_path(path, query)
        self._cached += 1
        return found

    def _scrubbed_path(self, path: str, query: bytes | str) -> str:
        path = path or "/"
        if self._scrub_values:
            path = scrub_path(path)
        if query and self._capture_query:
            path = f"{path}?{self._query(_text(query))}"
        return path[: limits.MAX_PATH_LENGTH]

    def _body(self, body: bytearray, content_type: str | None, size: int) -> str | None:
        if content_type is None:
            return None
        return self._redactor.body(body, content_type, truncated=len(body) < size)


def _text(value: bytes | str) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _method(method: str) -> str:
    if _METHOD.fullmatch(method) is None:
        method = method.upper()
        if _METHOD.fullmatch(method) is None:
            return "UNKNOWN"
    return method[: limits.MAX_METHOD_LENGTH]


def _consumer(consumer: object) -> Consumer | None:
    # Whatever `identify` returned: only a Consumer with a non-empty string id is kept.
    if not isinstance(consumer, Consumer) or not isinstance(consumer.id, str) or not consumer.id:
        return None
    if (
        len(consumer.id) <= limits.MAX_CONSUMER_ID_LENGTH
        and (consumer.name is None or len(consumer.name) <= limits.MAX_CONSUMER_NAME_LENGTH)
        and (consumer.group is None or len(consumer.group) <= limits.MAX_CONSUMER_GROUP_LENGTH)
    ):
        return consumer
    return Consumer(
        id=consumer.id[: limits.MAX_CONSUMER_ID_LENGTH],
        name=consumer.name[: limits.MAX_CONSUMER_NAME_LENGTH] if consumer.name is not None else None,
        group=consumer.group[: limits.MAX_CONSUMER_GROUP_LENGTH] if consumer.group is not None else None,
    )
