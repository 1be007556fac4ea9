"""The dashboard and orchestration API as a Litestar app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.di import Provide

from sentinel_control import hasher_from
from sentinel_dashboard import __version__
from sentinel_dashboard.body import BODY_ERRORS, use_json_request
from sentinel_dashboard.control import (
    CONTROL_ERRORS,
    control_lifespan,
    control_ready,
    provide_control,
    provide_hasher,
)
from sentinel_dashboard.cost.routes import project_cost_report
from sentinel_dashboard.jobs.routes import JobController
from sentinel_dashboard.layers.lifespan import layers_lifespan
from sentinel_dashboard.layers.routes import connectors_health
from sentinel_dashboard.layers.scripts import presign_script
from sentinel_dashboard.metrics.routes import MetricsController
from sentinel_dashboard.metrics.store import ANALYTICS_ERRORS, analytics_lifespan, analytics_ready, provide_analytics
from sentinel_dashboard.orchestration.flow_runtime import flows_lifespan
from sentinel_dashboard.orchestration.flows import run_flow
from sentinel_dashboard.orchestration.sync import trigger_sync
from sentinel_dashboard.orchestration.sync_runtime import sync_lifespan
from sentinel_dashboard.projects.routes import ProjectController
from sentinel_dashboard.requests.routes import RequestController
from sentinel_dashboard.scripts.routes import ScriptController
from sentinel_dashboard.settings import Settings, get_settings
from sentinel_dashboard.state.routes import project_state, state_lifespan
from sentinel_dashboard.storage import objects_lifespan
from sentinel_dashboard.storage.routes import read_signed_object
from sentinel_dashboard.stream.hub import Hub
from sentinel_dashboard.stream.routes import create_sse_token, events
from sentinel_dashboard.stream.tokens import SseTokenSigner
from sentinel_dashboard.tokens.routes import TokenController
from sentinel_dashboard.ui import ui_handlers
from sentinel_dashboard.webhooks.routes import sandbox_callback
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
        route_handlers=[
            ProjectController,
            MetricsController,
            RequestController,
            TokenController,
            JobController,
            sandbox_callback,
            run_flow,
            trigger_sync,
            create_sse_token,
            events,
            ScriptController,
            presign_script,
            connectors_health,
            project_cost_report,
            project_state,
            read_signed_object,
            *ui_handlers(),
        ],
        lifespans=[
            redis_lifespan(settings.redis),
            control_lifespan(settings),
            analytics_lifespan(settings),
            objects_lifespan(settings),
            layers_lifespan(settings),
            state_lifespan(settings),
            _hub_lifespan(settings),
            flows_lifespan(settings),
            sync_lifespan(settings),
        ],
        readiness={"redis": redis_ready, "control": control_ready, "analytics": analytics_ready},
        dependencies={
            "control": Provide(provide_control, sync_to_thread=False),
            "hasher": Provide(provide_hasher, sync_to_thread=False),
            "analytics": Provide(provide_analytics, sync_to_thread=False),
        },
        extra_exception_handlers={**CONTROL_ERRORS, **ANALYTICS_ERRORS, **BODY_ERRORS},
        on_app_init=[use_json_request],
    )
    app.state.settings = settings
    app.state.hasher = hasher
    app.state.sse_signer = SseTokenSigner(settings.control.hash_secret)
    return app


def _hub_lifespan(settings: Settings) -> Any:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        hub = Hub(
            app.state.redis,
            queue_size=settings.dashboard.sse_queue_size,
            max_per_tenant=settings.dashboard.sse_max_connections_per_tenant,
        )
        hub.start()
        app.state.hub = hub
        try:
            yield
        finally:
            await hub.close()

    return lifespan
