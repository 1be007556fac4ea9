"""Sentinel middleware for Django (WSGI and ASGI, sync and async views).

Add it first in ``MIDDLEWARE`` and configure it in settings::

    MIDDLEWARE = ["sentinel_sdk.django.SentinelMiddleware", ...]
    SENTINEL = {"api_key": "...", "endpoint": "https://ingest.example.com", "identify": "myapp.sentinel.identify"}

``SENTINEL`` holds client options; ``identify`` may be a callable or a dotted path, and receives the
``HttpRequest`` after the view ran (``request.user`` is available). Routes are reported from the resolver
(``api/users/<int:pk>/`` becomes ``/api/users/{pk}/``). The request size is the declared ``Content-Length``.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from time import perf_counter_ns
from typing import Any

from sentinel_sdk._guard import missing_framework

try:
    from asgiref.sync import iscoroutinefunction, markcoroutinefunction
    from django.conf import settings  # type: ignore[import-untyped]
    from django.core.exceptions import (  # type: ignore[import-untyped]
        BadRequest,
        PermissionDenied,
        SuspiciousOperation,
    )
    from django.http import Http404, HttpRequest  # type: ignore[import-untyped]
    from django.http.response import HttpResponseBase  # type: ignore[import-untyped]
    from django.utils.module_loading import import_string  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise missing_framework("django", "Django", "django") from exc

from sentinel_sdk import _log
from sentinel_sdk._capture import Capture, current, record_exception
from sentinel_sdk._client import Client
from sentinel_sdk._plan import CapturePlan, framework_version, identify, make_client
from sentinel_sdk._routes import Templates, from_django
from sentinel_sdk.wsgi import CountedBody, ResponseIterator, begin, count_chunk, response_started

__all__ = ["SentinelMiddleware"]

_ANSWERED_BY_DJANGO = (Http404, PermissionDenied, BadRequest, SuspiciousOperation)

_clients: dict[str, Client] = {}
_clients_lock = threading.Lock()


def _configure() -> tuple[Client, Callable[[HttpRequest], Any] | None]:
    """The client for ``settings.SENTINEL``, shared by every middleware instance with the same settings."""
    config = getattr(settings, "SENTINEL", None) or {}
    if not isinstance(config, dict):
        raise TypeError(f"settings.SENTINEL must be a dict of sentinel_sdk options, got {type(config).__name__}")
    options = dict(config)
    callback = options.pop("identify", None)
    if isinstance(callback, str):
        callback = import_string(callback)
    client = options.pop("client", None)
    if client is None:
        key = repr(sorted(options.items()))
        with _clients_lock:
            client = _clients.get(key)
            if client is None or (not client.active and client.options.active):  # shut down: start afresh
                client = _clients[key] = Client(**options)
    return make_client(client, {}, "django", framework_version("django")), callback


class SentinelMiddleware:
    """Captures every request of a Django project and sends it to Sentinel (configured by ``settings.SENTINEL``)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.client, self._identify = _configure()
        self._plan = CapturePlan(self.client)
        self._templates = Templates(from_django)
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self._async:
            return self.__acall__(request)
        cap = self._begin(request)
        if cap is None:
            return self.get_response(request)
        token = current.set(cap)
        try:
            response = self.get_response(request)
        except BaseException as exc:
            self._failed(request, cap, exc)
            raise
        finally:
            current.reset(token)
        return self._end(request, response, cap)

    async def __acall__(self, request: HttpRequest) -> Any:
        """The same as ``__call__``, for Django's async request path."""
        get_response: Callable[[HttpRequest], Awaitable[Any]] = self.get_response
        cap = self._begin(request)
        if cap is None:
            return await get_response(request)
        token = current.set(cap)
        try:
            response = await get_response(request)
        except BaseException as exc:
            self._failed(request, cap, exc)
            raise
        finally:
            current.reset(token)
        return self._end(request, response, cap)

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        """Record the type of an exception raised by a view; Django then answers 500 as usual.

        Exceptions Django turns into a 4xx answer itself (``Http404``, ``PermissionDenied``...) are not errors.
        """
        if not isinstance(exception, _ANSWERED_BY_DJANGO):
            record_exception(exception)

    def _begin(self, request: HttpRequest) -> Capture | None:
        if not self.client.active:
            return None
        start = perf_counter_ns()
        try:
            if self._plan.filtering and self._plan.skip(request.path):
                return None
            cap = begin(self._plan, request.META, request.path, start)
            if self._plan.measure():
                cap.overhead_ns = perf_counter_ns() - start  # the end segments are added in _end and _finish
            return cap
        except Exception:
            _log.warn("django-begin", "sentinel_sdk: could not read the request", exc_info=True)
            return None

    def _failed(self, request: HttpRequest, cap: Capture, exc: BaseException) -> None:
        cap.error = cap.error or type(exc).__name__
        self._finish(request, cap)

    def _end(self, request: HttpRequest, response: Any, cap: Capture) -> Any:
        started = perf_counter_ns()
        try:
            plan = self._plan
            if not isinstance(response, HttpResponseBase):
                self._finish(request, cap)
                return response
            response_started(plan, cap, response.status_code, response.items())
            if not response.streaming:
                count_chunk(plan, cap, response.content)
                cap.end_ns = cap.ttfb_ns
                if cap.overhead_ns:
                    cap.overhead_ns += perf_counter_ns() - started
                self._finish(request, cap)
                return response
            # A streamed body is counted as Django sends it; the capture completes at its end or on close().
            body = _AsyncBody if response.is_async else ResponseIterator
            response.streaming_content = body(
                response.streaming_content, cap, plan, partial(self._finish, request, cap)
            )
            if cap.overhead_ns:
                cap.overhead_ns += perf_counter_ns() - started
        except Exception:
            _log.warn("django-end", "sentinel_sdk: could not read the response", exc_info=True)
        return response

    def _finish(self, request: HttpRequest, cap: Capture) -> None:
        started = perf_counter_ns()
        try:
            if not cap.end_ns:
                cap.end_ns = started
            match = getattr(request, "resolver_match", None)
            if match is not None and match.route:
                cap.route = self._templates(match.route)
            if self._identify is not None:
                identify(cap, self._identify, request)
            if cap.overhead_ns:
                cap.overhead_ns += perf_counter_ns() - started
            self.client.capture(cap)
        except Exception:
            _log.warn("django", "sentinel_sdk: could not capture a request", exc_info=True)


class _AsyncBody(CountedBody):
    """An async streaming body, counted as Django sends it."""

    __slots__ = ()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        self._started = True
        try:
            chunk: bytes = await self._source.__anext__()
        except StopAsyncIteration:
            self._ended()
            raise
        except BaseException as exc:
            self._failed(exc)
            raise
        count_chunk(self._plan, self._cap, chunk)
        return chunk

    def close(self) -> None:
        """Called by Django when the response is closed; before the end, the client went away."""
        self._closed()
