"""KeyResolver: one store lookup per key and TTL, negative caching, revocation seen within the TTL."""

from __future__ import annotations

import asyncio

from sentinel_control import ControlStore, KeyResolver, SecretHasher, now_ms
from sentinel_control.testing import make_key, make_project, make_tenant


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def test_resolution_is_cached_for_the_ttl(store: ControlStore, hasher: SecretHasher) -> None:
    tenant = await make_tenant(store)
    project = await make_project(store, tenant)
    secret, key = await make_key(store, hasher, project)
    clock = Clock()
    resolver = KeyResolver(store, hasher, ttl_s=30, clock=clock)
    first = await resolver.resolve(secret)
    second = await resolver.resolve(secret)
    assert first is not None
    assert first == second
    assert first.key_id == key.id
    assert resolver.lookups == 1


async def test_revocation_is_visible_once_the_ttl_passes(store: ControlStore, hasher: SecretHasher) -> None:
    tenant = await make_tenant(store)
    project = await make_project(store, tenant)
    secret, key = await make_key(store, hasher, project)
    clock = Clock()
    resolver = KeyResolver(store, hasher, ttl_s=0.5, clock=clock)
    before = await resolver.resolve(secret)
    assert before is not None
    assert before.revoked is False
    await store.revoke_key(tenant.id, project.id, key.id, at=now_ms())
    clock.now += 0.6
    after = await resolver.resolve(secret)
    assert after is not None
    assert after.revoked is True


async def test_unknown_keys_are_remembered_briefly(store: ControlStore, hasher: SecretHasher) -> None:
    clock = Clock()
    resolver = KeyResolver(store, hasher, negative_ttl_s=5, clock=clock)
    unknown = hasher.issue("snt").value
    assert await resolver.resolve(unknown) is None
    assert await resolver.resolve(unknown) is None
    assert resolver.lookups == 1
    clock.now += 6
    assert await resolver.resolve(unknown) is None
    assert resolver.lookups == 2


async def test_malformed_keys_never_reach_the_store(store: ControlStore, hasher: SecretHasher) -> None:
    resolver = KeyResolver(store, hasher)
    for presented in ("", "nope", "sdt_" + "a" * 43, "snt_" + "a" * 10):
        assert await resolver.resolve(presented) is None
    assert resolver.lookups == 0


async def test_concurrent_misses_share_one_lookup(store: ControlStore, hasher: SecretHasher) -> None:
    tenant = await make_tenant(store)
    project = await make_project(store, tenant)
    secret, _ = await make_key(store, hasher, project)
    resolver = KeyResolver(store, hasher)
    results = await asyncio.gather(*(resolver.resolve(secret) for _ in range(20)))
    assert len({r.key_id for r in results if r}) == 1
    assert resolver.lookups == 1


async def test_cache_is_bounded(store: ControlStore, hasher: SecretHasher) -> None:
    resolver = KeyResolver(store, hasher, max_entries=3)
    for _ in range(10):
        await resolver.resolve(hasher.issue("snt").value)
    assert len(resolver._cache) == 3
