"""Sentinel plugin for Litestar.

::

    from sentinel_sdk.litestar import SentinelPlugin

    app = Litestar(route_handlers=[...], plugins=[SentinelPlugin(api_key="...", endpoint="https://...")])

Litestar runs app middleware only for matched routes, so the plugin wraps the app's ASGI handler at start-up
instead, and sees 404 and 405 answers too. Routes are reported as Litestar's path templates. Litestar turns
unhandled exceptions into 500 answers itself; the plugin records their type through an ``after_exception`` hook.
The app must run its lifespan (ASGI servers do by default; use ``with TestClient(app)`` in tests).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sentinel_sdk._guard import missing_framework

try:
    from litestar import Litestar, Request
    from litestar.config.app import AppConfig
    from litestar.exceptions import HTTPException
    from litestar.plugins import InitPluginProtocol
    from litestar.routes import ASGIRoute
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise missing_framework("litestar", "Litestar", "litestar") from exc

from sentinel_sdk._capture import record_exception
from sentinel_sdk._client import Client
from sentinel_sdk._plan import framework_version, make_client
from sentinel_sdk._routes import Templates, from_braces
from sentinel_sdk.asgi import Scope
from sentinel_sdk.asgi import SentinelMiddleware as _ASGIMiddleware
from sentinel_types import Consumer

__all__ = ["SentinelPlugin"]


class _LitestarMiddleware(_ASGIMiddleware):
    def __init__(self, app: Any, *, mounts: dict[int, list[str]] | None = None, **options: Any) -> None:
        super().__init__(app, **options)
        self._templates = Templates(from_braces)
        self._mounts = mounts or {}
        """The mount points of each mounted ASGI app (full paths, longest first), by ``id`` of its route handler."""

    def _framework(self) -> tuple[str, str]:
        return "litestar", framework_version("litestar")

    def identify_argument(self, scope: Scope) -> Any:
        return Request(scope)  # type: ignore[arg-type]

    def route(self, scope: Scope) -> str | None:
        if self._route_resolver is not None:
            return self._route_resolver(scope)
        if self._mounts:
            points = self._mounts.get(id(scope.get("route_handler")))
            if points is not None:  # a mounted app: its mount point (Litestar leaves no template, or "/")
                return _mount_template(points, scope)
        path_template = scope.get("path_template")
        return self._templates(path_template) if path_template else None


class SentinelPlugin(InitPluginProtocol):
    """Captures every request of a Litestar app and sends it to Sentinel.

    Args:
        client: A ``sentinel_sdk.Client`` to share; by default one is created from ``options``.
        identify: ``identify(request) -> Consumer | None`` with a Litestar ``Request``, called after the
            response unless ``set_consumer`` was called during the request.
        **options: Client options (``api_key``, ``endpoint``, ``sample_rate``, ``capture_headers``...).
    """

    __slots__ = ("client", "identify")

    def __init__(
        self,
        *,
        client: Client | None = None,
        identify: Callable[[Request[Any, Any, Any]], Consumer | None] | None = None,
        **options: Any,
    ) -> None:
        self.client = make_client(client, options, "litestar", framework_version("litestar"))
        self.identify = identify

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Register the start-up hook that installs the middleware and the exception hook."""
        app_config.on_startup.append(self._install)
        app_config.after_exception.append(self._after_exception)
        return app_config

    def _install(self, app: Litestar) -> None:
        handler: Any = app.asgi_handler
        if not isinstance(handler, _LitestarMiddleware):
            mounts: dict[int, list[str]] = {}
            for route in app.routes:
                if isinstance(route, ASGIRoute) and route.route_handler.is_mount:
                    mounts.setdefault(id(route.route_handler), []).append(route.path.rstrip("/"))
            for points in mounts.values():
                points.sort(key=len, reverse=True)
            wrapped: Any = _LitestarMiddleware(handler, client=self.client, identify=self.identify, mounts=mounts)
            app.asgi_handler = wrapped

    @staticmethod
    async def _after_exception(exc: Exception, scope: Any) -> None:
        if not isinstance(exc, HTTPException):
            record_exception(exc)


def _mount_template(points: list[str], scope: Scope) -> str:
    """``<mount point>/{path}`` of the mount point the request came in through (a handler may be mounted at several
    paths; the longest that prefixes the request's path)."""
    if len(points) > 1:
        raw = scope.get("raw_path")
        path = raw.decode("latin-1") if isinstance(raw, bytes) else scope.get("path", "")
        for point in points:
            if path == point or path.startswith(point + "/"):
                return f"{point}/{{path}}"
    return f"{points[0]}/{{path}}"
