"""The ControlStore contract, run against SQLite and DynamoDB Local alike."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sentinel_control import (
    INGEST_KEY_PREFIX,
    ConflictError,
    ControlStore,
    IngestKey,
    Job,
    JobChanges,
    LimitExceededError,
    Project,
    ProjectChanges,
    SecretHasher,
    new_id,
    now_ms,
)
from sentinel_control.testing import make_key, make_project, make_tenant, make_token


class TestTenants:
    async def test_created_tenant_reads_back(self, store: ControlStore) -> None:
        tenant = await make_tenant(store, max_projects=7)
        assert await store.get_tenant(tenant.id) == tenant
        assert await store.get_tenant(new_id("ten")) is None

    async def test_same_tenant_id_twice_conflicts(self, store: ControlStore) -> None:
        tenant = await make_tenant(store)
        with pytest.raises(ConflictError):
            await store.create_tenant(tenant)

    async def test_ping_answers(self, store: ControlStore) -> None:
        await store.ping()


class TestProjects:
    async def test_created_projects_read_back_and_list_oldest_first(self, store: ControlStore) -> None:
        tenant = await make_tenant(store)
        second = await make_project(store, tenant, "second", enabled=False, created_at=2_000)
        first = await make_project(
            store, tenant, "first", retention_days=7, rate_limit_eps=5, rate_limit_burst=9, created_at=1_000
        )
        assert await store.get_project(tenant.id, first.id) == first
        assert await store.list_projects(tenant.id) == [first, second]

    async def test_another_tenants_project_is_invisible(self, store: ControlStore) -> None:
        owner, other = await make_tenant(store), await make_tenant(store)
        project = await make_project(store, owner)
        assert await store.get_project(other.id, project.id) is None
        assert await store.list_projects(other.id) == []
        assert await store.update_project(other.id, project.id, ProjectChanges(name="stolen")) is None
        assert await store.delete_project(other.id, project.id) is False
        assert await store.get_project(owner.id, project.id) == project

    async def test_project_names_are_unique_per_tenant_ignoring_case(self, store: ControlStore) -> None:
        tenant, other = await make_tenant(store), await make_tenant(store)
        await make_project(store, tenant, "Shop")
        with pytest.raises(ConflictError):
            await make_project(store, tenant, "shop")
        await make_project(store, other, "shop")  # another tenant may use the name

    async def test_two_concurrent_creates_of_one_name_exactly_one_wins(self, store: ControlStore) -> None:
        tenant = await make_tenant(store)
        results = await asyncio.gather(*(make_project(store, tenant, "race") for _ in range(5)), return_exceptions=True)
        wins = [r for r in results if isinstance(r, Project)]
        conflicts = [r for r in results if isinstance(r, ConflictError)]
        assert len(wins) == 1
        assert len(conflicts) == 4
        assert [p.id for p in await store.list_projects(tenant.id)] == [wins[0].id]

    async def test_project_limit_is_enforced(self, store: ControlStore) -> None:
        tenant = await make_tenant(store, max_projects=2)
        await make_project(store, tenant, "a")
        await make_project(store, tenant, "b")
        with pytest.raises(LimitExceededError):
            await make_project(store, tenant, "c")

    async def test_partial_update_changes_only_given_fields(self, store: ControlStore) -> None:
        tenant = await make_tenant(store)
        project = await make_project(store, tenant, "shop", retention_days=30)
        updated = await store.update_project(tenant.id, project.id, ProjectChanges(retention_days=90, enabled=False))
        assert updated is not None
        assert (updated.name, updated.retention_days, updated.enabled) == ("shop", 90, False)
        assert updated.rate_limit_eps == project.rate_limit_eps
        assert updated.updated_at >= project.updated_at
        assert await store.get_project(tenant.id, project.id) == updated

    async def test_rename_frees_the_old_name_and_refuses_a_taken_one(self, store: ControlStore) -> None:
        tenant = await make_tenant(store)
        shop = await make_project(store, tenant, "shop")
        await make_project(store, tenant, "blog")
        with pytest.raises(ConflictError):
            await store.update_project(tenant.id, shop.id, ProjectChanges(name="BLOG"))
        renamed = await store.update_project(tenant.id, shop.id, ProjectChanges(name="store"))
        assert renamed is not None
        assert renamed.name == "store"
        await make_project(store, tenant, "shop")  # the old name is free again

    async def test_delete_removes_the_project_and_its_keys_stop_resolving(
        self, store: ControlStore, hasher: SecretHasher
    ) -> None:
        tenant = await make_tenant(store)
        project = await make_project(store, tenant)
        _, key = await make_key(store, hasher, project)
        assert await store.delete_project(tenant.id, project.id) is True
        assert await store.get_project(tenant.id, project.id) is None
        assert await store.resolve_key(key.key_hash) is None
        assert await store.delete_project(tenant.id, project.id) is False
        await make_project(store, tenant, project.name)  # the name is free again


class TestIngestKeys:
    async def test_key_resolves_to_project_tenant_and_limits(self, store: ControlStore, hasher: SecretHasher) -> None:
        tenant = await make_tenant(store)
        project = await make_project(store, tenant, retention_days=14, rate_limit_eps=100, rate_limit_burst=500)
        _, key = await make_key(store, hasher, project)
        resolution = await store.resolve_key(key.key_hash)
        assert resolution is not None
        assert (resolution.key_id, resolution.project_id, resolution.tenant_id) == (key.id, project.id, tenant.id)
        assert (resolution.retention_days, resolution.rate_limit_eps, resolution.rate_limit_burst) == (14, 100, 500)
        assert resolution.project_enabled is True
        assert resolution.revoked is False
        assert await store.resolve_key(hasher.hash("snt_" + "x" * 43)) is None

    async def test_project_changes_reach_key_resolution(self, store: ControlStore, hasher: SecretHasher) -> None:
        tenant = await make_tenant(store)
        project = await make_project(store, tenant)
        _, key = await make_key(store, hasher, project)
        await store.update_project(tenant.id, project.id, ProjectChanges(enabled=False, rate_limit_eps=3))
        resolution = await store.resolve_key(key.key_hash)
        assert resolution is not None
        assert (resolution.project_enabled, resolution.rate_limit_eps) == (False, 3)

    async def test_keys_list_oldest_first_and_never_across_tenants(
        self, store: ControlStore, hasher: SecretHasher
    ) -> None:
        tenant, other = await make_tenant(store), await make_tenant(store)
        project = await make_project(store, tenant)
        _, second = await make_key(store, hasher, project, created_at=2_000)
        _, first = await make_key(store, hasher, project, created_at=1_000)
        assert await store.list_keys(tenant.id, project.id) == [first, second]
        assert await store.list_keys(other.id, project.id) == []

    async def test_revocation_is_idempotent_and_visible_to_resolution(
        self, store: ControlStore, hasher: SecretHasher
    ) -> None:
        tenant = await make_tenant(store)
        project = await make_project(store, tenant)
        _, key = await make_key(store, hasher, project)
        first = await store.revoke_key(tenant.id, project.id, key.id, at=1_000)
        again = await store.revoke_key(tenant.id, project.id, key.id, at=2_000)
        assert first is not None
        assert again is not None
        assert first.revoked_at == again.revoked_at == 1_000
        resolution = await store.resolve_key(key.key_hash)
        assert resolution is not None
        assert resolution.revoked is True

    async def test_another_tenant_cannot_revoke_or_add_keys(self, store: ControlStore, hasher: SecretHasher) -> None:
        tenant, other = await make_tenant(store), await make_tenant(store)
        project = await make_project(store, tenant)
        _, key = await make_key(store, hasher, project)
        assert await store.revoke_key(other.id, project.id, key.id, at=now_ms()) is None
        forged = IngestKey(
            id=new_id("key"), tenant_id=other.id, project_id=project.id, name="x", visible="snt_x", key_hash="h"
        )
        with pytest.raises(LookupError):
            await store.create_key(forged)
        resolution = await store.resolve_key(key.key_hash)
        assert resolution is not None
        assert resolution.revoked is False

    async def test_active_key_limit_counts_only_unrevoked_keys(self, store: ControlStore, hasher: SecretHasher) -> None:
        tenant = await make_tenant(store, max_keys_per_project=2)
        project = await make_project(store, tenant)
        _, first = await make_key(store, hasher, project)
        await make_key(store, hasher, project)
        with pytest.raises(LimitExceededError):
            await make_key(store, hasher, project)
        await store.revoke_key(tenant.id, project.id, first.id, at=now_ms())
        await make_key(store, hasher, project)

    async def test_rotation_swaps_keys_atomically(self, store: ControlStore, hasher: SecretHasher) -> None:
        tenant = await make_tenant(store)
        project = await make_project(store, tenant)
        _, old = await make_key(store, hasher, project)
        issued = hasher.issue(INGEST_KEY_PREFIX)
        new = IngestKey(
            id=new_id("key"),
            tenant_id=tenant.id,
            project_id=project.id,
            name="rotated",
            visible=issued.visible,
            key_hash=issued.hash,
        )
        assert await store.rotate_key(tenant.id, project.id, old.id, new, at=now_ms()) is True
        old_resolution, new_resolution = await store.resolve_key(old.key_hash), await store.resolve_key(new.key_hash)
        assert old_resolution is not None
        assert old_resolution.revoked is True
        assert new_resolution is not None
        assert new_resolution.revoked is False
        # Rotating a revoked key again does nothing.
        newer = IngestKey(
            id=new_id("key"), tenant_id=tenant.id, project_id=project.id, name="x", visible="snt_y", key_hash="zz"
        )
        assert await store.rotate_key(tenant.id, project.id, old.id, newer, at=now_ms()) is False
        assert await store.resolve_key("zz") is None


class TestTokens:
    async def test_token_found_by_hash_and_listed(self, store: ControlStore, hasher: SecretHasher) -> None:
        tenant, other = await make_tenant(store), await make_tenant(store)
        secret, token = await make_token(store, hasher, tenant)
        found = await store.get_token_by_hash(hasher.hash(secret))
        assert found == token
        assert found is not None
        assert hasher.matches(secret, found.token_hash)
        assert await store.list_tokens(tenant.id) == [token]
        assert await store.list_tokens(other.id) == []

    async def test_revoked_and_expired_tokens_are_not_usable(self, store: ControlStore, hasher: SecretHasher) -> None:
        tenant, other = await make_tenant(store), await make_tenant(store)
        _, token = await make_token(store, hasher, tenant)
        _, expired = await make_token(store, hasher, tenant, expires_at=now_ms() - 1)
        assert await store.revoke_token(other.id, token.id, at=now_ms()) is None
        revoked = await store.revoke_token(tenant.id, token.id, at=5)
        assert revoked is not None
        assert revoked.usable(now_ms()) is False
        again = await store.revoke_token(tenant.id, token.id, at=10)
        assert again is not None
        assert again.revoked_at == 5
        assert expired.usable(now_ms()) is False

    async def test_token_limit_counts_usable_tokens(self, store: ControlStore, hasher: SecretHasher) -> None:
        tenant = await make_tenant(store, max_tokens=2)
        _, first = await make_token(store, hasher, tenant)
        await make_token(store, hasher, tenant)
        with pytest.raises(LimitExceededError):
            await make_token(store, hasher, tenant)
        await store.revoke_token(tenant.id, first.id, at=now_ms())
        await make_token(store, hasher, tenant)


def new_job(tenant_id: str, project_id: str, created_at: int, **fields: Any) -> Job:
    return Job(
        id=new_id("job"),
        tenant_id=tenant_id,
        project_id=project_id,
        kind="flow",
        name="analysis",
        params={"window": "24h"},
        created_at=created_at,
        updated_at=created_at,
        **fields,
    )


class TestJobs:
    async def test_jobs_read_back_and_list_newest_first_per_project(self, store: ControlStore) -> None:
        tenant = await make_tenant(store)
        project, other_project = await make_project(store, tenant, "a"), await make_project(store, tenant, "b")
        old, new = new_job(tenant.id, project.id, 1_000), new_job(tenant.id, project.id, 2_000)
        elsewhere = new_job(tenant.id, other_project.id, 3_000)
        for job in (old, new, elsewhere):
            await store.create_job(job)
        assert await store.get_job(tenant.id, old.id) == old
        assert await store.list_jobs(tenant.id, project.id) == [new, old]
        assert await store.list_jobs(tenant.id, project.id, limit=1) == [new]
        assert await store.list_jobs(tenant.id, project.id, before=(new.created_at, new.id)) == [old]
        assert await store.list_jobs(tenant.id, project.id, before=(old.created_at, old.id)) == []
        with pytest.raises(ConflictError):
            await store.create_job(old)

    async def test_pages_of_jobs_cover_every_job_once_even_at_equal_times(self, store: ControlStore) -> None:
        tenant = await make_tenant(store)
        project = await make_project(store, tenant)
        jobs = [new_job(tenant.id, project.id, 1_000 + i // 3) for i in range(7)]  # three share each millisecond
        for job in jobs:
            await store.create_job(job)
        seen: list[Job] = []
        before: tuple[int, str] | None = None
        while True:
            page = await store.list_jobs(tenant.id, project.id, limit=2, before=before)
            if not page:
                break
            seen.extend(page)
            before = (page[-1].created_at, page[-1].id)
        assert seen == sorted(jobs, key=lambda j: (j.created_at, j.id), reverse=True)
        assert await store.list_jobs(tenant.id, project.id, before=(1_001, "")) == [
            j for j in seen if j.created_at < 1_001
        ]

    async def test_a_listing_of_large_jobs_is_not_cut_short(self, store: ControlStore) -> None:
        # DynamoDB answers a query in pages of at most 1 MB: ten jobs of 150 KB each span two of them
        tenant = await make_tenant(store)
        project = await make_project(store, tenant)
        jobs = [new_job(tenant.id, project.id, 1_000 + i, result={"blob": "x" * 150_000}) for i in range(10)]
        for job in jobs:
            await store.create_job(job)
        listed = await store.list_jobs(tenant.id, project.id, limit=10)
        assert [job.id for job in listed] == [job.id for job in reversed(jobs)]
        assert len(await store.list_jobs(tenant.id, project.id, limit=4)) == 4

    async def test_another_tenant_cannot_read_a_job_but_find_job_can(self, store: ControlStore) -> None:
        tenant, other = await make_tenant(store), await make_tenant(store)
        project = await make_project(store, tenant)
        job = new_job(tenant.id, project.id, 1_000)
        await store.create_job(job)
        assert await store.get_job(other.id, job.id) is None
        assert await store.list_jobs(other.id, project.id) == []
        assert await store.find_job(job.id) == job
        assert await store.find_job(new_id("job")) is None

    async def test_updates_are_compare_and_set_on_the_version(self, store: ControlStore) -> None:
        tenant = await make_tenant(store)
        project = await make_project(store, tenant)
        job = new_job(tenant.id, project.id, 1_000)
        await store.create_job(job)
        running = await store.update_job(
            tenant.id, job.id, JobChanges(status="running", progress=0.5, started_at=1_100), expected_version=1
        )
        assert running is not None
        assert (running.status, running.progress, running.version, running.params) == ("running", 0.5, 2, job.params)
        with pytest.raises(ConflictError):
            await store.update_job(tenant.id, job.id, JobChanges(status="failed"), expected_version=1)
        done = await store.update_job(
            tenant.id,
            job.id,
            JobChanges(status="succeeded", result={"rows": 3}, cost={"sandbox": 0.01}, finished_at=1_200),
            expected_version=2,
        )
        assert done is not None
        assert done.finished
        assert await store.get_job(tenant.id, job.id) == done
        assert await store.update_job(tenant.id, new_id("job"), JobChanges(status="failed"), expected_version=1) is None
