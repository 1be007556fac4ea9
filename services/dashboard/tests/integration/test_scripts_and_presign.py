"""Scripts upload and list, presigned URLs on SeaweedFS and on the local backend, tenant isolation."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import redis.asyncio as redis
from litestar.testing import AsyncTestClient

from sentinel_config import ArchiveSettings
from sentinel_dashboard.app import create_app
from sentinel_dashboard.layers.testing import Login, layers_settings, new_project, new_tenant
from sentinel_local import RedisEngine
from sentinel_queue import updates_stream
from sentinel_storage import S3ObjectStore
from sentinel_storage.testing import s3_settings

Client = AsyncTestClient  # type: ignore[type-arg]
SOURCE = "import json\nprint(json.dumps({'ok': True}))\n"


class World:
    def __init__(self, client: Client, a: Login, b: Login, project_a: str, project_b: str) -> None:
        self.client, self.a, self.b, self.project_a, self.project_b = client, a, b, project_a, project_b

    async def upload(self, name: str = "report.py", source: str = SOURCE, login: Login | None = None) -> Any:
        login = login or self.a
        return await self.client.post(
            f"/api/projects/{self.project_a}/scripts", json={"name": name, "source": source}, headers=login.headers
        )


async def _world(settings: Any) -> AsyncIterator[World]:
    async with AsyncTestClient(create_app(settings)) as client:
        a, b = await new_tenant(settings, "A"), await new_tenant(settings, "B")
        yield World(client, a, b, await new_project(client, a), await new_project(client, b))


@pytest.fixture
async def s3_world(
    request: pytest.FixtureRequest, tmp_path: Path, redis_server: RedisEngine, s3_server: Any
) -> AsyncIterator[World]:
    """Scripts on SeaweedFS; presigned URLs live ``request.param`` seconds (300 unless parametrized)."""
    archive, aws = s3_settings(s3_server)
    ttl = getattr(request, "param", 300)
    archive = ArchiveSettings(backend="s3", bucket=archive.bucket, endpoint_url=archive.endpoint_url, presign_ttl_s=ttl)
    bucket = S3ObjectStore(archive, aws)
    await bucket.ensure_bucket()
    await bucket.close()
    async for world in _world(layers_settings(tmp_path, redis_server.url, archive=archive, aws=aws)):
        yield world


@pytest.fixture
async def local_world(
    request: pytest.FixtureRequest, tmp_path: Path, redis_server: RedisEngine
) -> AsyncIterator[World]:
    """Scripts in a local directory; URLs live ``request.param`` seconds (300 unless parametrized)."""
    ttl = getattr(request, "param", 300)
    archive = ArchiveSettings(backend="local", local_dir=str(tmp_path / "archive"), presign_ttl_s=ttl)
    async for world in _world(layers_settings(tmp_path, redis_server.url, archive=archive)):
        yield world


class TestScriptsOnS3:
    async def test_upload_lists_with_digest_and_publishes_its_node(
        self, s3_world: World, redis_server: RedisEngine
    ) -> None:
        response = await s3_world.upload()
        assert response.status_code == 201, response.text
        body = response.json()
        digest = hashlib.sha256(SOURCE.encode()).hexdigest()
        key = f"tenants/{s3_world.a.id}/projects/{s3_world.project_a}/scripts/report.py"
        assert (body["key"], body["sha256"], body["size"], body["replaced"]) == (key, digest, len(SOURCE), False)
        assert (await s3_world.upload()).json()["replaced"] is True

        listed = await s3_world.client.get(f"/api/projects/{s3_world.project_a}/scripts", headers=s3_world.a.headers)
        assert listed.status_code == 200
        [item] = listed.json()["items"]
        assert (item["name"], item["sha256"], item["size"]) == ("report.py", digest, len(SOURCE))
        assert item["created_at"] > 1_600_000_000_000

        client = redis.Redis.from_url(redis_server.url)
        try:
            entries = await client.xrange(updates_stream(s3_world.project_a, "state"))
        finally:
            await client.aclose()
        nodes = [json.loads(fields[b"d"]) for _, fields in entries]
        assert {"id": "script:report.py", "parent": "layer:scripts", "kind": "script"}.items() <= nodes[-1].items()
        assert nodes[-1]["meta"]["sha256"] == digest

    async def test_presigned_url_works_and_tampered_is_rejected(self, s3_world: World) -> None:
        key = (await s3_world.upload()).json()["key"]
        answer = await s3_world.client.get("/api/layers/scripts", params={"key": key}, headers=s3_world.a.headers)
        assert answer.status_code == 200, answer.text
        url = answer.json()["url"]
        assert url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient() as http:
            fetched = await http.get(url)
            assert (fetched.status_code, fetched.text) == (200, SOURCE)
            query = parse_qs(urlsplit(url).query)
            signature = query["X-Amz-Signature"][0]
            tampered = url.replace(signature, ("0" if signature[0] != "0" else "1") + signature[1:])
            assert (await http.get(tampered)).status_code == 403

    @pytest.mark.parametrize("s3_world", [1], indirect=True)
    async def test_expired_presigned_url_is_rejected(self, s3_world: World) -> None:
        key = (await s3_world.upload()).json()["key"]
        answer = await s3_world.client.get("/api/layers/scripts", params={"key": key}, headers=s3_world.a.headers)
        assert answer.json()["expires_at"] - time.time() <= 1.5
        await asyncio.sleep(2.5)
        async with httpx.AsyncClient() as http:
            assert (await http.get(answer.json()["url"])).status_code == 403

    async def test_other_tenants_and_traversal_keys_are_404(self, s3_world: World) -> None:
        key = (await s3_world.upload()).json()["key"]
        other = await s3_world.client.get("/api/layers/scripts", params={"key": key}, headers=s3_world.b.headers)
        assert other.status_code == 404
        assert other.json()["field"] == "key"
        prefix = f"tenants/{s3_world.a.id}/projects/{s3_world.project_a}/scripts/"
        for bad in [
            f"{prefix}../../../../etc/passwd",
            f"{prefix}../scripts/report.py",
            f"tenants/{s3_world.b.id}/projects/{s3_world.project_b}/scripts/report.py",
            f"tenants/{s3_world.a.id}/projects/{s3_world.project_b}/scripts/report.py",
            f"{prefix}missing.py",
            f"/{prefix}report.py",
            f"tenants/{s3_world.a.id}/projects/{s3_world.project_a}/exports/x.py",
        ]:
            response = await s3_world.client.get("/api/layers/scripts", params={"key": bad}, headers=s3_world.a.headers)
            assert response.status_code == 404, bad
        listed = await s3_world.client.get(f"/api/projects/{s3_world.project_a}/scripts", headers=s3_world.b.headers)
        assert listed.status_code == 404
        assert (await s3_world.upload(login=s3_world.b)).status_code == 404


class TestScriptValidation:
    async def test_bad_uploads_get_clear_errors(self, local_world: World) -> None:
        bad_name = await local_world.upload(name="../evil.py")
        assert bad_name.status_code == 400
        assert "name" in bad_name.text
        not_python = await local_world.upload(source="def broken(:\n")
        assert not_python.status_code == 422
        assert (not_python.json()["field"], "line 1" in not_python.json()["message"]) == ("source", True)
        too_big = await local_world.upload(source="x = 1\n" * 50_000)
        assert too_big.status_code == 413
        assert too_big.json()["field"] == "source"
        nul = await local_world.upload(source="x = 1\x00\n")
        assert nul.status_code == 422

    async def test_read_scope_cannot_upload(self, local_world: World) -> None:
        client, owner = local_world.client, local_world.a
        project = await new_project(client, owner)
        minted = await client.post("/api/tokens", json={"name": "r", "scopes": ["read"]}, headers=owner.headers)
        assert minted.status_code == 201, minted.text
        reader = {"Authorization": f"Bearer {minted.json()['token']}"}
        response = await client.post(
            f"/api/projects/{project}/scripts", json={"name": "a.py", "source": SOURCE}, headers=reader
        )
        assert response.status_code == 403, response.text  # the tenant's own project: refused for the scope
        listed = await client.get(f"/api/projects/{project}/scripts", headers=reader)
        assert (listed.status_code, listed.json()["items"]) == (200, [])  # read works, and nothing was stored

    async def test_delete_removes_a_script_and_a_full_project_refuses_new_names(
        self, local_world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from sentinel_dashboard.scripts import service

        client, owner = local_world.client, local_world.a
        project = await new_project(client, owner)
        base = f"/api/projects/{project}/scripts"
        monkeypatch.setattr(service, "MAX_SCRIPTS", 2)
        for name in ("a.py", "b.py"):
            response = await client.post(base, json={"name": name, "source": SOURCE}, headers=owner.headers)
            assert response.status_code == 201, response.text
        full = await client.post(base, json={"name": "c.py", "source": SOURCE}, headers=owner.headers)
        assert full.status_code == 409
        assert (full.json()["error"], full.json()["field"]) == ("limit_exceeded", "name")
        replaced = await client.post(base, json={"name": "a.py", "source": SOURCE + "\n"}, headers=owner.headers)
        assert (replaced.status_code, replaced.json()["replaced"]) == (201, True)
        # delete: another tenant's project is 404 and changes nothing; then the owner's delete frees a place
        other = await client.delete(f"{base}/a.py", headers=local_world.b.headers)
        assert other.status_code == 404
        assert (await client.delete(f"{base}/a.py", headers=owner.headers)).status_code == 204
        assert (await client.delete(f"{base}/a.py", headers=owner.headers)).status_code == 404
        assert (await client.delete(f"{base}/..%2Fb.py", headers=owner.headers)).status_code == 404
        listed = await client.get(base, headers=owner.headers)
        assert [s["name"] for s in listed.json()["items"]] == ["b.py"]
        again = await client.post(base, json={"name": "c.py", "source": SOURCE}, headers=owner.headers)
        assert again.status_code == 201, again.text

    async def test_missing_key_parameter_is_400(self, local_world: World) -> None:
        response = await local_world.client.get("/api/layers/scripts", headers=local_world.a.headers)
        assert response.status_code == 400


class TestLocalBackendUrls:
    async def test_signed_url_streams_tampered_and_expired_are_403(self, local_world: World) -> None:
        key = (await local_world.upload()).json()["key"]
        answer = await local_world.client.get("/api/layers/scripts", params={"key": key}, headers=local_world.a.headers)
        assert answer.status_code == 200, answer.text
        parts = urlsplit(answer.json()["url"])
        assert parts.path == "/api/storage/objects"
        path = f"{parts.path}?{parts.query}"
        fetched = await local_world.client.get(path)
        assert (fetched.status_code, fetched.text) == (200, SOURCE)
        assert fetched.headers["content-type"].startswith("text/x-python")

        query = {name: values[0] for name, values in parse_qs(parts.query).items()}
        other_key = dict(query, key=key.replace("report.py", "other.py"))
        assert (await local_world.client.get(f"{parts.path}?{urlencode(other_key)}")).status_code == 403
        later = dict(query, expires=str(int(query["expires"]) + 3600))
        assert (await local_world.client.get(f"{parts.path}?{urlencode(later)}")).status_code == 403

    @pytest.mark.parametrize("local_world", [1], indirect=True)
    async def test_expired_signed_url_is_403(self, local_world: World) -> None:
        key = (await local_world.upload()).json()["key"]
        answer = await local_world.client.get("/api/layers/scripts", params={"key": key}, headers=local_world.a.headers)
        parts = urlsplit(answer.json()["url"])
        await asyncio.sleep(2.5)
        expired = await local_world.client.get(f"{parts.path}?{parts.query}")
        assert expired.status_code == 403
        assert expired.json()["error"] == "invalid_signature"
