"""Projects, keys and tokens over HTTP: auth, scopes, tenant isolation, validation and conflicts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from sentinel_control import ControlStore, KeyResolver, SecretHasher, Tenant, new_id
from sentinel_control.testing import make_token

Client = AsyncTestClient  # type: ignore[type-arg]


async def create_project(client: Client, tenant: Any, name: str = "shop", **fields: Any) -> dict[str, Any]:
    response = await client.post("/api/projects", json={"name": name, **fields}, headers=tenant.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def create_key(client: Client, tenant: Any, project_id: str) -> dict[str, Any]:
    response = await client.post(f"/api/projects/{project_id}/keys", json={"name": "ci"}, headers=tenant.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def create_token(client: Client, tenant: Any, scopes: list[str], **fields: Any) -> dict[str, Any]:
    response = await client.post("/api/tokens", json={"name": "t", "scopes": scopes, **fields}, headers=tenant.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class TestAuthentication:
    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {"Authorization": "Basic dXNlcjpwYXNz"},
            {"Authorization": "Bearer"},
            {"Authorization": "Bearer sdt_" + "x" * 43},
            {"Authorization": "Bearer not-a-token"},
        ],
    )
    async def test_missing_or_unknown_token_is_401(self, client: Client, headers: dict[str, str]) -> None:
        response = await client.get("/api/projects", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["error"] == "unauthorized"

    async def test_revoked_token_is_401(self, client: Client, tenant_a: Any) -> None:
        token = await create_token(client, tenant_a, ["read"])
        assert (await client.get("/api/projects", headers=bearer(token["token"]))).status_code == 200
        response = await client.delete(f"/api/tokens/{token['id']}", headers=tenant_a.headers)
        assert response.status_code == 200
        assert response.json()["revoked_at"] is not None
        response = await client.get("/api/projects", headers=bearer(token["token"]))
        assert response.status_code == 401
        assert "revoked" in response.json()["message"]

    async def test_expired_token_is_401(
        self, client: Client, tenant_a: Any, store: ControlStore, hasher: SecretHasher
    ) -> None:
        secret, _ = await make_token(store, hasher, Tenant(id=tenant_a.id, name="A"), expires_at=1)
        response = await client.get("/api/projects", headers=bearer(secret))
        assert response.status_code == 401
        assert "expired" in response.json()["message"]

    async def test_tenant_header_must_match_the_token(self, client: Client, tenant_a: Any, tenant_b: Any) -> None:
        ok = await client.get("/api/projects", headers={**tenant_a.headers, "X-Tenant-ID": tenant_a.id})
        assert ok.status_code == 200
        response = await client.get("/api/projects", headers={**tenant_a.headers, "X-Tenant-ID": tenant_b.id})
        assert response.status_code == 403
        assert response.json()["error"] == "tenant_mismatch"

    async def test_missing_scope_is_403(self, client: Client, tenant_a: Any) -> None:
        reader = bearer((await create_token(client, tenant_a, ["read"]))["token"])
        writer = bearer((await create_token(client, tenant_a, ["write"]))["token"])
        assert (await client.post("/api/projects", json={"name": "x"}, headers=reader)).status_code == 403
        assert (await client.post("/api/projects", json={"name": "x"}, headers=writer)).status_code == 201
        assert (await client.get("/api/projects", headers=writer)).status_code == 200  # write implies read
        response = await client.get("/api/tokens", headers=writer)
        assert response.status_code == 403
        assert response.json()["error"] == "insufficient_scope"


class TestProjects:
    async def test_crud(self, client: Client, tenant_a: Any) -> None:
        created = await create_project(client, tenant_a, "shop", retention_days=14)
        assert created["id"].startswith("prj_")
        assert (created["name"], created["retention_days"], created["enabled"]) == ("shop", 14, True)
        listed = (await client.get("/api/projects", headers=tenant_a.headers)).json()["items"]
        assert [p["id"] for p in listed] == [created["id"]]
        got = await client.get(f"/api/projects/{created['id']}", headers=tenant_a.headers)
        assert got.json() == created
        patched = await client.patch(
            f"/api/projects/{created['id']}", json={"enabled": False, "rate_limit_eps": 50}, headers=tenant_a.headers
        )
        assert patched.status_code == 200
        assert (patched.json()["enabled"], patched.json()["rate_limit_eps"], patched.json()["name"]) == (
            False,
            50,
            "shop",
        )
        deleted = await client.delete(f"/api/projects/{created['id']}", headers=tenant_a.headers)
        assert deleted.status_code == 204
        assert (await client.get(f"/api/projects/{created['id']}", headers=tenant_a.headers)).status_code == 404

    @pytest.mark.parametrize(
        ("body", "field_hint"),
        [
            ({"name": "x" * 101}, "name"),
            ({"name": ""}, "name"),
            ({"name": "shop", "retention_days": 0}, "retention_days"),
            ({"name": "shop", "rate_limit_eps": "fast"}, "rate_limit_eps"),
            ({"name": "shop", "colour": "red"}, "colour"),
            ({}, "name"),
        ],
    )
    async def test_invalid_body_is_400_naming_the_field(
        self, client: Client, tenant_a: Any, body: dict[str, Any], field_hint: str
    ) -> None:
        response = await client.post("/api/projects", json=body, headers=tenant_a.headers)
        assert response.status_code == 400, response.text
        answer = response.json()
        assert field_hint in (answer.get("field") or "") + answer["message"]

    async def test_malformed_project_id_is_400_naming_it(self, client: Client, tenant_a: Any) -> None:
        response = await client.get("/api/projects/not-an-id", headers=tenant_a.headers)
        assert response.status_code == 400
        assert "project_id" in (response.json().get("field") or "") + response.json()["message"]

    async def test_duplicate_name_is_409(self, client: Client, tenant_a: Any) -> None:
        await create_project(client, tenant_a, "shop")
        response = await client.post("/api/projects", json={"name": "SHOP"}, headers=tenant_a.headers)
        assert response.status_code == 409
        assert response.json()["error"] == "conflict"

    async def test_concurrent_creates_exactly_one_wins(self, client: Client, tenant_a: Any) -> None:
        responses = await asyncio.gather(
            *(client.post("/api/projects", json={"name": "race"}, headers=tenant_a.headers) for _ in range(4))
        )
        assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]


class TestKeys:
    async def test_key_secret_is_shown_once_and_resolves(
        self, client: Client, tenant_a: Any, store: ControlStore, hasher: SecretHasher
    ) -> None:
        project = await create_project(client, tenant_a)
        key = await create_key(client, tenant_a, project["id"])
        assert key["key"].startswith("snt_")
        assert key["visible"] == key["key"][:12]
        listed = (await client.get(f"/api/projects/{project['id']}/keys", headers=tenant_a.headers)).json()["items"]
        assert [k["id"] for k in listed] == [key["id"]]
        assert "key" not in listed[0]
        assert key["key"] not in str(listed)
        resolver = KeyResolver(store, hasher)
        resolution = await resolver.resolve(key["key"])
        assert resolution is not None
        assert (resolution.project_id, resolution.tenant_id) == (project["id"], tenant_a.id)

    async def test_revoked_key_is_seen_by_resolution_within_the_ttl(
        self, client: Client, tenant_a: Any, store: ControlStore, hasher: SecretHasher
    ) -> None:
        project = await create_project(client, tenant_a)
        key = await create_key(client, tenant_a, project["id"])
        resolver = KeyResolver(store, hasher, ttl_s=0.2)
        before = await resolver.resolve(key["key"])
        assert before is not None
        assert before.revoked is False
        response = await client.delete(f"/api/projects/{project['id']}/keys/{key['id']}", headers=tenant_a.headers)
        assert response.status_code == 200
        assert response.json()["revoked"] is True
        await asyncio.sleep(0.3)
        after = await resolver.resolve(key["key"])
        assert after is not None
        assert after.revoked is True

    async def test_rotation_issues_a_new_key_and_revokes_the_old(self, client: Client, tenant_a: Any) -> None:
        project = await create_project(client, tenant_a)
        old = await create_key(client, tenant_a, project["id"])
        response = await client.post(f"/api/projects/{project['id']}/keys/{old['id']}/rotate", headers=tenant_a.headers)
        assert response.status_code == 201
        new = response.json()
        assert new["key"] != old["key"]
        listed = (await client.get(f"/api/projects/{project['id']}/keys", headers=tenant_a.headers)).json()["items"]
        assert {k["id"]: k["revoked"] for k in listed} == {old["id"]: True, new["id"]: False}
        again = await client.post(f"/api/projects/{project['id']}/keys/{old['id']}/rotate", headers=tenant_a.headers)
        assert again.status_code == 404


class TestTokens:
    async def test_created_token_is_shown_once_and_works(self, client: Client, tenant_a: Any) -> None:
        token = await create_token(client, tenant_a, ["read"], expires_in_days=1)
        assert token["token"].startswith("sdt_")
        assert token["expires_at"] is not None
        assert (await client.get("/api/projects", headers=bearer(token["token"]))).status_code == 200
        listed = (await client.get("/api/tokens", headers=tenant_a.headers)).json()["items"]
        assert token["id"] in {t["id"] for t in listed}
        assert token["token"] not in str(listed)

    async def test_unknown_scope_is_400(self, client: Client, tenant_a: Any) -> None:
        response = await client.post("/api/tokens", json={"name": "t", "scopes": ["root"]}, headers=tenant_a.headers)
        assert response.status_code == 400


class TestTenantIsolation:
    async def test_every_route_with_another_tenants_ids_is_404(
        self, client: Client, tenant_a: Any, tenant_b: Any
    ) -> None:
        project = await create_project(client, tenant_b, "theirs")
        key = await create_key(client, tenant_b, project["id"])
        token = await create_token(client, tenant_b, ["read"])
        p, k = project["id"], key["id"]
        attempts = [
            ("GET", f"/api/projects/{p}", None),
            ("PATCH", f"/api/projects/{p}", {"name": "mine"}),
            ("DELETE", f"/api/projects/{p}", None),
            ("POST", f"/api/projects/{p}/keys", {"name": "mine"}),
            ("GET", f"/api/projects/{p}/keys", None),
            ("DELETE", f"/api/projects/{p}/keys/{k}", None),
            ("POST", f"/api/projects/{p}/keys/{k}/rotate", None),
            ("DELETE", f"/api/tokens/{token['id']}", None),
        ]
        for method, path, body in attempts:
            response = await client.request(method, path, json=body, headers=tenant_a.headers)
            assert response.status_code == 404, (method, path, response.text)
            assert "theirs" not in response.text
        # Tenant A's lists show nothing of B's; B's records are untouched.
        assert (await client.get("/api/projects", headers=tenant_a.headers)).json()["items"] == []
        assert token["id"] not in str((await client.get("/api/tokens", headers=tenant_a.headers)).json())
        still = await client.get(f"/api/projects/{p}/keys", headers=tenant_b.headers)
        assert [x["revoked"] for x in still.json()["items"]] == [False]
        assert (await client.get(f"/api/projects/{p}", headers=tenant_b.headers)).json()["name"] == "theirs"
        # Claiming tenant B with tenant A's token is refused outright.
        response = await client.get(f"/api/projects/{p}", headers={**tenant_a.headers, "X-Tenant-ID": tenant_b.id})
        assert response.status_code == 403

    async def test_unknown_but_well_formed_ids_are_404(self, client: Client, tenant_a: Any) -> None:
        response = await client.get(f"/api/projects/{new_id('prj')}", headers=tenant_a.headers)
        assert response.status_code == 404
