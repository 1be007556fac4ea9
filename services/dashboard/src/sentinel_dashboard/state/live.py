"""Keep state trees live: recompute watched projects' trees, diff them, publish the changed nodes on ``state``.

A project is watched once its tree was asked for (``GET /api/projects/{id}/state``) and stays so while anyone
listens to its ``state`` topic (Redis ``PUBSUB NUMSUB``, so listeners on any dashboard process count) or for
``SENTINEL_STATE_WATCH_TTL_S`` after its last view. At most ``SENTINEL_STATE_MAX_PROJECTS`` projects are kept
(the most recently viewed), recomputed every ``SENTINEL_STATE_REFRESH_S`` two at a time: the work is bounded
whatever the number of projects. Every recompute (the periodic one, or a GET) publishes its differences from the
previous one, so listeners see every change, including the ingestion figures that move on their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from typing import Any

import redis.asyncio as redis
import structlog

from sentinel_control import Project
from sentinel_dashboard.layers.health import ConnectorsHealth, check_connectors
from sentinel_dashboard.state.diff import changes, fingerprints, flatten
from sentinel_dashboard.state.nodes import Node, publish_nodes
from sentinel_dashboard.state.settings import StateSettings
from sentinel_dashboard.state.tree import build_tree
from sentinel_queue import channel

log = structlog.get_logger("sentinel.state")

HEALTH_TIMEOUT_S = 1.5
CONCURRENCY = 2


class HealthCache:
    """The connectors' health for trees, computed at most once per ``ttl_s`` (concurrent callers share it)."""

    def __init__(self, state: Any, ttl_s: float) -> None:
        self._state = state
        self._ttl_s = ttl_s
        self._value: ConnectorsHealth | None = None
        self._at = 0.0
        self._pending: asyncio.Future[ConnectorsHealth] | None = None

    async def get(self) -> ConnectorsHealth:
        if self._value is not None and time.monotonic() - self._at < self._ttl_s:
            return self._value
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._check())
        pending = self._pending
        try:
            return await asyncio.shield(pending)
        finally:
            if pending.done() and self._pending is pending:
                self._pending = None

    async def _check(self) -> ConnectorsHealth:
        state = self._state
        value = await check_connectors(
            settings=state.settings,
            redis=state.redis,
            control=state.control,
            objects=state.objects,
            layers=state.layers,
            runners=state.health_runners,
            timeout_s=HEALTH_TIMEOUT_S,
        )
        self._value, self._at = value, time.monotonic()
        return value


class _Watched:
    def __init__(self, project: Project) -> None:
        self.project = project
        self.viewed = time.monotonic()
        self.snapshot: dict[str, bytes] | None = None
        self.lock = asyncio.Lock()


class LiveState:
    """Per-process: watched projects, their last published trees, and the refresh loop."""

    def __init__(self, state: Any, settings: StateSettings) -> None:
        self._state = state
        self.settings = settings
        self.health = HealthCache(state, settings.health_ttl_s)
        self._watched: OrderedDict[str, _Watched] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self.cycles = 0

    async def tree(self, project: Project) -> Node:
        """The project's tree now; watching it, and publishing what changed since its last computation."""
        watched = self._watched.get(project.id)
        if watched is None:
            watched = self._watched[project.id] = _Watched(project)
            while len(self._watched) > self.settings.max_projects:
                self._watched.popitem(last=False)
        self._watched.move_to_end(project.id)
        watched.project, watched.viewed = project, time.monotonic()
        return await self._recompute(watched)

    async def _recompute(self, watched: _Watched) -> Node:
        async with watched.lock:
            state = self._state
            root = await build_tree(
                project=watched.project,
                control=state.control,
                objects=state.objects,
                layers=state.layers,
                health=self.health.get(),
            )
            nodes = flatten(root)
            if watched.snapshot is not None:
                updates = changes(watched.snapshot, nodes)
                if updates:
                    await publish_nodes(state.redis, watched.project.id, updates)
            watched.snapshot = fingerprints(nodes)
            return root

    async def _listened(self, project_ids: list[str]) -> set[str]:
        client: redis.Redis = self._state.redis
        channels = [channel(project_id, "state") for project_id in project_ids]
        counts = await client.pubsub_numsub(*channels)
        listened = {name.decode() if isinstance(name, bytes) else str(name) for name, count in counts if int(count) > 0}
        return {project_id for project_id, name in zip(project_ids, channels, strict=True) if name in listened}

    async def refresh_once(self) -> int:
        """Recompute every project still watched; returns how many were recomputed."""
        now = time.monotonic()
        candidates = list(self._watched.values())
        try:
            listened = await self._listened([w.project.id for w in candidates]) if candidates else set()
        except redis.RedisError as exc:
            log.warning("state_listeners_unknown", error=str(exc))
            listened = set()
        due = []
        for watched in candidates:
            if watched.project.id in listened or now - watched.viewed <= self.settings.watch_ttl_s:
                due.append(watched)
            else:
                self._watched.pop(watched.project.id, None)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(watched: _Watched) -> None:
            async with gate:
                try:
                    await self._recompute(watched)
                except Exception as exc:  # one project's failure must not stop the others' updates
                    log.warning("state_refresh_failed", project_id=watched.project.id, error=str(exc))

        await asyncio.gather(*(one(watched) for watched in due))
        self.cycles += 1
        return len(due)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.refresh_s)
            await self.refresh_once()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="state-refresh")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
