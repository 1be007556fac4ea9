"""Jobs over HTTP and the signed sandbox callback: signature, staleness, replay, conflicts, isolation, SSE."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis.asyncio as redis
from litestar.testing import AsyncTestClient

from sentinel_control import ControlStore, Job, new_id, now_ms
from sentinel_dashboard.jobs.service import job_secret
from sentinel_dashboard.webhooks.routes import MAX_RESULT_BYTES
from sentinel_queue import updates_stream
from sentinel_sandbox import SIGNATURE_HEADER, sign

Client = AsyncTestClient  # type: ignore[type-arg]
URL = "/api/webhooks/sandbox-callback"


async def project_and_job(client: Client, store: ControlStore, tenant: Any, **fields: Any) -> tuple[str, Job]:
    response = await client.post("/api/projects", json={"name": f"p-{new_id('prj')[-6:]}"}, headers=tenant.headers)
    project_id = response.json()["id"]
    at = now_ms()
    job = Job(
        id=new_id("job"),
        tenant_id=tenant.id,
        project_id=project_id,
        kind="script",
        name="report.py",
        status="running",
        started_at=at,
        created_at=at,
        updated_at=at,
        **fields,
    )
    await store.create_job(job)
    return project_id, job


def callback_body(job_id: str, status: str = "succeeded", result: Any = None) -> bytes:
    payload = {
        "job_id": job_id,
        "status": status,
        "result": result or {"rows": 42},
        "logs": "done",
        "usage": {"wall_s": 3.5},
    }
    return json.dumps(payload).encode()


def signed(client: Client, job_id: str, body: bytes, t: int | None = None) -> dict[str, str]:
    secret = job_secret(client.app.state.settings.control.hash_secret, job_id)
    return {
        SIGNATURE_HEADER: sign(secret, body, t if t is not None else int(time.time())),
        "Content-Type": "application/json",
    }


class TestCallback:
    async def test_signed_callback_finishes_the_job_once(
        self, client: Client, store: ControlStore, tenant_a: Any
    ) -> None:
        _, job = await project_and_job(client, store, tenant_a)
        body = callback_body(job.id)
        first = await client.post(URL, content=body, headers=signed(client, job.id, body))
        assert first.status_code == 200, first.text
        assert first.json() == {"job_id": job.id, "status": "succeeded", "duplicate": False}
        stored = await store.get_job(tenant_a.id, job.id)
        assert stored is not None
        assert (stored.status, stored.progress) == ("succeeded", 1.0)
        assert stored.result == {"output": {"rows": 42}, "usage": {"wall_s": 3.5}, "logs": "done"}
        again = await client.post(URL, content=body, headers=signed(client, job.id, body))
        assert again.status_code == 200
        assert again.json() == {"job_id": job.id, "status": "succeeded", "duplicate": True}
        assert await store.get_job(tenant_a.id, job.id) == stored  # no second effect
        seen = await client.get(f"/api/jobs/{job.id}", headers=tenant_a.headers)
        assert (seen.json()["status"], seen.json()["duration_ms"] is not None) == ("succeeded", True)

    async def test_the_change_is_published_on_the_jobs_and_state_topics(
        self, client: Client, store: ControlStore, tenant_a: Any
    ) -> None:
        project_id, job = await project_and_job(client, store, tenant_a)
        body = callback_body(job.id, status="failed")
        assert (await client.post(URL, content=body, headers=signed(client, job.id, body))).status_code == 200
        direct = redis.Redis.from_url(client.app.state.settings.redis.url)
        try:
            jobs = await direct.xrange(updates_stream(project_id, "jobs"))
            state = await direct.xrange(updates_stream(project_id, "state"))
        finally:
            await direct.aclose()
        assert json.loads(jobs[-1][1][b"d"])["status"] == "failed"
        assert json.loads(state[-1][1][b"d"])["id"] == f"job:{job.id}"

    @pytest.mark.parametrize("tamper", ["altered_body", "wrong_secret", "stale", "future", "missing", "garbled"])
    async def test_bad_signatures_are_401(
        self, client: Client, store: ControlStore, tenant_a: Any, tamper: str
    ) -> None:
        _, job = await project_and_job(client, store, tenant_a)
        body = callback_body(job.id)
        headers = signed(client, job.id, body)
        if tamper == "altered_body":
            body = body.replace(b"42", b"43")
        elif tamper == "wrong_secret":
            headers[SIGNATURE_HEADER] = sign("not-the-job-secret", body, int(time.time()))
        elif tamper == "stale":
            headers = signed(client, job.id, body, t=int(time.time()) - 301)
        elif tamper == "future":
            headers = signed(client, job.id, body, t=int(time.time()) + 3600)
        elif tamper == "missing":
            del headers[SIGNATURE_HEADER]
        else:
            headers[SIGNATURE_HEADER] = "t=abc,v1=zz"
        response = await client.post(URL, content=body, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_signature"
        stored = await store.get_job(tenant_a.id, job.id)
        assert stored is not None
        assert stored.status == "running"

    async def test_another_jobs_signature_does_not_fit(
        self, client: Client, store: ControlStore, tenant_a: Any
    ) -> None:
        _, job = await project_and_job(client, store, tenant_a)
        _, other = await project_and_job(client, store, tenant_a)
        body = callback_body(job.id)
        response = await client.post(URL, content=body, headers=signed(client, other.id, body))
        assert response.status_code == 401

    async def test_a_result_too_large_to_keep_is_413_and_a_large_one_is_kept(
        self, client: Client, store: ControlStore, tenant_a: Any
    ) -> None:
        """The job record must fit a DynamoDB item (400 KB) and the flow's answer a Step Functions payload (256 KB)."""
        _, job = await project_and_job(client, store, tenant_a)
        too_large = callback_body(job.id, result={"rows": ["x" * 1000] * (MAX_RESULT_BYTES // 1000 + 1)})
        response = await client.post(URL, content=too_large, headers=signed(client, job.id, too_large))
        assert response.status_code == 413, response.text
        assert response.json()["field"] == "result"
        stored = await store.get_job(tenant_a.id, job.id)
        assert stored is not None
        assert (stored.status, stored.callback_digest) == ("running", None)

        large = {"rows": ["x" * 1000] * (MAX_RESULT_BYTES // 1000 - 2)}
        body = callback_body(job.id, result=large)
        response = await client.post(URL, content=body, headers=signed(client, job.id, body))
        assert response.status_code == 200, response.text
        kept = await store.get_job(tenant_a.id, job.id)
        assert kept is not None
        assert kept.result is not None
        assert kept.result["output"] == large

    async def test_too_many_usage_figures_are_400(self, client: Client, store: ControlStore, tenant_a: Any) -> None:
        _, job = await project_and_job(client, store, tenant_a)
        payload = json.loads(callback_body(job.id))
        payload["usage"] = {f"figure_{n}": n for n in range(10_000)}
        body = json.dumps(payload).encode()
        response = await client.post(URL, content=body, headers=signed(client, job.id, body))
        assert (response.status_code, response.json()["field"]) == (400, "$.usage")

    async def test_unknown_job_is_404(self, client: Client) -> None:
        ghost = new_id("job")
        body = callback_body(ghost)
        response = await client.post(URL, content=body, headers=signed(client, ghost, body))
        assert response.status_code == 404

    async def test_a_different_second_callback_is_409(self, client: Client, store: ControlStore, tenant_a: Any) -> None:
        _, job = await project_and_job(client, store, tenant_a)
        first = callback_body(job.id, result={"rows": 1})
        assert (await client.post(URL, content=first, headers=signed(client, job.id, first))).status_code == 200
        second = callback_body(job.id, result={"rows": 2})
        response = await client.post(URL, content=second, headers=signed(client, job.id, second))
        assert response.status_code == 409

    @pytest.mark.parametrize(
        "body", [b"{not json", b"[]", b'{"job_id": "nope", "status": "succeeded"}', b'{"job_id": "job_x"}']
    )
    async def test_a_body_that_is_not_a_callback_is_400(self, client: Client, body: bytes) -> None:
        response = await client.post(URL, content=body, headers={SIGNATURE_HEADER: "t=1,v1=" + "0" * 64})
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_callback"


class TestJobRoutes:
    async def test_jobs_are_listed_newest_first_and_never_across_tenants(
        self, client: Client, store: ControlStore, tenant_a: Any, tenant_b: Any
    ) -> None:
        project_id, job = await project_and_job(client, store, tenant_a)
        listed = await client.get(f"/api/projects/{project_id}/jobs", headers=tenant_a.headers)
        assert [j["id"] for j in listed.json()["items"]] == [job.id]
        assert (await client.get(f"/api/projects/{project_id}/jobs", headers=tenant_b.headers)).status_code == 404
        assert (await client.get(f"/api/jobs/{job.id}", headers=tenant_b.headers)).status_code == 404
        assert (await client.get("/api/jobs/not-a-job", headers=tenant_a.headers)).status_code == 400
