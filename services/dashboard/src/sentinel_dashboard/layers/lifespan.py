"""What the layer routes share per process: the analytics figures reader and the sandbox runners they check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from litestar import Litestar

from sentinel_analytics.layers import LayersReader
from sentinel_sandbox import SandboxRunner

if TYPE_CHECKING:
    from sentinel_dashboard.settings import Settings


def health_runners(settings: Settings) -> dict[str, SandboxRunner]:
    """One runner per provider, for health checks only (each reports ``not_configured`` when it is off)."""
    from sentinel_sandbox.e2b_runner import E2BRunner
    from sentinel_sandbox.local_runner import LocalRunner
    from sentinel_sandbox.modal_runner import ModalRunner

    return {
        "e2b": E2BRunner(settings.e2b),
        "modal": ModalRunner(settings.modal),
        "local": LocalRunner(settings.sandbox_local),
    }


def layers_lifespan(settings: Settings) -> Any:
    """``app.state.layers``: the figures reader (ClickHouse backend; None with Tinybird), closed at shutdown;
    ``app.state.health_runners``: the runners the connectors' health checks ask (tests may set
    ``app.state.sandbox_runners`` before start-up to check their own)."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        reader = LayersReader(settings.clickhouse) if settings.analytics.backend == "clickhouse" else None
        injected = getattr(app.state, "sandbox_runners", None)
        owned = {} if injected is not None else health_runners(settings)
        app.state.layers = reader
        app.state.health_runners = injected if injected is not None else owned
        try:
            yield
        finally:
            if reader is not None:
                await reader.close()
            for runner in owned.values():
                await runner.aclose()

    return lifespan
