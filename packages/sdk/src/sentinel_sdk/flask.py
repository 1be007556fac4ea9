"""Sentinel extension for Flask.

::

    from sentinel_sdk.flask import Sentinel

    Sentinel(app, api_key="...", endpoint="https://ingest.example.com")

Wraps ``app.wsgi_app`` to start each capture and ``app.finalize_request`` (which Flask calls for every response,
from a view or an error handler) to record the response: status, route, size, headers. A body held in memory is
counted there and the capture completes when ``wsgi_app`` returns it (its duration and time to first byte end
there); a streamed body is counted as it goes and completes at its end or when closed (before its end: a client
abort). Requests the Flask app does not answer itself (``DispatcherMiddleware`` routing elsewhere) are not
captured: wrap those apps with ``sentinel_sdk.wsgi.SentinelMiddleware``. Routes are reported from Flask's URL
rules (``/users/<int:user_id>`` becomes ``/users/{user_id}``). Flask turns unhandled exceptions into 500 answers
itself; their type is recorded through the ``got_request_exception`` signal.
``identify`` receives ``flask.request`` while the request is active.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable
from functools import partial
from time import perf_counter_ns
from typing import Any

from sentinel_sdk._guard import missing_framework

try:
    import flask
    from flask import Flask, got_request_exception
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise missing_framework("flask", "Flask", "flask") from exc
from flask.globals import _cv_request  # the current request context, without the proxy's cost

from sentinel_sdk import _log
from sentinel_sdk._capture import Capture, finders
from sentinel_sdk._client import Client
from sentinel_sdk._plan import CapturePlan, framework_version, identify, make_client, measuring
from sentinel_sdk._routes import Templates, from_angles
from sentinel_sdk.wsgi import Environ, ResponseIterator, SentinelMiddleware, StartResponse, response_started
from sentinel_types import Consumer

__all__ = ["Sentinel"]

_EMPTY_BODY_STATUSES = frozenset((204, 304))
_STATUSES_WITH_A_BODY = frozenset(range(200, 600)) - _EMPTY_BODY_STATUSES
_HELD = (list, tuple)  # werkzeug's "sequence" bodies, held in memory (it sets their Content-Length itself)
CAPTURE_KEY = "sentinel_sdk.capture"
"""The environ key of a request's capture while Flask handles it."""
_WHEN_RETURNED = -1
"""``ttfb_ns`` of a response whose body is in memory, until ``wsgi_app`` has returned it."""


class Sentinel:
    """Captures every request of a Flask app and sends it to Sentinel.

    Args:
        app: The Flask app; or call ``init_app(app)`` later (application factory pattern).
        client: A ``sentinel_sdk.Client`` to share; by default one is created from ``options``.
        identify: ``identify(flask.request) -> Consumer | None``, called when the view has run (``flask.g``
            is still there) unless ``set_consumer`` was called during the request.
        **options: Client options (``api_key``, ``endpoint``, ``sample_rate``, ``capture_headers``...).
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        client: Client | None = None,
        identify: Callable[[flask.Request], Consumer | None] | None = None,
        **options: Any,
    ) -> None:
        self.client = make_client(client, options, "flask", framework_version("flask"))
        self.identify = identify
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Wrap ``app.wsgi_app`` and ``app.finalize_request``, and connect the exception signal on ``app``."""
        if app.extensions.get("sentinel") is self:
            return
        middleware = _FlaskMiddleware(app.wsgi_app, client=self.client, identify=self.identify)
        # The bound method rather than the object: calling an object whose class defines ``__call__`` in Python
        # costs a lookup and a binding per request that calling a bound method does not.
        app.wsgi_app = middleware.__call__  # type: ignore[method-assign,assignment]
        app.finalize_request = middleware.finalizing(app.finalize_request)  # type: ignore[method-assign]
        got_request_exception.connect(middleware.exception_raised, app, weak=False)
        app.extensions["sentinel"] = self
        app.extensions["sentinel.middleware"] = middleware


class _FlaskMiddleware(SentinelMiddleware):
    """Starts a capture per request; the response is recorded by ``finalizing`` rather than by wrapping
    ``start_response`` and the response iterable, which costs several microseconds per request inside Flask."""

    def __init__(self, app: Any, *, client: Client, identify: Callable[[Any], Consumer | None] | None) -> None:
        super().__init__(app, client=client, identify=identify)
        self._templates = Templates(from_angles)
        self._plain = self._plan.plain and not self._plan.filtering
        self._measure = measuring()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        # Inside Flask every bytecode on the request path costs tens of nanoseconds (the app's own code keeps the
        # caches busy): this method and ``finalize_request`` are written for the fewest steps in the common case.
        if not self.client.active:
            return self.app(environ, start_response)
        start = perf_counter_ns()
        if self._plain:
            # ``start`` for the default options (every request captured, no headers, bodies or proxy header),
            # inlined. Anything unusual (a non-ASCII path, a streamed request body, a key missing from the
            # environ) goes to ``start``.
            try:
                get = environ.get
                path = environ["PATH_INFO"]
                script = get("SCRIPT_NAME")
                if script:
                    path = script + path
                length = get("CONTENT_LENGTH")
                cap: Capture | None
                if path.isascii() and (length or "HTTP_TRANSFER_ENCODING" not in environ):
                    cap = Capture(
                        start,
                        environ["REQUEST_METHOD"],
                        path or "/",
                        get("QUERY_STRING", ""),
                        get("REMOTE_ADDR"),
                        get("HTTP_USER_AGENT"),
                        get("HTTP_TRACEPARENT"),
                        (int(length) if length.isdigit() else 0) if length else 0,
                    )
                else:
                    cap = self.start(environ, start)
            except Exception:  # start() has the careful path
                cap = self.start(environ, start)
        else:
            cap = self.start(environ, start)
        if cap is None:
            return self.app(environ, start_response)
        if next(self._measure):
            cap.overhead_ns = perf_counter_ns() - start
        environ[CAPTURE_KEY] = cap  # where set_consumer, finalize_request and the exception signal find it
        try:
            result = self.app(environ, start_response)
        except BaseException as exc:
            cap.error = cap.error or type(exc).__name__
            self._done(cap)
            raise
        if cap.ttfb_ns == _WHEN_RETURNED:
            # A body held in memory (counted already) goes out as soon as the server has the iterable: the
            # capture is complete. Streamed bodies complete at their end or close.
            cap.ttfb_ns = cap.end_ns = perf_counter_ns()
            if cap.overhead_ns:
                self._done(cap)
            else:  # _done, inlined for the common case
                cap.queued = True  # from here the sender may read it: set_consumer and co. leave it alone
                try:
                    self.client.capture(cap)
                except Exception:
                    _log.warn("flask", "sentinel_sdk: could not capture a request", exc_info=True)
        elif not cap.status:  # no response went through this app's finalize_request (dispatched elsewhere)
            _log.warn("flask-response", "sentinel_sdk: a response was not made by the Flask app; not captured")
        return result

    def finalizing(self, finalize: Callable[..., flask.Response]) -> Callable[..., flask.Response]:
        """Wrap ``Flask.finalize_request``: record the response of the current capture, arrange its completion."""
        known = self._templates.known.get
        record = self._record

        def finalize_request(rv: Any, from_error_handler: bool = False) -> flask.Response:
            response = finalize(rv, from_error_handler)
            context = _cv_request.get(None)
            if context is None:
                return response
            try:
                request = context.request
                environ: Environ = request.environ
                cap = environ.get(CAPTURE_KEY)
                if cap is None or cap.status:
                    return response  # not captured (a request made inside a view, too), or already recorded
                if not cap.overhead_ns:
                    # The common case: a rule matched at the app's root, one chunk of bytes held in memory, a
                    # status with a body. Anything else (and a request whose cost is measured) takes ``record``.
                    rule = request.url_rule
                    body = response.response
                    if rule is not None and type(body) is list and not response.direct_passthrough:
                        (chunk,) = body  # not one chunk: ``record`` (below)
                        route = known(rule.rule)
                        status = response._status_code  # what the status_code property returns, without a call
                        if (
                            type(chunk) is bytes
                            and route is not None
                            and status in _STATUSES_WITH_A_BODY
                            and cap.method != "HEAD"
                            and not environ.get("SCRIPT_NAME")
                        ):
                            cap.status = status
                            cap.route = route
                            cap.response_size = len(chunk)
                            cap.ttfb_ns = _WHEN_RETURNED
                            return response
            except Exception:  # noqa: S110 - anything unexpected: ``record`` has the careful path (and logs)
                pass
            record(response)
            return response

        def finalize_request_with_options(rv: Any, from_error_handler: bool = False) -> flask.Response:
            return record(finalize(rv, from_error_handler))

        simple = self._identify is None and not (self._plan.capture_headers or self._plan.capture_bodies)
        return finalize_request if simple else finalize_request_with_options

    def _record(self, response: flask.Response) -> flask.Response:
        """Record the response of the current capture (status, route, size, headers), arrange its completion."""
        context = _cv_request.get(None)
        if context is None:
            return response
        request = context.request
        environ: Environ = request.environ
        cap = environ.get(CAPTURE_KEY)
        if cap is None or cap.status:
            return response
        plan = self._plan
        began = perf_counter_ns() if cap.overhead_ns else 0
        try:
            cap.status = status = response.status_code
            rule = request.url_rule
            if rule is not None:
                script = environ.get("SCRIPT_NAME")
                cap.route = self._templates(script + rule.rule if script else rule.rule)
            if self._identify is not None:
                identify(cap, self._identify, request)
            if plan.capture_headers or plan.capture_bodies:
                response_started(plan, cap, status, response.headers.items())
            body: Any = response.response
            if cap.method == "HEAD" or status < 200 or status in _EMPTY_BODY_STATUSES:
                cap.ttfb_ns = _WHEN_RETURNED
            elif type(body) in _HELD and not response.direct_passthrough:
                _count_held(plan, cap, body)  # a list or tuple (checked above)
                cap.ttfb_ns = _WHEN_RETURNED
            else:  # streamed (or passed through): counted as it goes, completed at its end or close
                response.response = ResponseIterator(body, cap, plan, partial(self._done, cap))
        except Exception:
            _log.warn("flask-finalize", "sentinel_sdk: could not record a Flask response", exc_info=True)
            cap.status = cap.status or getattr(response, "status_code", 0)
            cap.ttfb_ns = _WHEN_RETURNED
        if began:
            cap.overhead_ns += perf_counter_ns() - began
        return response

    def exception_raised(self, sender: Flask, exception: BaseException, **extra: Any) -> None:
        """Flask's ``got_request_exception``: record the exception's type, and the route and consumer now, while
        the request is still there (when Flask propagates the exception, no response is finalized)."""
        cap = _flask_capture()
        if cap is None:
            return
        if cap.error is None:
            cap.error = type(exception).__name__
        if cap.status:
            return
        try:
            request = _cv_request.get().request
            rule = request.url_rule
            if rule is not None:
                cap.route = self._templates(request.environ.get("SCRIPT_NAME", "") + rule.rule)
            if self._identify is not None:
                identify(cap, self._identify, request)
        except Exception:
            _log.warn("flask-exception", "sentinel_sdk: could not describe a failed Flask request", exc_info=True)

    def _done(self, cap: Capture) -> None:
        """Queue a completed capture, once; never raises."""
        ended = perf_counter_ns()
        try:
            if cap.queued:
                return
            cap.queued = True
            if not cap.end_ns:
                cap.end_ns = ended
            if cap.ttfb_ns == _WHEN_RETURNED:  # failed after its response was made
                cap.ttfb_ns = 0
            if cap.overhead_ns:
                cap.overhead_ns += perf_counter_ns() - ended
            self.client.capture(cap)
        except Exception:
            _log.warn("flask", "sentinel_sdk: could not capture a request", exc_info=True)


def _flask_capture() -> Capture | None:
    """The capture of the Flask request being handled, if any: the innermost captured one when a view pushed a
    request context of its own (``app.test_request_context()``), whose environ has none."""
    context = _cv_request.get(None)
    for _ in range(_MAX_NESTED_CONTEXTS):
        if context is None:
            return None
        capture: Capture | None = context.request.environ.get(CAPTURE_KEY)
        if capture is not None:
            return None if capture.queued else capture  # queued: the sender may be reading it
        context = _outer_context(context)
    return None


_MAX_NESTED_CONTEXTS = 8


def _outer_context(context: Any) -> Any:
    """The request context that was current when ``context`` was pushed (Flask keeps the token of each push)."""
    tokens = getattr(context, "_cv_tokens", None)
    if not tokens:
        return None
    token = tokens[-1][0] if isinstance(tokens[-1], tuple) else tokens[-1]
    outer = getattr(token, "old_value", contextvars.Token.MISSING)
    return None if outer is contextvars.Token.MISSING else outer


finders.append(_flask_capture)


def _count_held(plan: CapturePlan, cap: Capture, body: list[bytes | str] | tuple[bytes | str, ...]) -> None:
    """Count a body held in memory (``response.response`` is a list of chunks; text goes out as UTF-8)."""
    for chunk in body:
        data = chunk.encode() if isinstance(chunk, str) else chunk
        cap.response_size += len(data)
        if cap.response_body is not None and data:
            plan.add_body(cap.response_body, data)
