"""The ingest API as a Litestar app."""

from __future__ import annotations

from litestar import Litestar

from sentinel_ingest import __version__
from sentinel_ingest.settings import Settings, get_settings
from sentinel_service import create_service_app, redis_lifespan, redis_ready


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the app; tests pass their own settings, production reads ``SENTINEL_*`` once."""
    settings = settings or get_settings()
    app = create_service_app(
        service="ingest",
        version=__version__,
        title="Sentinel ingest API",
        log=settings.log,
        route_handlers=[],
        lifespans=[redis_lifespan(settings.redis)],
        readiness={"redis": redis_ready},
    )
    app.state.settings = settings
    return app
