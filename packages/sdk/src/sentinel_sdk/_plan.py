"""What the request path has to do for a client's options, worked out once when a middleware is created."""

from __future__ import annotations

import importlib.metadata
import itertools
import random
import re
from collections.abc import Callable, Iterator
from typing import Any

from sentinel_sdk import _log
from sentinel_sdk._capture import Capture
from sentinel_sdk._client import Client
from sentinel_sdk._privacy import _text, is_text_body
from sentinel_types import Consumer

MEASURE_EVERY = 64
"""One request in this many has the SDK's own cost measured (reported as ``overhead`` in batches)."""


def measuring() -> Iterator[bool]:
    """True for one ``next`` in ``MEASURE_EVERY``: which requests to measure, in one call made in C."""
    return itertools.cycle((False,) * (MEASURE_EVERY - 1) + (True,))


class CapturePlan:
    """Exclusion, sampling and header/body capture settings shared by every framework integration."""

    def __init__(self, client: Client) -> None:
        opts = client.options
        self.client = client
        self.exclude = (
            re.compile("|".join(f"(?:{pattern})" for pattern in opts.exclude_paths)).fullmatch
            if opts.exclude_paths
            else None
        )
        self.sample_rate = opts.sample_rate
        self.filtering = self.exclude is not None or self.sample_rate < 1.0
        """False when every request is captured (then ``skip`` need not be called)."""
        self.all_headers = opts.capture_headers is True
        self.header_allowlist: frozenset[str] = (
            frozenset(opts.capture_headers) if isinstance(opts.capture_headers, tuple) else frozenset()
        )
        self.capture_headers = self.all_headers or bool(self.header_allowlist)
        self.environ_keys = tuple(
            (name.upper().replace("-", "_") if name in ("content-type", "content-length") else _environ_key(name), name)
            for name in sorted(self.header_allowlist)
        )
        """(WSGI environ key, header name) of each allowlisted header."""
        self.capture_bodies = opts.capture_bodies
        self.max_body_size = opts.max_body_size
        self.proxy_header: str | None = opts.proxy_header if client.reads_proxy_header else None
        self.proxy_environ_key = _environ_key(self.proxy_header) if self.proxy_header is not None else None
        self.plain = not (self.capture_headers or self.capture_bodies or self.proxy_header is not None)
        """True when a request needs no more than its method, path, query, peer, user agent and trace context."""
        self._count = 0

    def skip(self, path: str) -> bool:
        """True when this request is not captured: an excluded path, or sampled out (then counted)."""
        if self.exclude is not None and self.exclude(path) is not None:
            return True
        if self.sample_rate < 1.0 and random.random() >= self.sample_rate:  # noqa: S311 - sampling
            self.client.count_sampled_out()
            return True
        return False

    def measure(self) -> bool:
        """True for the one request in ``MEASURE_EVERY`` whose SDK cost is measured."""
        self._count = count = self._count + 1
        return not count % MEASURE_EVERY

    def body_buffer(
        self, content_type: bytes | str | None, content_encoding: bytes | str | None = None
    ) -> bytearray | None:
        """An empty buffer when a body of this content type is to be captured, else None. A body with a content
        encoding (gzip, br...) is not text as it passes, whatever its type: it is not captured."""
        if not self.capture_bodies or content_type is None:
            return None
        if content_encoding and _text(content_encoding).strip().lower() not in ("", "identity"):
            return None
        return bytearray() if is_text_body(_text(content_type)) else None

    def add_body(self, buffer: bytearray, chunk: bytes | memoryview) -> None:
        """Append a chunk of a captured body, up to ``max_body_size`` bytes."""
        room = self.max_body_size - len(buffer)
        if room > 0:
            buffer += chunk[:room]


class Integration:
    """What every middleware holds: the app, the client, the capture plan, ``identify`` and ``route_resolver``."""

    def __init__(
        self,
        app: Any,
        *,
        client: Client | None = None,
        identify: Callable[[Any], Consumer | None] | None = None,
        route_resolver: Callable[[Any], str | None] | None = None,
        **options: Any,
    ) -> None:
        self.app = app
        self.client = make_client(client, options, *self._framework())
        self._plan = CapturePlan(self.client)
        self._identify = identify
        self._route_resolver = route_resolver
        self._count = 0  # requests captured, to measure one in MEASURE_EVERY

    def _framework(self) -> tuple[str, str]:
        raise NotImplementedError

    def route(self, request: Any) -> str | None:
        """The route template of a handled request (scope or environ); the ``route_resolver``'s answer here."""
        return self._route_resolver(request) if self._route_resolver is not None else None


def _environ_key(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


def identify(capture: Capture, callback: Any, request: Any) -> None:
    """Run the app's ``identify`` callback once, unless ``set_consumer`` already named the consumer."""
    if capture.consumer is not None or capture.identified:
        return
    capture.identified = True
    try:
        consumer = callback(request)
    except Exception:
        _log.warn("identify", "sentinel_sdk: the identify callback raised; the consumer is left out", exc_info=True)
        return
    if consumer is None or isinstance(consumer, Consumer):
        capture.consumer = consumer
    else:
        _log.warn("identify-type", "sentinel_sdk: identify must return a Consumer or None, not %s", type(consumer))


def make_client(client: Client | None, options: dict[str, Any], framework: str, version: str) -> Client:
    """The middleware's client: the one given, or a new one built from ``options``."""
    if client is not None and options:
        raise TypeError(f"sentinel_sdk: pass options to the Client or to the middleware, not both: {sorted(options)}")
    client = client if client is not None else Client(**options)
    client._set_framework(framework, version)
    return client


def framework_version(distribution: str) -> str:
    """Installed version of a framework's distribution, such as ``starlette``; ``unknown`` if not found."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
