"""The analytics reader on app state (``app.state.analytics``), its readiness check, its dependency, and how its
errors are answered: a query stopped at its time limit is a 504, a store that cannot answer a 503."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from litestar import Litestar, Request, Response
from litestar.types import ExceptionHandlersMap

from sentinel_analytics.reads import AnalyticsReader, ReadError, open_reader
from sentinel_dashboard.settings import Settings
from sentinel_service import error_response
from sentinel_types import ErrorResponse

_log = structlog.get_logger("sentinel.dashboard.analytics")


def analytics_lifespan(settings: Settings) -> Any:
    """Open the configured reader at start-up (connections open on first use) and close it at shutdown."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        reader = open_reader(settings.analytics, settings.clickhouse, settings.tinybird)
        app.state.analytics = reader
        try:
            yield
        finally:
            await reader.close()

    return lifespan


async def analytics_ready(request: Request[Any, Any, Any]) -> None:
    """Readiness check: the analytics store answers."""
    if not await request.app.state.analytics.ping():
        raise RuntimeError("the analytics store does not answer")


def provide_analytics(request: Request[Any, Any, Any]) -> AnalyticsReader:
    reader: AnalyticsReader = request.app.state.analytics
    return reader


def _read_error(request: Request[Any, Any, Any], exc: ReadError) -> Response[ErrorResponse]:
    _log.warning("analytics_read_failed", path=request.url.path, timeout=exc.timeout, error=str(exc))
    if exc.timeout:
        return error_response(
            request,
            504,
            "query_timeout",
            "the analytics query took longer than its time limit; narrow the window or the filters",
        )
    return error_response(
        request, 503, "unavailable", "the analytics store is unreachable; try again", headers={"Retry-After": "5"}
    )


ANALYTICS_ERRORS: ExceptionHandlersMap = {ReadError: _read_error}
