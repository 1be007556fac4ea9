"""Ingest key resolution with an in-process TTL cache (positive and negative entries).

The ingest API resolves the key of every batch; the cache turns that into a dictionary lookup for all but the
first request per key and TTL. A revoked key or a disabled project is seen within ``ttl_s``; an unknown key is
remembered for ``negative_ttl_s`` so a flood of bad keys does not reach the store. Concurrent misses for the
same key share one store lookup.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable

from sentinel_control.credentials import INGEST_KEY_PREFIX, SecretHasher, looks_like
from sentinel_control.models import KeyResolution
from sentinel_control.store import ControlStore


class KeyResolver:
    """Map a presented ingest key to its project, tenant and limits."""

    def __init__(
        self,
        store: ControlStore,
        hasher: SecretHasher,
        *,
        ttl_s: float = 30.0,
        negative_ttl_s: float = 5.0,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._ttl_s = ttl_s
        self._negative_ttl_s = negative_ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, KeyResolution | None]] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[KeyResolution | None]] = {}
        self.lookups = 0
        """Store lookups made (for tests and metrics)."""

    async def resolve(self, presented: str) -> KeyResolution | None:
        """The key's resolution (check ``revoked`` and ``project_enabled``), or None for an unknown key.

        Raises ``StoreUnavailableError`` when the store cannot answer and nothing is cached.
        """
        if not looks_like(presented, INGEST_KEY_PREFIX):
            return None
        key_hash = self._hasher.hash(presented)
        now = self._clock()
        cached = self._cache.get(key_hash)
        if cached is not None and cached[0] > now:
            self._cache.move_to_end(key_hash)
            return cached[1]
        pending = self._inflight.get(key_hash)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[KeyResolution | None] = asyncio.get_running_loop().create_future()
        self._inflight[key_hash] = future
        try:
            self.lookups += 1
            resolution = await self._store.resolve_key(key_hash)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it, nobody else needs to
            raise
        finally:
            self._inflight.pop(key_hash, None)
        future.set_result(resolution)
        self._remember(key_hash, resolution)
        return resolution

    def _remember(self, key_hash: str, resolution: KeyResolution | None) -> None:
        ttl = self._ttl_s if resolution is not None else self._negative_ttl_s
        self._cache[key_hash] = (self._clock() + ttl, resolution)
        self._cache.move_to_end(key_hash)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)

    def forget(self, presented: str) -> None:
        """Drop a key from the cache (after revoking it in this process)."""
        self._cache.pop(self._hasher.hash(presented), None)
