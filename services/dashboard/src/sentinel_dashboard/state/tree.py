"""Build a project's state tree from what the stores hold now.

project → Layer 1 ingestion (SDK sources by service and environment; connectors with their health) → Layer 2
scripts (each with its last run) → Layer 3 gold (analytics tables and rollups; job artifacts) → recent jobs.
Each part is fetched concurrently within a timeout; a part that fails leaves its layer ``unknown`` with the error
in the layer's meta, and the rest of the tree is still answered.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

import structlog

from sentinel_analytics.layers import LayersReader, SourceFigures, TableFigures
from sentinel_connectors.jobs import job_meta
from sentinel_control import ControlStore, Job, Project
from sentinel_dashboard.layers.health import ConnectorsHealth
from sentinel_dashboard.scripts.payloads import ScriptOut
from sentinel_dashboard.scripts.routes import script_node
from sentinel_dashboard.scripts.service import list_scripts
from sentinel_dashboard.state.nodes import Node
from sentinel_storage import ObjectInfo, ObjectStore

log = structlog.get_logger("sentinel.state")

T = TypeVar("T")

RECENT_JOBS = 20
JOBS_SCANNED = 200
MAX_ARTIFACTS = 50
LIVE_WITHIN_MS = 5 * 60_000
FRESH_WITHIN_MS = 60 * 60_000
LOSS_DEGRADED = 0.01
PART_TIMEOUT_S = 5.0

_RANK = {"down": 4, "unknown": 3, "degraded": 2, "failed": 2}


class Part:
    """A fetched part of the tree, or why it is missing."""

    def __init__(self, value: Any = None, error: str | None = None) -> None:
        self.value = value
        self.error = error


async def _fetch(name: str, call: Awaitable[T]) -> Part:
    try:
        return Part(await asyncio.wait_for(call, PART_TIMEOUT_S))
    except TimeoutError:
        return Part(error=f"{name}: no answer within {PART_TIMEOUT_S:g} s")
    except Exception as exc:  # one failing store must not take the whole tree down
        log.warning("state_part_failed", part=name, error=str(exc))
        return Part(error=f"{name}: {exc}")


def _worst(statuses: list[str], default: str) -> str:
    ranked = [status for status in statuses if status in _RANK]
    return max(ranked, key=_RANK.__getitem__) if ranked else default


def source_node(source: SourceFigures, now_ms: int) -> Node:
    if source.loss_ratio > LOSS_DEGRADED:
        status = "degraded"
    elif now_ms - source.last_seen_ms <= LIVE_WITHIN_MS:
        status = "live"
    else:
        status = "idle"
    return Node(
        id=f"source:{source.service}/{source.environment}",
        name=f"{source.service} ({source.environment})",
        kind="source",
        status=status,
        meta={
            "service": source.service,
            "environment": source.environment,
            "sdk": source.sdk,
            "last_seen_ms": source.last_seen_ms,
            "events_per_min": source.events_per_min,
            "events_24h": source.events_24h,
            "lost_24h": source.lost_24h,
            "sampled_out_24h": source.sampled_out_24h,
            "loss_ratio": source.loss_ratio,
        },
    )


_BUCKET_NAMES = {60_000: "1 minute", 3_600_000: "1 hour", 86_400_000: "1 day"}


def table_node(table: TableFigures, now_ms: int) -> Node:
    if table.rows == 0 or table.last_at_ms is None:
        status = "empty"
    elif now_ms - (table.last_at_ms + table.bucket_ms) <= FRESH_WITHIN_MS:  # a rollup's bucket holds until its end
        status = "fresh"
    else:
        status = "stale"
    return Node(
        id=f"table:{table.name}",
        name=table.name,
        kind="rollup" if table.kind == "rollup" else "table",
        status=status,
        meta={"rows": table.rows, "last_at_ms": table.last_at_ms, "engine": table.engine}
        | ({"bucket": _BUCKET_NAMES.get(table.bucket_ms, "")} if table.bucket_ms else {}),
    )


def job_node(job: Job) -> Node:
    return Node(id=f"job:{job.id}", name=job.name, kind="job", status=job.status, meta=job_meta(job))


def _last_run(script: ScriptOut, jobs: list[Job]) -> dict[str, Any] | None:
    for job in jobs:  # newest first
        if job.params.get("script_key") == script.key:
            return {
                "job_id": job.id,
                "status": job.status,
                "created_at": job.created_at,
                "finished_at": job.finished_at,
            }
    return None


def _layer(node_id: str, name: str, children: list[Node], status: str, error: str | None = None) -> Node:
    meta: dict[str, Any] = {"count": len(children)}
    if error:
        meta["error"] = error
    return Node(
        id=node_id, name=name, kind="layer", status="unknown" if error else status, meta=meta, children=children
    )


async def _artifacts(objects: ObjectStore, prefix: str) -> list[ObjectInfo]:
    found = [info async for info in objects.list(prefix)]
    found.sort(key=lambda info: info.modified_ms, reverse=True)
    return found[:MAX_ARTIFACTS]


async def build_tree(
    *,
    project: Project,
    control: ControlStore,
    objects: ObjectStore,
    layers: LayersReader | None,
    health: Awaitable[ConnectorsHealth],
    now_ms: int | None = None,
) -> Node:
    """The project's tree now."""
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    tenant, pid = project.tenant_id, project.id
    unavailable = "not available with the Tinybird backend"
    sources, tables, connectors, scripts, jobs, artifacts = await asyncio.gather(
        _fetch("analytics", layers.sources(pid, now)) if layers else _none(unavailable),
        _fetch("analytics", layers.tables(pid)) if layers else _none(unavailable),
        _fetch("health", health),
        _fetch("object store", list_scripts(objects, tenant, pid)),
        _fetch("control store", control.list_jobs(tenant, pid, limit=JOBS_SCANNED)),
        _fetch("object store", _artifacts(objects, f"tenants/{tenant}/projects/{pid}/gold/")),
    )

    source_nodes = [source_node(source, now) for source in sources.value or []]
    connector_nodes = [
        Node(
            id=f"connector:{item.name}",
            name=item.name,
            kind="connector",
            status=item.status,
            meta={"connector_kind": item.kind, "latency_ms": item.latency_ms, "detail": item.detail},
        )
        for item in (connectors.value.items if connectors.value else [])
    ]
    ingestion_status = (
        "live" if any(node.status == "live" for node in source_nodes) else ("idle" if source_nodes else "empty")
    )
    ingestion_status = _worst([node.status for node in source_nodes + connector_nodes], ingestion_status)
    ingestion = _layer(
        "layer:ingestion",
        "Layer 1: ingestion",
        source_nodes + connector_nodes,
        ingestion_status,
        sources.error or connectors.error,
    )

    job_list: list[Job] = jobs.value or []
    script_nodes = [script_node(script, last_run=_last_run(script, job_list)) for script in scripts.value or []]
    scripts_layer = _layer(
        "layer:scripts",
        "Layer 2: scripts",
        script_nodes,
        _worst([node.status for node in script_nodes], "ready" if script_nodes else "empty"),
        scripts.error or jobs.error,
    )

    table_nodes = [table_node(table, now) for table in tables.value or []]
    artifact_nodes = [
        Node(
            id=f"artifact:{info.key.rpartition('/')[2]}",
            name=info.key.rpartition("/")[2],
            kind="artifact",
            status="stored",
            meta={"key": info.key, "size": info.size, "modified_ms": info.modified_ms},
        )
        for info in artifacts.value or []
    ]
    gold_status = "fresh" if any(node.status == "fresh" for node in table_nodes) else "stale"
    if not any(node.status != "empty" for node in table_nodes):
        gold_status = "empty"
    gold = _layer(
        "layer:gold", "Layer 3: gold", table_nodes + artifact_nodes, gold_status, tables.error or artifacts.error
    )

    job_nodes = [job_node(job) for job in job_list[:RECENT_JOBS]]
    recent = _layer(
        "layer:jobs",
        "Recent jobs",
        job_nodes,
        "running" if any(job.status in ("queued", "running") for job in job_list[:RECENT_JOBS]) else "idle",
        jobs.error,
    )

    children = [ingestion, scripts_layer, gold, recent]
    status = _worst([child.status for child in children], "ok")
    return Node(
        id=f"project:{pid}",
        name=project.name,
        kind="project",
        status=status,
        meta={"project_id": pid},
        children=children,
    )


async def _none(reason: str) -> Part:
    return Part(error=reason)
