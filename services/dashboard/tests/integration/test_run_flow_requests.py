"""``POST /api/orchestration/run-flow`` refuses what it cannot run, with the field and the reason, before any job."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from sentinel_control import ControlStore, SecretHasher, Tenant
from sentinel_control.testing import make_token

Client = AsyncTestClient  # type: ignore[type-arg]
URL = "/api/orchestration/run-flow"
WINDOW = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}


async def _project(client: Client, tenant: Any) -> str:
    response = await client.post("/api/projects", json={"name": "shop"}, headers=tenant.headers)
    assert response.status_code == 201, response.text
    project_id: str = response.json()["id"]
    return project_id


def _body(tenant: Any, project_id: str, **input_fields: Any) -> dict[str, Any]:
    script = f"tenants/{tenant.id}/projects/{project_id}/scripts/latency.py"
    return {
        "project_id": project_id,
        "flow": "analysis",
        "input": {"script_key": script, "window": WINDOW, **input_fields},
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda body: body.update(flow="nonesuch"), "flow"),
        (lambda body: body["input"].pop("window"), "input.window"),
        (lambda body: body["input"]["window"].update(start="yesterday"), "input.window.start"),
        (lambda body: body["input"]["window"].update(end="2026-01-02T00:00:00"), "input.window.end"),
        (lambda body: body["input"]["window"].update(end="2025-12-31T00:00:00Z"), "input.window.end"),
        (lambda body: body["input"]["window"].update(end="2026-06-01T00:00:00Z"), "input.window"),
        (lambda body: body["input"].update(settle_seconds=-1), "input.settle_seconds"),
        (lambda body: body["input"].update(sandbox="lambda"), "input.sandbox"),
        (lambda body: body["input"].update(sandbox="local"), "input.sandbox"),
        (lambda body: body["input"].update(extra=1), "input.extra"),
    ],
    ids=[
        "unknown-flow",
        "no-window",
        "bad-start",
        "no-time-zone",
        "end-before-start",
        "window-too-long",
        "negative-settle",
        "unknown-sandbox",
        "sandbox-not-configured",
        "unknown-field",
    ],
)
async def test_bad_input_is_400_naming_the_field(
    client: Client, store: ControlStore, tenant_a: Any, change: Any, field: str
) -> None:
    project_id = await _project(client, tenant_a)
    body = _body(tenant_a, project_id)
    body["input"]["window"] = dict(WINDOW)
    change(body)
    response = await client.post(URL, json=body, headers=tenant_a.headers)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field
    assert await store.list_jobs(tenant_a.id, project_id) == []


async def test_another_tenants_project_or_script_is_404(
    client: Client, store: ControlStore, tenant_a: Any, tenant_b: Any
) -> None:
    ours, theirs = await _project(client, tenant_a), await _project(client, tenant_b)
    response = await client.post(URL, json=_body(tenant_b, theirs), headers=tenant_a.headers)
    assert (response.status_code, response.json()["field"]) == (404, "project_id")

    for key in (
        f"tenants/{tenant_b.id}/projects/{theirs}/scripts/latency.py",
        f"tenants/{tenant_a.id}/projects/{ours}/scripts/../../{theirs}/scripts/latency.py",
        f"tenants/{tenant_a.id}/projects/{ours}/exports/job.ndjson",
        f"tenants/{tenant_a.id}/projects/{ours}/scripts/missing.py",
    ):
        response = await client.post(URL, json=_body(tenant_a, ours, script_key=key), headers=tenant_a.headers)
        assert (response.status_code, response.json()["field"]) == (404, "input.script_key"), key
    assert await store.list_jobs(tenant_a.id, ours) == []


async def test_a_read_only_token_cannot_run_flows(
    client: Client, store: ControlStore, hasher: SecretHasher, tenant_a: Any
) -> None:
    project_id = await _project(client, tenant_a)
    tenant = await store.get_tenant(tenant_a.id)
    assert isinstance(tenant, Tenant)
    reader, _ = await make_token(store, hasher, tenant, scopes=("read",))
    response = await client.post(URL, json=_body(tenant_a, project_id), headers={"Authorization": f"Bearer {reader}"})
    assert response.status_code == 403
    assert (await client.post(URL, json=_body(tenant_a, project_id))).status_code == 401
