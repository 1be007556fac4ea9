"""Nodes of a project's state tree, and their updates on the SSE topic ``state``."""

from __future__ import annotations

from typing import Any

import msgspec
import redis.asyncio as redis
import structlog

from sentinel_queue import publish_update

log = structlog.get_logger("sentinel.state")


class Node(msgspec.Struct, kw_only=True):
    """One node of the tidy tree: ``kind`` is project, layer, source, connector, script, table, artifact or job."""

    id: str
    name: str
    kind: str
    status: str
    meta: dict[str, Any] = msgspec.field(default_factory=dict)
    children: list[Node] = msgspec.field(default_factory=list)


class NodeUpdate(msgspec.Struct, kw_only=True):
    """What the ``state`` topic carries: a node without its children, its parent's id, and ``removed`` when it
    left the tree (a client replaces the node with the same id, or drops it)."""

    id: str
    name: str
    kind: str
    status: str
    meta: dict[str, Any]
    parent: str | None
    removed: bool = False


def update_of(node: Node, parent: str | None, *, removed: bool = False) -> NodeUpdate:
    return NodeUpdate(
        id=node.id, name=node.name, kind=node.kind, status=node.status, meta=node.meta, parent=parent, removed=removed
    )


async def publish_nodes(client: redis.Redis, project_id: str, updates: list[NodeUpdate]) -> None:
    """Publish node updates on the project's ``state`` topic, best effort: the change itself is already stored,
    and a Redis hiccup must not fail the request that made it."""
    try:
        for update in updates:
            await publish_update(client, project_id, "state", update)
    except redis.RedisError as exc:
        log.warning("state_update_not_published", project_id=project_id, error=str(exc))
