"""Sentinel extension for Flask.

::

    from sentinel_sdk.flask import Sentinel

    Sentinel(app, api_key="...", endpoint="https://ingest.example.com")

Wraps ``app.wsgi_app``. Routes are reported from Flask's URL rules (``/users/<int:user_id>`` becomes
``/users/{user_id}``). Flask turns unhandled exceptions into 500 answers itself; their type is recorded through
the ``got_request_exception`` signal. ``identify`` receives ``flask.request`` while the request is active.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sentinel_sdk._guard import missing_framework

try:
    import flask
    from flask import Flask, got_request_exception
    from flask.ctx import RequestContext
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise missing_framework("flask", "Flask", "flask") from exc

from sentinel_sdk._capture import Capture, current, record_exception
from sentinel_sdk._client import Client
from sentinel_sdk._plan import framework_version, identify, make_client
from sentinel_sdk._routes import Templates, from_angles
from sentinel_sdk.wsgi import Environ, SentinelMiddleware
from sentinel_types import Consumer

__all__ = ["Sentinel"]


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
        """Wrap ``app.wsgi_app`` and ``app.request_context``, and connect the exception signal on ``app``."""
        if app.extensions.get("sentinel") is self:
            return
        app.wsgi_app = _FlaskMiddleware(app.wsgi_app, client=self.client)  # type: ignore[method-assign,assignment]
        app.request_context = _keeping_request(app.request_context)  # type: ignore[method-assign,assignment]
        if self.identify is not None:
            app.full_dispatch_request = self._identifying(app.full_dispatch_request)  # type: ignore[method-assign]
        got_request_exception.connect(_on_exception, app, weak=False)
        app.extensions["sentinel"] = self

    def _identifying(self, dispatch: Callable[[], flask.Response]) -> Callable[[], flask.Response]:
        # identify runs when the view is done, inside the request context, so flask.g is still there.
        callback = self.identify

        def full_dispatch_request() -> flask.Response:
            try:
                return dispatch()
            finally:
                capture = current.get()
                if capture is not None and callback is not None:
                    identify(capture, callback, flask.request)

        return full_dispatch_request


def _keeping_request(request_context: Callable[[Any], RequestContext]) -> Callable[[Any], RequestContext]:
    # Flask drops environ["werkzeug.request"] before wsgi_app returns; the capture keeps the request object
    # itself (its URL rule is set once routing is done) until it is completed.
    def keeping_request(environ: Any) -> RequestContext:
        context = request_context(environ)
        capture = current.get()
        if capture is not None:
            capture.request = context.request
        return context

    return keeping_request


class _FlaskMiddleware(SentinelMiddleware):
    def __init__(self, app: Any, *, client: Client) -> None:
        super().__init__(app, client=client)
        self._templates = Templates(from_angles)

    def capture_route(self, cap: Capture, environ: Environ) -> str | None:
        request, cap.request = cap.request, None
        rule = getattr(request, "url_rule", None)
        return None if rule is None else self._templates(environ.get("SCRIPT_NAME", "") + rule.rule)


def _on_exception(sender: Flask, exception: BaseException, **extra: Any) -> None:
    record_exception(exception)
