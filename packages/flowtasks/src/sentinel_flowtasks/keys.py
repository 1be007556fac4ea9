"""Where a project's objects live: every key starts with ``tenants/<tenant_id>/projects/<project_id>/``."""

from __future__ import annotations

from sentinel_storage import is_valid_key


def project_prefix(tenant_id: str, project_id: str) -> str:
    return f"tenants/{tenant_id}/projects/{project_id}/"


def scripts_prefix(tenant_id: str, project_id: str) -> str:
    return project_prefix(tenant_id, project_id) + "scripts/"


def export_key(tenant_id: str, project_id: str, job_id: str) -> str:
    """The NDJSON export of an analysis job's window."""
    return project_prefix(tenant_id, project_id) + f"exports/{job_id}.ndjson"


def artifact_key(tenant_id: str, project_id: str, job_id: str) -> str:
    """The gold artifact (JSON) an analysis job stores its result in."""
    return project_prefix(tenant_id, project_id) + f"gold/{job_id}.json"


def is_script_key(key: str, tenant_id: str, project_id: str) -> bool:
    """True when ``key`` names an object under the project's scripts (no traversal, no other tenant)."""
    prefix = scripts_prefix(tenant_id, project_id)
    return key.startswith(prefix) and len(key) > len(prefix) and is_valid_key(key)
