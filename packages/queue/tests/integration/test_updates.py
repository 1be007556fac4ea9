"""publish_update against a real Redis: resumable ids are ordered across a project's topics."""

from __future__ import annotations

import asyncio
import json
import uuid

import redis.asyncio as redis

from sentinel_local import RedisEngine
from sentinel_queue import backlog_after, channel, publish_update, updates_stream
from sentinel_queue.updates import split_message


def _key(update_id: str) -> tuple[int, int]:
    ms, _, seq = update_id.partition("-")
    return int(ms), int(seq)


async def test_ids_are_ordered_across_topics_and_resume_from_one_id(redis_server: RedisEngine) -> None:
    client = redis.Redis.from_url(redis_server.url)
    project = f"prj_{uuid.uuid4().hex[:12]}"
    pubsub = client.pubsub()
    await pubsub.subscribe(channel(project, "jobs"), channel(project, "state"))
    try:
        # many updates inside the same milliseconds, alternating topics
        ids = [await publish_update(client, project, "jobs" if i % 2 == 0 else "state", {"n": i}) for i in range(200)]
        assert [_key(i) for i in ids] == sorted({_key(i) for i in ids})  # strictly increasing, no repeats
        mark = ids[99]  # a jobs id; the state updates after it must all be found from it
        backlog = await backlog_after(client, project, ["jobs", "state"], mark)
        assert [json.loads(data)["n"] for _, _, data in backlog] == list(range(100, 200))  # in id order
        after = {
            topic: [json.loads(data)["n"] for _, of, data in backlog if of == topic] for topic in ("jobs", "state")
        }
        assert after["jobs"] == list(range(100, 200, 2))
        assert after["state"] == list(range(101, 200, 2))
        # the pub/sub message carries the same id as the stream entry
        heard = []
        while len(heard) < 200:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
            if message is None:
                await asyncio.sleep(0)
                continue
            heard.append(split_message(message["data"])[0])
        assert heard == ids
    finally:
        await pubsub.aclose()
        await client.delete(
            updates_stream(project, "jobs"), updates_stream(project, "state"), f"sentinel:updates:{{{project}}}:last-id"
        )
        await client.aclose()


async def test_a_stream_ahead_of_the_recorded_id_still_takes_updates(redis_server: RedisEngine) -> None:
    client = redis.Redis.from_url(redis_server.url)
    project = f"prj_{uuid.uuid4().hex[:12]}"
    try:
        # an entry far in the future (a clock that went back, or a lost last-id key): the next update still lands
        await client.xadd(updates_stream(project, "jobs"), {"d": b"{}"}, id="99999999999999-0")
        update_id = await publish_update(client, project, "jobs", {"n": 1})
        assert _key(update_id) > (99999999999999, 0)
    finally:
        await client.delete(updates_stream(project, "jobs"), f"sentinel:updates:{{{project}}}:last-id")
        await client.aclose()


async def test_a_lost_last_id_resumes_after_every_stream_of_the_project(redis_server: RedisEngine) -> None:
    client = redis.Redis.from_url(redis_server.url)
    project = f"prj_{uuid.uuid4().hex[:12]}"
    last_id = f"sentinel:updates:{{{project}}}:last-id"
    try:
        # the jobs stream is ahead of the clock (as after a restore from another server), and the last id is gone
        await client.xadd(updates_stream(project, "jobs"), {"d": b"{}"}, id="99999999999999-7")
        await client.delete(last_id)
        state_id = await publish_update(client, project, "state", {"n": 1})
        assert _key(state_id) > (99999999999999, 7)  # a client holding the jobs id still gets this update
        assert [
            json.loads(d)["n"] for _, _, d in await backlog_after(client, project, ["state"], "99999999999999-7")
        ] == [1]
    finally:
        await client.delete(updates_stream(project, "jobs"), updates_stream(project, "state"), last_id)
        await client.aclose()
