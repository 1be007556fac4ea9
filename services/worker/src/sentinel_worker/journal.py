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

# KEYS: stream, index hash. ARGV: group, consumer, token, entry ids. Indexes the entries this consumer owns
# (resetting their idle time) and returns those it does not.
_OWN_AND_INDEX = """
local lost = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
  if #pending == 1 and pending[1][2] == ARGV[2] then
    redis.call('HSET', KEYS[2], id, ARGV[3])
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, id, 'JUSTID')
  else
    table.insert(lost, id)
  end
end
return lost
"""

# KEYS: stream. ARGV: group, consumer, entry ids. Resets the idle time of the entries this consumer owns;
# entries another consumer took over are left alone (a plain XCLAIM would take them back).
_TOUCH_OWNED = """
for i = 3, #ARGV do
  local id = ARGV[i]
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
  if #pending == 1 and pending[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, id, 'JUSTID')
  end
end
return 0
"""

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

    async def record(
        self, token: str, members: list[Member], stream_of: Any, group: str, consumer: str
    ) -> list[Member]:
        """Journal a group; returns the members this consumer no longer owns (another consumer claimed them),
        which were not indexed and must leave the group. Ownership is checked and the index written in one
        script per partition, so a claim either comes before (the entry is reported lost) or after (the
        claimer finds the token and replays the whole group under it)."""
        await self.client.set(group_key(token), msgspec.msgpack.encode(members), ex=_TTL_S)
        lost: list[Member] = []
        for partition, ids in _by_partition(members).items():
            keys = [stream_of(partition), index_key(partition)]
            gone = await self.client.eval(_OWN_AND_INDEX, 2, *keys, group, consumer, token, *ids)
            lost += [(partition, entry_id.decode() if isinstance(entry_id, bytes) else entry_id) for entry_id in gone]
        return lost

    async def touch(self, members: list[Member], stream_of: Any, group: str, consumer: str) -> None:
        """Reset the idle time of the members this consumer still owns."""
        for partition, ids in _by_partition(members).items():
            await self.client.eval(_TOUCH_OWNED, 1, stream_of(partition), group, consumer, *ids)

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

    async def settle(self, members: list[Member], stream_of: Any, group: str) -> None:
        """Acknowledge entries of a group already marked done (its record stays until it expires, so members
        still pending elsewhere are recognised as done too)."""
        pipe = self.client.pipeline(transaction=False)
        for partition, ids in _by_partition(members).items():
            pipe.xack(stream_of(partition), group, *ids)
            pipe.hdel(index_key(partition), *ids)
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
