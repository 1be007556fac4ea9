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
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise missing_framework("flask", "Flask", "flask") from exc

from sentinel_sdk import _log
from sentinel_sdk._capture import current, record_exception
from sentinel_sdk._client import Client
from sentinel_sdk._plan import framework_version, identify, make_client
from sentinel_sdk._routes import from_angles
from sentinel_sdk.wsgi import SentinelMiddleware
from sentinel_types import Consumer

__all__ = ["Sentinel"]


class Sentinel:
    """Captures every request of a Flask app and sends it to Sentinel.

    Args:
        app: The Flask app; or call ``init_app(app)`` later (application factory pattern).
        client: A ``sentinel_sdk.Client`` to share; by default one is created from ``options``.
        identify: ``identify(flask.request) -> Consumer | None``, called at the end of the request unless
            ``set_consumer`` was called during it.
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
        """Install the middleware, the route and consumer hook, and the exception signal on ``app``."""
        if app.extensions.get("sentinel") is self:
            return
        app.wsgi_app = SentinelMiddleware(app.wsgi_app, client=self.client)  # type: ignore[method-assign,assignment]
        app.teardown_request(self._teardown)
        got_request_exception.connect(_on_exception, app, weak=False)
        app.extensions["sentinel"] = self

    def _teardown(self, exc: BaseException | None) -> None:
        capture = current.get()
        if capture is None:
            return
        try:
            rule = flask.request.url_rule
            if rule is not None:
                capture.route = from_angles(flask.request.script_root + rule.rule)
        except Exception:
            _log.warn("flask-route", "sentinel_sdk: could not read the Flask URL rule", exc_info=True)
        if self.identify is not None:
            identify(capture, self.identify, flask.request)


def _on_exception(sender: Flask, exception: BaseException, **extra: Any) -> None:
    record_exception(exception)
