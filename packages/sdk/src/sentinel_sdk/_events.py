"""Turn captures into wire events on the sender thread: decode, redact, scrub, resolve the client IP, apply limits."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator

from sentinel_sdk._capture import Capture
from sentinel_sdk._ip import IpResolver
from sentinel_sdk._options import Options
from sentinel_sdk._privacy import Redactor
from sentinel_sdk._scrub import scrub_path
from sentinel_types import Consumer, Event, limits

_METHOD = re.compile(r"[A-Z][A-Z0-9_-]*")
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-(?P<trace_id>[0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")
_MAX_DURATION_NS = int(limits.MAX_DURATION_MS * 1_000_000)
_ABORTED_BEFORE_RESPONSE = 499  # nginx's "client closed request": the client left before any status was sent


def event_ids(count: int) -> Iterator[uuid.UUID]:
    """``count`` random (version 4) UUIDs from one read of the OS's random source."""
    data = os.urandom(16 * count)
    for offset in range(0, 16 * count, 16):
        yield uuid.UUID(bytes=data[offset : offset + 16], version=4)


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
        self._scrub_values = options.scrub_values
        self._capture_query = options.capture_query

    @property
    def reads_proxy_header(self) -> bool:
        """True when the request path must keep the proxy header."""
        return self._ips.reads_proxy_header

    def build(self, capture: Capture, event_id: uuid.UUID) -> Event:
        """The wire event of one capture."""
        c = capture
        end_ns = c.end_ns or c.start_ns
        status = c.status or (_ABORTED_BEFORE_RESPONSE if c.aborted else 500)
        header = _text(c.proxy_header) if c.proxy_header is not None else None
        return Event(
            event_id=event_id,
            timestamp=c.wall_ns // 1_000_000,
            method=_method(c.method),
            path=self._path(c.path, c.query),
            status=status if 100 <= status <= 599 else 500,
            duration_ms=min(max(end_ns - c.start_ns, 0), _MAX_DURATION_NS) / 1e6,
            route=c.route[: limits.MAX_ROUTE_LENGTH] if c.route is not None else None,
            ttfb_ms=min(max(c.ttfb_ns - c.start_ns, 0), _MAX_DURATION_NS) / 1e6 if c.ttfb_ns else None,
            request_size=c.request_size,
            response_size=c.response_size,
            client_ip=self._ips.resolve(c.peer, header),
            user_agent=_text(c.user_agent)[: limits.MAX_USER_AGENT_LENGTH] if c.user_agent is not None else None,
            consumer=_consumer(c.consumer) if c.consumer is not None else None,
            request_headers=self._redactor.headers(c.request_headers) if c.request_headers is not None else None,
            response_headers=self._redactor.headers(c.response_headers) if c.response_headers is not None else None,
            request_body=self._body(c.request_body, c.request_body_type, c.request_size),
            response_body=self._body(c.response_body, c.response_body_type, c.response_size),
            error=c.error[: limits.MAX_ERROR_LENGTH] if c.error is not None else None,
            aborted=c.aborted,
            trace_id=_trace_id(c.traceparent) if c.traceparent is not None else None,
        )

    def _path(self, path: str, query: bytes | str) -> str:
        path = path or "/"
        if self._scrub_values:
            path = scrub_path(path)
        if query and self._capture_query:
            path = f"{path}?{self._redactor.query(_text(query))}"
        return path[: limits.MAX_PATH_LENGTH]

    def _body(self, body: bytearray | None, content_type: str | None, size: int) -> str | None:
        if body is None or content_type is None:
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


def _trace_id(traceparent: bytes | str) -> str | None:
    match = _TRACEPARENT.fullmatch(_text(traceparent).strip())
    if match is None or match.group("trace_id") == "0" * 32:
        return None
    return match.group("trace_id")
