"""Turn captures into wire events on the sender thread: decode, redact, scrub, resolve the client IP, apply limits."""

from __future__ import annotations

import os
import re
import uuid
from functools import lru_cache

import msgspec

from sentinel_sdk._capture import Capture
from sentinel_sdk._ip import IpResolver
from sentinel_sdk._options import Options
from sentinel_sdk._privacy import Redactor
from sentinel_sdk._scrub import scrub_path
from sentinel_types import Consumer, Event, limits

_METHOD = re.compile(r"[A-Z][A-Z0-9_-]*")
_COMMON_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_MAX_DURATION_NS = int(limits.MAX_DURATION_MS * 1_000_000)
_MAX_ROUTE = limits.MAX_ROUTE_LENGTH  # module constants: read once per event, a global is cheaper than an attribute
_MAX_CLIENT_IP = limits.MAX_CLIENT_IP_LENGTH
_MAX_USER_AGENT = limits.MAX_USER_AGENT_LENGTH
_ZERO_TRACE_ID = b"0" * 32  # "no trace" in W3C Trace Context
_ABORTED_BEFORE_RESPONSE = 499  # nginx's "client closed request": the client left before any status was sent

_VERSION_4 = bytes((byte & 0x0F) | 0x40 for byte in range(256))
_VARIANT_RFC_4122 = bytes((byte & 0x3F) | 0x80 for byte in range(256))
_uuid_list = msgspec.msgpack.Decoder(list[uuid.UUID])


def event_ids(count: int) -> list[uuid.UUID]:
    """``count`` random (version 4) UUIDs from one read of the OS's random source.

    ``uuid.UUID(...)`` costs about 1.5 µs in Python; msgspec builds UUIDs in C from 16-byte MessagePack
    ``bin`` values, so the random bytes are laid out as a MessagePack array of them and decoded at once
    (about 0.15 µs per id).
    """
    random = bytearray(os.urandom(16 * count))
    random[6::16] = random[6::16].translate(_VERSION_4)
    random[8::16] = random[8::16].translate(_VARIANT_RFC_4122)
    packed = bytearray(5 + 18 * count)  # array32 header, then per id: 0xc4 (bin8), 16 (length), 16 bytes
    packed[0] = 0xDD
    packed[1:5] = count.to_bytes(4, "big")
    packed[5::18] = b"\xc4" * count
    packed[6::18] = b"\x10" * count
    for offset in range(16):
        packed[7 + offset :: 18] = random[offset::16]
    ids: list[uuid.UUID] = _uuid_list.decode(packed)
    return ids


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
        self._query = lru_cache(maxsize=4096)(self._redactor.query)
        # Requests repeat (path, query) pairs often enough that one lookup beats scrubbing and redacting again.
        self._path = lru_cache(maxsize=4096)(self._scrubbed_path)

    @property
    def reads_proxy_header(self) -> bool:
        """True when the request path must keep the proxy header."""
        return self._ips.reads_proxy_header

    def build(self, c: Capture, event_id: uuid.UUID) -> Event:
        """The wire event of one capture."""
        # Only the required fields go through the constructor; the others are set when they differ from their
        # default, which is several times cheaper than passing every field by keyword.
        start = c.start_ns
        status = c.status or (_ABORTED_BEFORE_RESPONSE if c.aborted else 500)
        duration = (c.end_ns or start) - start
        event = Event(
            event_id=event_id,
            timestamp=c.wall_ns // 1_000_000,
            method=c.method if c.method in _COMMON_METHODS else _method(c.method),
            path=self._path(c.path, c.query),
            status=status if 100 <= status <= 599 else 500,
            duration_ms=(duration if duration < _MAX_DURATION_NS else _MAX_DURATION_NS) / 1e6,
        )
        if c.route is not None:
            event.route = c.route[:_MAX_ROUTE]
        if c.ttfb_ns:
            ttfb = c.ttfb_ns - start
            event.ttfb_ms = (ttfb if ttfb < _MAX_DURATION_NS else _MAX_DURATION_NS) / 1e6
        if c.request_size:
            event.request_size = c.request_size
        if c.response_size:
            event.response_size = c.response_size
        if self._peer_is_client:
            if c.peer is not None:
                event.client_ip = c.peer[:_MAX_CLIENT_IP]
        else:
            event.client_ip = self._ips.resolve(c.peer, None if c.proxy_header is None else _text(c.proxy_header))
        user_agent = c.user_agent
        if user_agent is not None:
            text = user_agent.decode("latin-1") if isinstance(user_agent, bytes) else user_agent
            event.user_agent = text[:_MAX_USER_AGENT]
        traceparent = c.traceparent
        if traceparent is not None:  # W3C ``00-<32 hex>-<16 hex>-<2 hex>``: the trace id, unless malformed or zero
            if isinstance(traceparent, str):  # WSGI hands headers over as latin-1 text
                try:
                    traceparent = traceparent.encode("latin-1")
                except UnicodeEncodeError:
                    traceparent = b""
            # bytes.isalnum is ASCII-only, and twice as fast as str's
            if len(traceparent) >= 55 and traceparent[2] == 45 == traceparent[35]:
                trace_id = traceparent[3:35]
                if trace_id.isalnum() and trace_id != _ZERO_TRACE_ID:
                    event.trace_id = trace_id.decode()
        if c.consumer is not None:
            event.consumer = _consumer(c.consumer)
        if c.error is not None:
            event.error = c.error[: limits.MAX_ERROR_LENGTH]
        if c.aborted:
            event.aborted = True
        if c.request_headers is not None:
            event.request_headers = self._redactor.headers(c.request_headers)
        if c.response_headers is not None:
            event.response_headers = self._redactor.headers(c.response_headers)
        if c.request_body is not None:
            event.request_body = self._body(c.request_body, c.request_body_type, c.request_size)
        if c.response_body is not None:
            event.response_body = self._body(c.response_body, c.response_body_type, c.response_size)
        return event

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
