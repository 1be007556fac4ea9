"""Compare-and-set changes of a job's record, for handlers that may race with the webhook and each other."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sentinel_control import ConflictError, ControlStore, Job, JobChanges

_ATTEMPTS = 20


async def change_job(
    store: ControlStore, tenant_id: str, job_id: str, change: Callable[[Job], JobChanges | None]
) -> Job | None:
    """Apply ``change(current job)`` by compare-and-set, re-reading and retrying when another writer won.

    ``change`` returns None to leave the job as it is. Returns the job after the change (None if it does not
    exist)."""
    for _ in range(_ATTEMPTS):
        job = await store.get_job(tenant_id, job_id)
        if job is None:
            return None
        changes = change(job)
        if changes is None:
            return job
        try:
            return await store.update_job(tenant_id, job_id, changes, job.version)
        except ConflictError:
            continue
    raise ConflictError(f"job {job_id} kept changing under {_ATTEMPTS} attempts to update it")


def merged(result: dict[str, Any] | None, **sections: Any) -> dict[str, Any]:
    """``result`` with ``sections`` set (dict sections are merged one level deep)."""
    out = dict(result or {})
    for name, value in sections.items():
        if isinstance(value, dict) and isinstance(out.get(name), dict):
            out[name] = {**out[name], **value}
        else:
            out[name] = value
    return out
