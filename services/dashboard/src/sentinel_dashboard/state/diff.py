"""Node updates between two versions of a tree: what the ``state`` topic carries."""

from __future__ import annotations

from typing import Any

import msgspec

from sentinel_dashboard.state.nodes import Node, NodeUpdate, update_of

# Figures that move on every check without meaning a change (a connector's latency): not a reason to publish.
VOLATILE_META = frozenset({"latency_ms"})
# The same, per kind of node: a rollup's stored rows shrink as background merges combine them (its data, and its
# freshness, stay the same; new data shows in its freshness and in the raw tables' rows).
VOLATILE_BY_KIND = {"rollup": VOLATILE_META | {"rows"}}


def flatten(root: Node) -> dict[str, NodeUpdate]:
    """Every node of the tree by id, without children, with its parent's id."""
    out: dict[str, NodeUpdate] = {}
    stack: list[tuple[Node, str | None]] = [(root, None)]
    while stack:
        node, parent = stack.pop()
        out[node.id] = update_of(node, parent)
        stack.extend((child, node.id) for child in node.children)
    return out


def _fingerprint(update: NodeUpdate) -> bytes:
    volatile = VOLATILE_BY_KIND.get(update.kind, VOLATILE_META)
    meta: dict[str, Any] = {key: value for key, value in update.meta.items() if key not in volatile}
    return msgspec.json.encode([update.name, update.kind, update.status, update.parent, meta], order="sorted")


def fingerprints(nodes: dict[str, NodeUpdate]) -> dict[str, bytes]:
    return {node_id: _fingerprint(update) for node_id, update in nodes.items()}


def changes(before: dict[str, bytes], after: dict[str, NodeUpdate]) -> list[NodeUpdate]:
    """Nodes new or changed since ``before`` (parents first), then the ones that left the tree."""
    changed = [update for node_id, update in after.items() if before.get(node_id) != _fingerprint(update)]
    depth = {node_id: _depth(node_id, after) for node_id in after}
    changed.sort(key=lambda update: depth[update.id])
    removed = [
        NodeUpdate(id=node_id, name="", kind="", status="removed", meta={}, parent=None, removed=True)
        for node_id in before
        if node_id not in after
    ]
    return changed + removed


def _depth(node_id: str, nodes: dict[str, NodeUpdate]) -> int:
    depth, parent = 0, nodes[node_id].parent
    while parent is not None and depth < 16:
        depth, parent = depth + 1, nodes[parent].parent if parent in nodes else None
    return depth
