"""Sentinel middleware for FastAPI and Starlette.

::

    from sentinel_sdk.starlette import SentinelMiddleware

    app.add_middleware(SentinelMiddleware, api_key="...", endpoint="https://ingest.example.com")

Routes are reported as templates, mount prefixes included: ``/api/v1/users/{user_id}``. ``identify`` receives a
``starlette.requests.Request`` (so ``request.state`` set by auth dependencies is visible).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sentinel_sdk._guard import missing_framework

try:
    from starlette.requests import Request
    from starlette.routing import BaseRoute, Host, Match, Mount
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise missing_framework("starlette", "Starlette", "starlette") from exc

from sentinel_sdk._plan import framework_version
from sentinel_sdk._routes import from_braces
from sentinel_sdk.asgi import Scope
from sentinel_sdk.asgi import SentinelMiddleware as _ASGIMiddleware

__all__ = ["SentinelMiddleware"]

_MAX_DEPTH = 16

_Entry = tuple[BaseRoute, "str | None", bool]
"""(route, its full template, whether it is reachable under several templates and must be matched again)."""


class SentinelMiddleware(_ASGIMiddleware):
    """Captures every request of a FastAPI or Starlette app, with route templates, and sends it to Sentinel.

    Add it with ``app.add_middleware(SentinelMiddleware, **options)``; it takes the same arguments as
    ``sentinel_sdk.asgi.SentinelMiddleware``, and ``identify`` receives a Starlette ``Request``.
    """

    def __init__(self, app: Any, **options: Any) -> None:
        super().__init__(app, **options)
        self._templates: dict[int, _Entry] = {}
        self._indexed: object | None = None

    def _framework(self) -> tuple[str, str]:
        return "starlette", framework_version("starlette")

    def identify_argument(self, scope: Scope) -> Any:
        """A Starlette ``Request`` for the ``identify`` callback."""
        return Request(scope)

    def route(self, scope: Scope) -> str | None:
        """The template of the route the router picked, mount prefixes included; None when nothing matched."""
        if self._route_resolver is not None:
            return self._route_resolver(scope)
        router = scope.get("router")
        if router is None:
            return None
        route = scope.get("route")
        if route is None:
            # Starlette before scope["route"]: match again, only when some endpoint was reached.
            return _match(router.routes, _matching_scope(scope), "") if "endpoint" in scope else None
        entry = self._templates.get(id(route))
        if (entry is None or entry[0] is not route) and router is not self._indexed:
            self._templates, self._indexed = _index(router.routes), router  # first request, or a new router
            entry = self._templates.get(id(route))
        if entry is not None and entry[0] is route:
            return _match(router.routes, _matching_scope(scope), "") if entry[2] else entry[1]
        return self._unindexed(scope, route)

    def _unindexed(self, scope: Scope, route: Any) -> str | None:
        # A route the index cannot see, such as one of FastAPI's included routers (whose routes carry the router
        # prefix already): its own path, below the mount prefix that routing added to root_path.
        path = getattr(route, "path", None)
        if not isinstance(path, str):
            return None
        root_path: str = scope.get("root_path", "")
        app_root_path: str = scope.get("app_root_path", "")
        prefix = root_path[len(app_root_path) :] if root_path.startswith(app_root_path) else ""
        template = prefix + from_braces(path)
        if not prefix and len(self._templates) < 10_000:
            self._templates[id(route)] = (route, template, False)
        return template


def _index(routes: Iterable[BaseRoute]) -> dict[int, _Entry]:
    """Every route reachable from a router, by identity, with its full template."""
    index: dict[int, _Entry] = {}

    def add(route: BaseRoute, template: str | None) -> None:
        entry = index.get(id(route))
        if entry is None:
            index[id(route)] = (route, template, False)
        elif entry[1] != template:
            index[id(route)] = (route, None, True)

    def visit(routes: Iterable[BaseRoute], prefix: str, depth: int) -> None:
        for route in routes:
            if isinstance(route, Mount):
                mount_prefix = prefix + from_braces(route.path)
                inner = route.routes
                # A mount reported as the route: the whole mounted app (no routes), or nothing inside matched.
                add(route, None if inner else f"{mount_prefix}/{{path}}")
                if depth < _MAX_DEPTH:
                    visit(inner, mount_prefix, depth + 1)
            elif isinstance(route, Host):
                if depth < _MAX_DEPTH:
                    visit(route.routes, prefix, depth + 1)
            else:
                path = getattr(route, "path", None)
                if isinstance(path, str):
                    add(route, prefix + from_braces(path))

    visit(routes, "", 0)
    return index


def _matching_scope(scope: Scope) -> dict[str, Any]:
    # The request as it arrived: routing has since moved root_path into the mounted apps.
    return {
        "type": "http",
        "path": scope["path"],
        "root_path": scope.get("app_root_path", scope.get("root_path", "")),
        "method": scope.get("method", "GET"),
        "headers": scope.get("headers", []),
    }


def _match(routes: Iterable[BaseRoute], scope: dict[str, Any], prefix: str, depth: int = 0) -> str | None:
    """Walk the routes as the router does and return the template of the route that handles ``scope``."""
    partial: str | None = None
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.NONE:
            continue
        if isinstance(route, (Mount, Host)):
            inner_prefix = prefix + from_braces(route.path) if isinstance(route, Mount) else prefix
            if not route.routes:
                return f"{inner_prefix}/{{path}}"
            if depth >= _MAX_DEPTH:
                return None
            return _match(route.routes, {**scope, **child}, inner_prefix, depth + 1)
        path = getattr(route, "path", None)
        if not isinstance(path, str):
            continue
        template = prefix + from_braces(path)
        if match is Match.FULL:
            return template
        partial = partial or template
    return partial
