"""Sentinel middleware for any WSGI application.

::

    from sentinel_sdk.wsgi import SentinelMiddleware

    app = SentinelMiddleware(app, api_key="...", endpoint="https://ingest.example.com")

Generic WSGI has no notion of routes: pass ``route_resolver=lambda environ: ...`` to report route templates, or
use the Flask or Django integration, which find them on their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, MutableMapping
from functools import partial
from time import perf_counter_ns
from types import TracebackType
from typing import Any, Protocol

from sentinel_sdk import _log
from sentinel_sdk._capture import Capture, current
from sentinel_sdk._plan import MEASURE_EVERY, CapturePlan, Integration, identify
from sentinel_sdk._version import __version__

Environ = MutableMapping[str, Any]
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


class StartResponse(Protocol):
    """The WSGI ``start_response`` callable."""

    def __call__(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = ..., /
    ) -> Callable[[bytes], object]: ...


WSGIApp = Callable[[Any, Any], Iterable[bytes]]


def environ_path(environ: Environ) -> str:
    """``SCRIPT_NAME`` + ``PATH_INFO``, decoded as UTF-8 (WSGI hands them over as latin-1)."""
    path: str = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    if not path.isascii():
        path = path.encode("latin-1", "replace").decode("utf-8", "replace")
    return path or "/"


def environ_headers(environ: Environ, plan: CapturePlan) -> list[tuple[str, str]]:
    """The request headers the plan captures, from a WSGI environ (or Django's ``request.META``)."""
    if not plan.all_headers:  # an allowlist: look its names up rather than walk the whole environ
        return [(name, environ[key]) for key, name in plan.environ_keys if environ.get(key)]
    headers = []
    names = _header_names
    for key, value in environ.items():
        name = names.get(key, "")
        if name == "":
            name = header_name(key)
            if len(names) < 1_024:
                names[key] = name
        if name is not None and value:
            headers.append((name, value))
    return headers


_header_names: dict[str, str | None] = {}  # environ key -> header name, None for keys that are not headers


def header_name(environ_key: str) -> str | None:
    """``HTTP_X_API_KEY`` -> ``x-api-key``; ``CONTENT_TYPE`` -> ``content-type``; None for other keys."""
    if environ_key.startswith("HTTP_"):
        return environ_key[5:].replace("_", "-").lower()
    if environ_key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        return environ_key.replace("_", "-").lower()
    return None


def begin(plan: CapturePlan, environ: Environ, path: str, start: int) -> Capture:
    """A capture of a request described by a WSGI environ (or Django's ``request.META``)."""
    get = environ.get
    length = get("CONTENT_LENGTH")
    cap = Capture(  # one positional call: cheaper than keywords or setting the same attributes one by one
        start,
        get("REQUEST_METHOD", "GET"),
        path,
        get("QUERY_STRING", ""),
        get("REMOTE_ADDR"),
        get("HTTP_USER_AGENT"),
        get("HTTP_TRACEPARENT"),
        (int(length) if length.isdigit() else 0) if length else 0,
    )
    if plan.plain:
        return cap
    if plan.proxy_environ_key is not None:
        cap.proxy_header = get(plan.proxy_environ_key)
    if plan.capture_headers:
        cap.request_headers = environ_headers(environ, plan)
    if plan.capture_bodies:
        content_type = environ.get("CONTENT_TYPE")
        cap.request_body = plan.body_buffer(content_type, environ.get("HTTP_CONTENT_ENCODING"))
        if cap.request_body is not None:
            cap.request_body_type = content_type
    return cap


def response_started(plan: CapturePlan, cap: Capture, status: int, headers: Iterable[tuple[str, str]]) -> None:
    """Record the status and the response headers (when captured) of a WSGI or Django response."""
    cap.status = status
    if not (plan.capture_headers or plan.capture_bodies):
        return
    kept = []
    content_type = content_encoding = None
    for name, value in headers:
        lower = name.lower()
        if lower == "content-type":
            content_type = value
        elif lower == "content-encoding":
            content_encoding = value
        if plan.all_headers or lower in plan.header_allowlist:
            kept.append((lower, value))
    if plan.capture_bodies:
        cap.response_body = plan.body_buffer(content_type, content_encoding)
        cap.response_body_type = content_type if cap.response_body is not None else None
    if plan.capture_headers:
        cap.response_headers = kept


def count_chunk(plan: CapturePlan, cap: Capture, chunk: bytes) -> None:
    """Count one chunk of response body (time to first byte, size, captured body)."""
    if not cap.ttfb_ns:
        cap.ttfb_ns = perf_counter_ns()
    cap.response_size += len(chunk)
    if cap.response_body is not None and chunk:
        plan.add_body(cap.response_body, chunk)


class SentinelMiddleware(Integration):
    """Captures every request of a WSGI app and sends it to Sentinel.

    Args:
        app: The WSGI application to wrap.
        client: A ``sentinel_sdk.Client`` to share between apps; by default one is created from ``options``.
        identify: ``identify(environ) -> Consumer | None``, called after the app returns, unless
            ``set_consumer`` was called during the request.
        route_resolver: ``route_resolver(environ) -> str | None``, returning the route template.
        **options: Client options (``api_key``, ``endpoint``, ``sample_rate``, ``capture_headers``...).
    """

    def __init__(self, app: WSGIApp, **options: Any) -> None:
        super().__init__(app, **options)
        self.app: WSGIApp = app

    def _framework(self) -> tuple[str, str]:
        return "wsgi", __version__

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if not self.client.active:
            return self.app(environ, start_response)
        start = perf_counter_ns()
        cap = self.start(environ, start)
        if cap is None:
            return self.app(environ, start_response)
        plan = self._plan
        self._count = count = self._count + 1
        measure = not count % MEASURE_EVERY

        def start_response_wrapper(
            status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
        ) -> Callable[[bytes], object]:
            try:
                cap.status = int(status[:3])
                if plan.capture_headers or plan.capture_bodies:
                    response_started(plan, cap, cap.status, headers)
            except Exception:
                _log.warn("wsgi-start", "sentinel_sdk: unexpected WSGI status or headers", exc_info=True)
            write = start_response(status, headers, exc_info)

            def counting_write(data: bytes) -> object:
                count_chunk(plan, cap, data)
                return write(data)

            return counting_write

        overhead = perf_counter_ns() - start if measure else -1
        token = current.set(cap)
        try:
            result = self.app(environ, start_response_wrapper)
        except BaseException as exc:
            cap.error = cap.error or type(exc).__name__
            self.finish(cap, environ, overhead)
            raise
        finally:
            current.reset(token)
        return ResponseIterator(result, cap, plan, partial(self.finish, cap, environ, overhead))

    def start(self, environ: Environ, start: int) -> Capture | None:
        """The capture of a request, or None when it is not captured (excluded, sampled out); never raises."""
        plan = self._plan
        try:
            path = environ.get("PATH_INFO", "")
            script = environ.get("SCRIPT_NAME")
            if script:
                path = script + path
            if not path.isascii():
                path = environ_path(environ)
            if plan.filtering and plan.skip(path):
                return None
            cap = begin(plan, environ, path or "/", start)
            if plan.capture_bodies or (not cap.request_size and "HTTP_TRANSFER_ENCODING" in environ):
                # Bodies of declared length are counted from Content-Length; others (and captured ones) as read.
                stream = environ.get("wsgi.input")
                if stream is not None and (plan.capture_bodies or "chunked" in environ["HTTP_TRANSFER_ENCODING"]):
                    environ["wsgi.input"] = _CountingInput(stream, cap, plan)
        except Exception:
            _log.warn("wsgi-begin", "sentinel_sdk: could not read the request", exc_info=True)
            return None
        return cap

    def capture_route(self, cap: Capture, environ: Environ) -> str | None:
        """The route template of a completed capture; ``route(environ)`` here, framework subclasses know more."""
        return self.route(environ)

    def finish(self, cap: Capture, environ: Environ, overhead: int) -> None:
        """Complete a capture and queue it; never raises. ``overhead`` is -1 when not measured."""
        done = perf_counter_ns()
        try:
            if not cap.end_ns:
                cap.end_ns = done
            route = self.capture_route(cap, environ)
            if route is not None:
                cap.route = route
            if self._identify is not None:
                identify(cap, self._identify, environ)
            if overhead >= 0:
                cap.overhead_ns = overhead + perf_counter_ns() - done
            self.client.capture(cap)
        except Exception:
            _log.warn("wsgi", "sentinel_sdk: could not capture a request", exc_info=True)


class CountedBody:
    """A response body counted as it is sent, whose capture is completed once: at its end, or when closed.

    ``source`` is what the app returned: an iterable of chunks, or an async iterator for Django.
    """

    __slots__ = ("_cap", "_finish_capture", "_finished", "_plan", "_source", "_started")

    def __init__(self, source: Any, cap: Capture, plan: CapturePlan, finish: Callable[[], None]) -> None:
        self._source = source
        self._cap = cap
        self._plan = plan
        self._finish_capture = finish
        self._finished = False
        self._started = False

    def _ended(self) -> None:
        self._cap.end_ns = perf_counter_ns()
        if not self._finished:
            self._finished = True
            self._finish_capture()

    def _failed(self, exc: BaseException) -> None:
        self._cap.error = self._cap.error or type(exc).__name__
        self._finish()

    def _closed(self) -> None:
        # Closed before its end (and after it started): the client went away. HEAD answers have no body.
        if not self._finished:
            cap = self._cap
            if self._started and not cap.end_ns and cap.method != "HEAD":
                cap.aborted = True
            self._finish()

    def _finish(self) -> None:
        if not self._finished:
            self._finished = True
            self._finish_capture()


class ResponseIterator(CountedBody):
    """A WSGI response iterable, counted as the server iterates it.

    Iteration runs in a generator (cheap per chunk); ``close`` lives here, on the object the server was given,
    so that a response closed before its first chunk is still completed. Also a streamed Flask body, whose
    chunks may be text (sent as UTF-8).
    """

    __slots__ = ()

    def __iter__(self) -> Iterator[bytes]:
        self._started = True
        return self._chunks()

    def _chunks(self) -> Iterator[bytes]:
        cap, plan = self._cap, self._plan
        try:
            for chunk in self._source:
                if not cap.ttfb_ns:
                    cap.ttfb_ns = perf_counter_ns()
                data = chunk if type(chunk) is bytes else _encoded(chunk)
                cap.response_size += len(data)
                if cap.response_body is not None and data:
                    plan.add_body(cap.response_body, data)
                yield chunk
        except GeneratorExit:
            raise  # the server stopped early; close() records it
        except BaseException as exc:
            self._failed(exc)
            raise
        self._ended()

    def close(self) -> None:
        """Close the app's iterable; closing before the end means the client went away."""
        try:
            close = getattr(self._source, "close", None)
            if close is not None:
                close()
        finally:
            self._closed()


def _encoded(chunk: Any) -> bytes:
    return chunk.encode() if isinstance(chunk, str) else bytes(chunk)


class _CountingInput:
    """``wsgi.input`` that counts the request body bytes the app reads (and keeps the captured part)."""

    __slots__ = ("_cap", "_plan", "_read", "_stream")

    def __init__(self, stream: Any, cap: Capture, plan: CapturePlan) -> None:
        self._stream = stream
        self._cap = cap
        self._plan = plan
        self._read = 0

    def _count(self, data: bytes) -> bytes:
        self._add(len(data), data)
        return data

    def _add(self, size: int, data: bytes | memoryview) -> None:
        cap = self._cap
        self._read += size
        if self._read > cap.request_size:  # the declared Content-Length, if any, until more is read
            cap.request_size = self._read
        if cap.request_body is not None and size:
            self._plan.add_body(cap.request_body, data)

    def readinto(self, buffer: bytearray | memoryview, /) -> int | None:
        """Werkzeug (Flask) reads request bodies this way when the stream has it; servers whose input has only
        ``read`` (gunicorn, mod_wsgi) are read through ``read`` here."""
        readinto = getattr(self._stream, "readinto", None)
        if readinto is not None:
            size: int | None = readinto(buffer)
        else:
            data = self._stream.read(len(buffer))
            size = len(data)
            buffer[:size] = data
        if size:
            self._add(size, memoryview(buffer)[:size])
        return size

    def read(self, size: int | None = -1, /) -> bytes:
        return self._count(self._stream.read() if size is None or size < 0 else self._stream.read(size))

    def readline(self, size: int | None = -1, /) -> bytes:
        return self._count(self._stream.readline() if size is None or size < 0 else self._stream.readline(size))

    def readlines(self, hint: int | None = -1, /) -> list[bytes]:
        return [self._count(line) for line in self._stream.readlines(*(() if hint is None else (hint,)))]

    def __iter__(self) -> Iterator[bytes]:
        for line in self._stream:
            yield self._count(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
