"""The dashboard and orchestration API as a Litestar app."""

from __future__ import annotations

from litestar import Litestar
from litestar.di import Provide

from sentinel_control import hasher_from
from sentinel_dashboard import __version__
from sentinel_dashboard.control import (
    CONTROL_ERRORS,
    control_lifespan,
    control_ready,
    provide_control,
    provide_hasher,
)
from sentinel_dashboard.projects.routes import ProjectController
from sentinel_dashboard.settings import Settings, get_settings
from sentinel_dashboard.tokens.routes import TokenController
from sentinel_service import create_service_app, redis_lifespan, redis_ready


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the app; tests pass their own settings, production reads ``SENTINEL_*`` once."""
    settings = settings or get_settings()
    hasher = hasher_from(settings.control)  # a missing server secret fails here, at start-up
    app = create_service_app(
        service="dashboard",
        version=__version__,
        title="Sentinel dashboard API",
        log=settings.log,
        route_handlers=[ProjectController, TokenController],
        lifespans=[redis_lifespan(settings.redis), control_lifespan(settings)],
        readiness={"redis": redis_ready, "control": control_ready},
        dependencies={
            "control": Provide(provide_control, sync_to_thread=False),
            "hasher": Provide(provide_hasher, sync_to_thread=False),
        },
        extra_exception_handlers=CONTROL_ERRORS,
    )
    app.state.settings = settings
    app.state.hasher = hasher
    return app
