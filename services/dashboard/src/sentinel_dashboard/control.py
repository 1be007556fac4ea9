"""The control store on app state: opened at start-up, closed at shutdown, errors mapped to HTTP answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Response
from litestar.types import ExceptionHandlersMap

from sentinel_control import (
    ConflictError,
    ControlStore,
    LimitExceededError,
    SecretHasher,
    StoreUnavailableError,
    open_control_store,
)
from sentinel_dashboard.settings import Settings
from sentinel_service import error_response
from sentinel_types import ErrorResponse


def control_lifespan(settings: Settings) -> Any:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        store = open_control_store(settings.control, settings.aws)
        await store.setup()
        app.state.control = store
        try:
            yield
        finally:
            await store.close()

    return lifespan


async def control_ready(request: Request[Any, Any, Any]) -> None:
    """Readiness check: the control store answers."""
    await request.app.state.control.ping()


def provide_control(request: Request[Any, Any, Any]) -> ControlStore:
    store: ControlStore = request.app.state.control
    return store


def provide_hasher(request: Request[Any, Any, Any]) -> SecretHasher:
    hasher: SecretHasher = request.app.state.hasher
    return hasher


def _conflict(request: Request[Any, Any, Any], exc: ConflictError) -> Response[ErrorResponse]:
    return error_response(request, 409, "conflict", str(exc))


def _limit(request: Request[Any, Any, Any], exc: LimitExceededError) -> Response[ErrorResponse]:
    return error_response(request, 409, "limit_exceeded", str(exc))


def _unavailable(request: Request[Any, Any, Any], exc: StoreUnavailableError) -> Response[ErrorResponse]:
    return error_response(
        request, 503, "unavailable", "the control store is unreachable; try again", headers={"Retry-After": "5"}
    )


CONTROL_ERRORS: ExceptionHandlersMap = {
    ConflictError: _conflict,
    LimitExceededError: _limit,
    StoreUnavailableError: _unavailable,
}
