"""Assemble a Sentinel HTTP service: logging, request ids, JSON errors, health routes, Redis on app state."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, cast

import redis.asyncio as redis
import structlog
from litestar import Litestar, Request
from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.types import ControllerRouterHandler, ExceptionHandlersMap

from sentinel_config import LogSettings, RedisSettings, RequestIdMiddleware, configure_logging
from sentinel_service.errors import exception_handlers
from sentinel_service.health import Check, health_handlers

Lifespan = Callable[[Litestar], AbstractAsyncContextManager[None]]


def redis_client(settings: RedisSettings) -> redis.Redis:
    """A pooled asyncio Redis client from the shared settings."""
    return redis.Redis.from_url(
        settings.url,
        max_connections=settings.max_connections,
        socket_timeout=settings.socket_timeout_s,
        socket_connect_timeout=settings.socket_timeout_s,
        health_check_interval=30,
    )


def redis_lifespan(settings: RedisSettings) -> Lifespan:
    """Open the Redis pool at start-up (``app.state.redis``) and close it at shutdown."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        client = redis_client(settings)
        app.state.redis = client
        try:
            yield
        finally:
            await client.aclose()

    return lifespan


async def redis_ready(request: Request[Any, Any, Any]) -> None:
    """Readiness check: Redis answers PING."""
    await request.app.state.redis.ping()


def _provide_redis(request: Request[Any, Any, Any]) -> redis.Redis:
    client: redis.Redis = request.app.state.redis
    return client


def create_service_app(
    *,
    service: str,
    version: str,
    title: str,
    log: LogSettings,
    route_handlers: Sequence[ControllerRouterHandler],
    lifespans: Sequence[Lifespan],
    readiness: Mapping[str, Check],
    dependencies: Mapping[str, Provide] | None = None,
    extra_exception_handlers: ExceptionHandlersMap | None = None,
    on_app_init: Sequence[Callable[[AppConfig], AppConfig]] = (),
    debug: bool = False,
) -> Litestar:
    """A Litestar app with the parts every Sentinel service shares."""
    configure_logging(log, service=service)
    logger = structlog.get_logger("sentinel.service")

    async def started() -> None:
        logger.info("service_started", version=version, pid=os.getpid())

    async def stopped() -> None:
        logger.info("service_stopped", pid=os.getpid())

    return Litestar(
        on_startup=[started],
        on_shutdown=[stopped],
        route_handlers=[*health_handlers(service, version, readiness), *route_handlers],
        lifespan=list(lifespans),
        middleware=[DefineMiddleware(cast(Any, RequestIdMiddleware))],
        exception_handlers={**exception_handlers(), **(extra_exception_handlers or {})},
        dependencies={"redis": Provide(_provide_redis, sync_to_thread=False), **(dependencies or {})},
        openapi_config=OpenAPIConfig(title=title, version=version, path="/schema"),
        on_app_init=list(on_app_init),
        logging_config=None,
        debug=debug,
    )
