"""``GET /api/projects/{project_id}/state``: the project's state tree (changes follow on the SSE topic ``state``)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Litestar, Request, get
from litestar.di import Provide

from sentinel_dashboard.auth import provide_principal
from sentinel_dashboard.deps import ControlDep, PrincipalDep
from sentinel_dashboard.params import ProjectIdParam
from sentinel_dashboard.projects.routes import project_of
from sentinel_dashboard.responses import authed
from sentinel_dashboard.state.live import LiveState
from sentinel_dashboard.state.nodes import Node

if TYPE_CHECKING:
    from sentinel_dashboard.settings import Settings


class StateTree(msgspec.Struct, kw_only=True):
    project_id: str
    computed_at: int
    root: Node


@get(
    "/api/projects/{project_id:str}/state",
    tags=["state"],
    summary="The project's state tree: ingestion, scripts, gold and recent jobs",
    dependencies={"principal": Provide(provide_principal)},
    responses=authed(404),
)
async def project_state(
    request: Request[Any, Any, Any], principal: PrincipalDep, control: ControlDep, project_id: ProjectIdParam
) -> StateTree:
    """Nodes are ``{id, name, kind, status, meta, children}``. After this call the project is watched: every node
    that changes is pushed on the SSE topic ``state`` as ``{id, name, kind, status, meta, parent, removed}``."""
    principal.require("read")
    project = await project_of(control, principal, project_id)
    live: LiveState = request.app.state.live_state
    root = await live.tree(project)
    return StateTree(project_id=project.id, computed_at=int(time.time() * 1000), root=root)


def state_lifespan(settings: Settings) -> Any:
    """Start the refresh loop after the stores it reads are open; stop it first at shutdown."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        live = LiveState(app.state, settings.state)
        app.state.live_state = live
        live.start()
        try:
            yield
        finally:
            await live.close()

    return lifespan
