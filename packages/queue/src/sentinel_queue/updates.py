"""Live updates for the dashboard: pub/sub channels, and bounded streams for the topics that can be resumed.

- ``requests``: the worker publishes a sample of each project's events on ``tail_channel(project)``; live only.
- ``jobs`` and ``state``: ``publish_update`` appends the update to a bounded stream (the last ``maxlen``
  updates, so a client reconnecting with ``Last-Event-ID`` gets what it missed) and publishes it with its stream
  id, in one atomic Lua call. Ids are ordered across a project's resumable topics, so one ``Last-Event-ID``
  resumes every topic. A pub/sub message is ``b"<stream id> <json payload>"``.
- ``metrics``: the worker publishes each project's live figures once per tick; live only.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
import redis.asyncio as redis

from sentinel_queue.names import tail_channel

Topic = Literal["requests", "metrics", "jobs", "state"]
TOPICS: tuple[Topic, ...] = ("requests", "metrics", "jobs", "state")
RESUMABLE: frozenset[Topic] = frozenset({"jobs", "state"})
UPDATES_MAXLEN = 1_000

# Ids are ordered across a project's resumable topics (one Last-Event-ID resumes them all): each id comes from
# the project's last id (``KEYS[2]``, same hash slot as the streams) and the server clock, never going back; if
# that key is lost, from the newest entry of the project's streams (``KEYS[1]``, ``KEYS[3...]``).
_PUBLISH = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local seq = 0
local newest = {}
local last = redis.call('GET', KEYS[2])
if last then
  newest[1] = last
else
  -- the project's last id is gone (a flush, a restore): start after the newest entry of any of its streams
  for i, key in ipairs(KEYS) do
    if i ~= 2 then
      local top = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
      if top[1] then newest[#newest + 1] = top[1][1] end
    end
  end
end
for _, id in ipairs(newest) do
  local last_ms, last_seq = string.match(id, '^(%d+)-(%d+)$')
  last_ms, last_seq = tonumber(last_ms), tonumber(last_seq)
  if ms < last_ms or (ms == last_ms and seq <= last_seq) then
    ms, seq = last_ms, last_seq + 1
  end
end
local id = string.format('%d-%d', ms, seq)
local added = redis.pcall('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], id, 'd', ARGV[1])
if type(added) == 'table' and added.err then
  added = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'd', ARGV[1])
end
redis.call('SET', KEYS[2], added)
redis.call('PUBLISH', ARGV[2], added .. ' ' .. ARGV[1])
return added
"""


def channel(project_id: str, topic: Topic) -> str:
    """The pub/sub channel of a project's topic."""
    if topic == "requests":
        return tail_channel(project_id)
    return f"sentinel:live:{project_id}:{topic}"


def updates_stream(project_id: str, topic: Topic) -> str:
    """The bounded stream that keeps a resumable topic's recent updates."""
    return f"sentinel:updates:{{{project_id}}}:{topic}"


def _last_id_key(project_id: str) -> str:
    return f"sentinel:updates:{{{project_id}}}:last-id"


async def publish_update(
    client: redis.Redis, project_id: str, topic: Topic, payload: Any, *, maxlen: int = UPDATES_MAXLEN
) -> str:
    """Record and publish one update of a resumable topic; returns its id (the SSE event id)."""
    if topic not in RESUMABLE:
        raise ValueError(f"topic {topic!r} is not resumable; publish it on channel(...) directly")
    data = msgspec.json.encode(payload)
    others = [updates_stream(project_id, other) for other in sorted(RESUMABLE) if other != topic]
    keys = [updates_stream(project_id, topic), _last_id_key(project_id), *others]
    entry_id = await client.eval(_PUBLISH, len(keys), *keys, data, channel(project_id, topic), maxlen)
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def split_message(message: bytes) -> tuple[str | None, bytes]:
    """``(id, json payload)`` of a pub/sub message; id is None for live-only topics (the whole message is JSON)."""
    head, sep, rest = message.partition(b" ")
    if sep and head[:1].isdigit() and b"-" in head:
        return head.decode(), rest
    return None, message


async def backlog_after(
    client: redis.Redis, project_id: str, topics: list[Topic], last_id: str, *, count: int = UPDATES_MAXLEN
) -> list[tuple[str, Topic, bytes]]:
    """``(id, topic, json)`` of the resumable ``topics``' updates after ``last_id``, in id order across them.

    The streams are read in one MULTI/EXEC (they share the project's hash slot), so no update published
    meanwhile can be missing from one topic while a later one of another topic is included.
    """
    wanted = [topic for topic in topics if topic in RESUMABLE]
    if not wanted:
        return []
    pipe: Any = client.pipeline(transaction=True)
    for topic in wanted:
        pipe.xrange(updates_stream(project_id, topic), min=f"({last_id}", count=count)
    answers = await pipe.execute()
    backlog = [
        (_text(entry_id), topic, bytes(fields[b"d"]))
        for topic, entries in zip(wanted, answers, strict=True)
        for entry_id, fields in entries or []
    ]
    backlog.sort(key=lambda item: id_key(item[0]))
    return backlog


def id_key(update_id: str) -> tuple[int, int]:
    """An update id as a sortable ``(ms, seq)``."""
    ms, _, seq = update_id.partition("-")
    return int(ms), int(seq or 0)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
