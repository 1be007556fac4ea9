"""The insert journal: which queue entries make up each insert, so a redelivered insert is rebuilt exactly.

An insert merges many batches and carries one deduplication token, a digest of its batch ids. If a worker dies
after writing but before acknowledging, another worker claims the entries; to be dropped as a duplicate the
insert must be rebuilt from exactly the same batches. So before writing, the worker records the group's
members (``sentinel:journal:group:<token>``) and, per partition, which token each entry belongs to
(``sentinel:journal:{N}``, a hash in the partition's Cluster slot). After a durable write the group is marked
done, then acknowledged and forgotten. A claimer that finds a journaled entry replays its whole group under the
same token (or just acknowledges it if the group is done).
"""

from __future__ import annotations

from typing import Any

import msgspec

DONE = b"done"
_PREFIX = "sentinel:journal"
_TTL_S = 7 * 24 * 3600

Member = tuple[int, str]
"""(partition, entry id)."""


def index_key(partition: int) -> str:
    return f"{_PREFIX}:{{{partition}}}"


def group_key(token: str) -> str:
    return f"{_PREFIX}:group:{token}"


class Journal:
    """Journal operations on a redis.asyncio client (bytes responses)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    async def record(self, token: str, members: list[Member]) -> None:
        by_partition: dict[int, dict[str, str]] = {}
        for partition, entry_id in members:
            by_partition.setdefault(partition, {})[entry_id] = token
        pipe = self.client.pipeline(transaction=False)
        pipe.set(group_key(token), msgspec.msgpack.encode(members), ex=_TTL_S)
        for partition, mapping in by_partition.items():
            pipe.hset(index_key(partition), mapping=mapping)
        await pipe.execute()

    async def tokens(self, partition: int, entry_ids: list[str]) -> list[str | None]:
        """The token each entry was journaled under, or None."""
        if not entry_ids:
            return []
        values = await self.client.hmget(index_key(partition), entry_ids)
        return [value.decode() if value is not None else None for value in values]

    async def members(self, token: str) -> list[Member] | bytes | None:
        """The group's members, ``DONE`` once it was written, or None when unknown (never recorded, forgotten)."""
        value = await self.client.get(group_key(token))
        if value is None or value == DONE:
            return value  # type: ignore[no-any-return]
        return [(int(p), str(i)) for p, i in msgspec.msgpack.decode(value)]

    async def finish(self, token: str, members: list[Member], stream_of: Any, group: str) -> None:
        """Mark the group written, acknowledge its entries and forget it (in that order: a crash part-way
        leaves the group marked done, so a claimer acknowledges the rest instead of writing again)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.set(group_key(token), DONE, ex=_TTL_S)
        for partition, ids in _by_partition(members).items():
            pipe.xack(stream_of(partition), group, *ids)
            pipe.hdel(index_key(partition), *ids)
        pipe.delete(group_key(token))
        await pipe.execute()

    async def forget(self, token: str, members: list[Member]) -> None:
        """Drop a group that was never written (it is being split into smaller ones)."""
        pipe = self.client.pipeline(transaction=False)
        for partition, ids in _by_partition(members).items():
            pipe.hdel(index_key(partition), *ids)
        pipe.delete(group_key(token))
        await pipe.execute()


def _by_partition(members: list[Member]) -> dict[int, list[str]]:
    grouped: dict[int, list[str]] = {}
    for partition, entry_id in members:
        grouped.setdefault(partition, []).append(entry_id)
    return grouped
