"""Sentinel middleware for any ASGI 3 application.

::

    from sentinel_sdk.asgi import SentinelMiddleware

    app = SentinelMiddleware(app, api_key="...", endpoint="https://ingest.example.com")

Generic ASGI has no notion of routes: pass ``route_resolver=lambda scope: ...`` to report route templates, or use
the Starlette/FastAPI or Litestar integration, which find them on their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from time import perf_counter_ns
from typing import Any

from sentinel_sdk import _log
from sentinel_sdk._capture import Capture, current
from sentinel_sdk._plan import MEASURE_EVERY, CapturePlan, Integration, identify
from sentinel_sdk._version import __version__

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_USER_AGENT, _TRACEPARENT, _PROXY, _CONTENT_TYPE, _CONTENT_ENCODING = range(5)


class SentinelMiddleware(Integration):
    """Captures every HTTP request of an ASGI app and sends it to Sentinel.

    Args:
        app: The ASGI application to wrap.
        client: A ``sentinel_sdk.Client`` to share between apps; by default one is created from ``options``.
        identify: ``identify(scope) -> Consumer | None``, called after the response, unless ``set_consumer``
            was called during the request.
        route_resolver: ``route_resolver(scope) -> str | None``, called after the response, returning the
            route template (``/users/{user_id}``).
        **options: Client options (``api_key``, ``endpoint``, ``sample_rate``, ``capture_headers``...).
    """

    def __init__(self, app: ASGIApp, **options: Any) -> None:
        super().__init__(app, **options)
        self.app: ASGIApp = app
        wanted = {b"user-agent": _USER_AGENT, b"traceparent": _TRACEPARENT}
        if self._plan.proxy_header is not None:
            wanted[self._plan.proxy_header.encode()] = _PROXY
        if self._plan.capture_bodies:
            wanted[b"content-type"] = _CONTENT_TYPE
            wanted[b"content-encoding"] = _CONTENT_ENCODING
        self._wanted = wanted
        self._allowlist = frozenset(name.encode("latin-1") for name in self._plan.header_allowlist)
        self._defaults_only = len(wanted) == 2 and not self._allowlist and not self._plan.capture_headers

    def _framework(self) -> tuple[str, str]:
        return "asgi", __version__

    def identify_argument(self, scope: Scope) -> Any:
        """What the ``identify`` callback receives: the scope here, a request object in framework subclasses."""
        return scope

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.client.active:
            return await self.app(scope, receive, send)
        start = perf_counter_ns()
        try:
            cap = self._begin(scope, start)
        except Exception:
            _log.warn("asgi-begin", "sentinel_sdk: could not read the request", exc_info=True)
            cap = None
        if cap is None:
            return await self.app(scope, receive, send)
        plan = self._plan
        self._count = count = self._count + 1
        measure = not count % MEASURE_EVERY
        token = current.set(cap)

        async def receive_wrapper() -> Message:
            message = await receive()
            try:
                mtype = message["type"]
                if mtype == "http.request":
                    body = message.get("body", b"")
                    cap.request_size += len(body)
                    if cap.request_body is not None and body:
                        plan.add_body(cap.request_body, body)
                elif mtype == "http.disconnect" and not cap.end_ns:
                    cap.aborted = True
            except Exception:
                _log.warn("asgi-receive", "sentinel_sdk: unexpected ASGI message", exc_info=True)
            return message

        async def send_wrapper(message: Message) -> None:
            try:
                mtype = message["type"]
                if mtype == "http.response.body":
                    body = message.get("body", b"")
                    now = perf_counter_ns()
                    if not cap.ttfb_ns:
                        cap.ttfb_ns = now
                    cap.response_size += len(body)
                    if cap.response_body is not None and body:
                        plan.add_body(cap.response_body, body)
                    if not message.get("more_body", False):
                        cap.end_ns = now
                elif mtype == "http.response.start":
                    cap.status = message["status"]
                    if plan.capture_headers or plan.capture_bodies:
                        self._response_headers(cap, message.get("headers", ()))
            except Exception:
                _log.warn("asgi-send", "sentinel_sdk: unexpected ASGI message", exc_info=True)
            try:
                await send(message)
            except OSError:  # the server's way of saying the client is gone
                cap.aborted = True
                raise

        overhead = perf_counter_ns() - start if measure else 0
        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        except asyncio.CancelledError:
            if not cap.end_ns:
                cap.aborted = True
            raise
        except BaseException as exc:
            if cap.error is None:
                cap.error = type(exc).__name__
            raise
        finally:
            returned = perf_counter_ns()
            try:
                current.reset(token)
                if not cap.end_ns:
                    cap.end_ns = returned
                route = self.route(scope)
                if route is not None:
                    cap.route = route
                if self._identify is not None:
                    identify(cap, self._identify, self.identify_argument(scope))
                if measure:
                    cap.overhead_ns = overhead + perf_counter_ns() - returned
                self.client.capture(cap)
            except Exception:
                _log.warn("asgi", "sentinel_sdk: could not capture a request", exc_info=True)

    def _begin(self, scope: Scope, start: int) -> Capture | None:
        plan = self._plan
        path = scope["path"]
        if plan.filtering and plan.skip(path):
            return None
        peer = scope.get("client")
        cap = Capture(start, scope["method"], path, scope.get("query_string", b""), peer[0] if peer else None)
        headers = scope["headers"]
        if self._defaults_only:  # the common case, kept as cheap as it gets
            for name, value in headers:
                if name == b"user-agent":
                    cap.user_agent = value
                elif name == b"traceparent":
                    cap.traceparent = value
            return cap
        found: list[bytes | None] = [None, None, None, None, None]
        wanted = self._wanted.get
        allowlist = self._allowlist
        captured: list[tuple[bytes, bytes]] = []
        for name, value in headers:
            slot = wanted(name)
            if slot is not None:
                previous = found[slot]
                found[slot] = value if previous is None or slot != _PROXY else previous + b"," + value
            if allowlist and name in allowlist:
                captured.append((name, value))
        if found[_USER_AGENT] is not None:
            cap.user_agent = found[_USER_AGENT]
        if found[_TRACEPARENT] is not None:
            cap.traceparent = found[_TRACEPARENT]
        if found[_PROXY] is not None:
            cap.proxy_header = found[_PROXY]
        if plan.capture_headers:
            cap.request_headers = list(headers) if plan.all_headers else captured
        if plan.capture_bodies:
            _start_body(plan, cap, "request", found[_CONTENT_TYPE], found[_CONTENT_ENCODING])
        return cap

    def _response_headers(self, cap: Capture, headers: Any) -> None:
        plan = self._plan
        content_type = content_encoding = None
        kept: list[tuple[bytes, bytes]] = []
        for name, value in headers:
            if name == b"content-type":
                content_type = value
            elif name == b"content-encoding":
                content_encoding = value
            if plan.all_headers or name in self._allowlist:
                kept.append((name, value))
        if plan.capture_headers:
            cap.response_headers = kept
        if plan.capture_bodies:
            _start_body(plan, cap, "response", content_type, content_encoding)


def _start_body(
    plan: CapturePlan, cap: Capture, direction: str, content_type: bytes | None, content_encoding: bytes | None
) -> None:
    buffer = plan.body_buffer(content_type, content_encoding)
    if buffer is None or content_type is None:
        return
    if direction == "request":
        cap.request_body, cap.request_body_type = buffer, content_type.decode("latin-1")
    else:
        cap.response_body, cap.response_body_type = buffer, content_type.decode("latin-1")
