"""Which node updates a recompute publishes."""

from __future__ import annotations

from sentinel_dashboard.state.diff import changes, fingerprints, flatten
from sentinel_dashboard.state.nodes import Node


def _tree(*, job_status: str = "running", latency: float = 1.0, with_artifact: bool = True) -> Node:
    gold = [Node(id="artifact:a.json", name="a.json", kind="artifact", status="stored")] if with_artifact else []
    return Node(
        id="project:p",
        name="p",
        kind="project",
        status="ok",
        children=[
            Node(
                id="layer:ingestion",
                name="Layer 1",
                kind="layer",
                status="live",
                children=[
                    Node(
                        id="connector:redis",
                        name="redis",
                        kind="connector",
                        status="healthy",
                        meta={"latency_ms": latency},
                    )
                ],
            ),
            Node(id="layer:gold", name="Layer 3", kind="layer", status="fresh", children=gold),
            Node(
                id="layer:jobs",
                name="Recent jobs",
                kind="layer",
                status="idle",
                children=[Node(id="job:j", name="analysis", kind="job", status=job_status)],
            ),
        ],
    )


class TestStateDiff:
    def test_flatten_keeps_parents(self) -> None:
        nodes = flatten(_tree())
        assert nodes["job:j"].parent == "layer:jobs"
        assert nodes["layer:jobs"].parent == "project:p"
        assert nodes["project:p"].parent is None
        assert len(nodes) == 7

    def test_same_tree_publishes_nothing_and_latency_alone_is_no_change(self) -> None:
        before = fingerprints(flatten(_tree()))
        assert changes(before, flatten(_tree())) == []
        assert changes(before, flatten(_tree(latency=250.0))) == []

    def test_a_changed_node_is_published_alone(self) -> None:
        before = fingerprints(flatten(_tree()))
        updates = changes(before, flatten(_tree(job_status="succeeded")))
        assert [(u.id, u.status, u.parent) for u in updates] == [("job:j", "succeeded", "layer:jobs")]

    def test_new_nodes_come_parents_first_and_removed_ones_last(self) -> None:
        before = fingerprints(flatten(_tree(with_artifact=False)))
        after = _tree()
        after.children.append(
            Node(
                id="layer:new",
                name="n",
                kind="layer",
                status="x",
                children=[Node(id="leaf", name="l", kind="k", status="s")],
            )
        )
        added = changes(before, flatten(after))
        assert {u.id for u in added} == {"artifact:a.json", "layer:new", "leaf"}
        assert [u.id for u in added].index("layer:new") < [u.id for u in added].index("leaf")
        removed = changes(fingerprints(flatten(_tree())), flatten(_tree(with_artifact=False)))
        assert [(u.id, u.removed) for u in removed] == [("artifact:a.json", True)]


def test_a_rollup_whose_rows_merged_is_no_change_but_a_table_with_new_rows_is() -> None:
    def tree(rollup_rows: int, events_rows: int) -> Node:
        tables = [
            Node(id="table:events", name="events", kind="table", status="fresh", meta={"rows": events_rows}),
            Node(id="table:project_1m", name="project_1m", kind="rollup", status="fresh", meta={"rows": rollup_rows}),
        ]
        return Node(id="project:p", name="p", kind="project", status="ok", children=tables)

    before = fingerprints(flatten(tree(rollup_rows=40, events_rows=360)))
    assert changes(before, flatten(tree(rollup_rows=12, events_rows=360))) == []  # a background merge
    assert [u.id for u in changes(before, flatten(tree(rollup_rows=41, events_rows=420)))] == ["table:events"]
