"""POST /v1/events/batch against a real Redis and a real control store: every answer the endpoint gives."""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

import msgspec
import pytest
from ingest_helpers import DAY_MS, PARTITIONS, Stack, as_dict, batch, event, now_ms

from sentinel_control import ProjectChanges
from sentinel_queue import decode_entry, partition_for, seen_key, stream_key
from sentinel_types import encode, limits

URL = "/v1/events/batch"


async def queued(stack: Stack) -> list[Any]:
    """Every entry in every partition, decoded."""
    entries = []
    for partition in range(PARTITIONS):
        for _, fields in await stack.redis.xrange(stream_key(partition)):
            entries.append(decode_entry(fields[b"d"]))
    return entries


async def post(stack: Stack, body: bytes, fmt: str = "json", **headers: str) -> Any:
    return await stack.client.post(URL, content=body, headers=stack.headers(fmt, **headers))


class TestAccepted:
    @pytest.mark.parametrize("fmt", ["json", "msgpack"])
    @pytest.mark.parametrize("gzipped", [False, True])
    async def test_valid_batch_is_enqueued_whole_as_one_entry(self, stack: Stack, fmt: str, gzipped: bool) -> None:
        sent = batch(events=5, service="billing", environment="staging")
        body = encode(sent, fmt)  # type: ignore[arg-type]
        headers = {"Content-Encoding": "gzip"} if gzipped else {}
        response = await post(stack, gzip.compress(body) if gzipped else body, fmt, **headers)
        assert response.status_code == 202, response.text
        assert response.json() == {
            "batch_id": str(sent.batch_id),
            "accepted": 5,
            "duplicate": False,
            "rejected": [],
        }
        (entry,) = await queued(stack)
        assert entry.events == sent.events
        assert (entry.project_id, entry.tenant_id) == (stack.project.id, stack.project.tenant_id)
        assert (entry.batch_id, entry.service, entry.environment) == (sent.batch_id, "billing", "staging")
        assert abs(entry.received_at - now_ms()) < 60_000
        assert entry.retention_days == stack.project.retention_days
        partition = partition_for(stack.project.id, PARTITIONS)
        assert await stack.redis.xlen(stream_key(partition)) == 1

    async def test_invalid_events_are_rejected_by_index_and_the_rest_accepted(self, stack: Stack) -> None:
        good = [event(path=f"/ok/{i}") for i in range(3)]
        raw = as_dict(batch(events=1))
        raw["events"] = [
            as_dict(good[0]),
            {**as_dict(good[1]), "status": 999},
            as_dict(good[1]),
            {**as_dict(good[2]), "timestamp": now_ms() + 2 * DAY_MS},
            {**as_dict(good[2]), "timestamp": now_ms() - 40 * DAY_MS},
            as_dict(good[2]),
        ]
        response = await post(stack, msgspec.json.encode(raw))
        assert response.status_code == 202
        body = response.json()
        assert body["accepted"] == 3
        assert [(r["index"], r["field"]) for r in body["rejected"]] == [
            (1, "status"),
            (3, "timestamp"),
            (4, "timestamp"),
        ]
        assert "future" in body["rejected"][1]["error"]
        assert "retention of 30 days" in body["rejected"][2]["error"]
        (entry,) = await queued(stack)
        assert entry.events == good

    async def test_loss_counters_and_sdk_travel_with_the_batch(self, stack: Stack) -> None:
        raw = as_dict(batch(events=1))
        raw["dropped"] = {"queue_full": 4, "sampled_out": 9}
        raw["sample_rate"] = 0.5
        response = await post(stack, msgspec.json.encode(raw))
        assert response.status_code == 202
        (entry,) = await queued(stack)
        assert (entry.dropped.queue_full, entry.dropped.sampled_out, entry.sample_rate) == (4, 9, 0.5)
        assert entry.sdk.name == "sentinel-python"


class TestDuplicates:
    async def test_duplicate_batch_is_202_and_enqueued_once(self, stack: Stack) -> None:
        sent = batch(events=4)
        first = await post(stack, encode(sent, "msgpack"), "msgpack")
        again = await post(stack, encode(sent, "json"), "json")
        assert first.json()["duplicate"] is False
        assert again.status_code == 202
        assert again.json() == {"batch_id": str(sent.batch_id), "accepted": 0, "duplicate": True, "rejected": []}
        assert len(await queued(stack)) == 1

    async def test_a_failed_enqueue_never_marks_the_batch_as_seen(self, stack: Stack) -> None:
        sent = batch(events=2)
        partition = partition_for(stack.project.id, PARTITIONS)
        await stack.redis.set(stream_key(partition), "not a stream")  # XADD will fail with WRONGTYPE
        failed = await post(stack, encode(sent, "json"))
        assert failed.status_code == 503
        assert failed.headers["retry-after"] == "1"
        assert await stack.redis.exists(seen_key(partition, stack.project.id, str(sent.batch_id))) == 0
        await stack.redis.delete(stream_key(partition))
        retried = await post(stack, encode(sent, "json"))
        assert retried.status_code == 202
        assert retried.json()["duplicate"] is False
        assert len(await queued(stack)) == 1


class TestRejectedBatches:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            (b"{not json", "$"),
            (b"[1, 2]", "$"),
            (b'{"batch_id": "nope", "sent_at": 1, "sdk": {"name": "s", "version": "1"}, "events": []}', "$.batch_id"),
            (msgspec.json.encode({**as_dict(batch()), "events": []}), "$.events"),
            (msgspec.json.encode({**as_dict(batch()), "sample_rate": 7}), "$.sample_rate"),
        ],
    )
    async def test_body_that_is_not_a_batch_is_400_with_the_field(self, stack: Stack, body: bytes, field: str) -> None:
        response = await post(stack, body)
        assert response.status_code == 400
        assert response.json()["field"] == field
        assert response.json()["error"] == "invalid_batch"
        assert await queued(stack) == []

    async def test_no_valid_event_is_400_listing_every_rejection(self, stack: Stack) -> None:
        raw = as_dict(batch(events=2))
        for item in raw["events"]:
            item["status"] = 42
        response = await post(stack, msgspec.json.encode(raw))
        assert response.status_code == 400
        body = response.json()
        assert body["error"] == "no_valid_event"
        assert [r["index"] for r in body["rejected"]] == [0, 1]
        assert await queued(stack) == []

    async def test_too_many_events_is_413_naming_the_limit(self, stack: Stack) -> None:
        raw = as_dict(batch(events=1))
        raw["events"] = raw["events"] * (limits.MAX_EVENTS_PER_BATCH + 1)
        response = await post(stack, msgspec.msgpack.encode(raw), "msgpack")
        assert response.status_code == 413
        assert str(limits.MAX_EVENTS_PER_BATCH) in response.json()["message"]

    async def test_oversized_body_is_413(self, stack: Stack) -> None:
        body = b" " * (limits.MAX_BATCH_BYTES_COMPRESSED + 1)
        response = await post(stack, body)
        assert response.status_code == 413

    async def test_gzip_bomb_is_413_not_out_of_memory(self, stack: Stack) -> None:
        bomb = gzip.compress(b"\0" * (limits.MAX_BATCH_BYTES_DECOMPRESSED + 1024 * 1024), compresslevel=9)
        assert len(bomb) < 100_000
        response = await post(stack, bomb, **{"Content-Encoding": "gzip"})
        assert response.status_code == 413
        assert "decompressed" in response.json()["message"]

    async def test_a_body_of_several_gzip_members_is_read_whole(self, stack: Stack) -> None:
        sent = batch(events=6)
        body = encode(sent, "json")
        members = b"".join(gzip.compress(body[i : i + 100]) for i in range(0, len(body), 100))
        response = await post(stack, members, "json", **{"Content-Encoding": "gzip"})
        assert response.status_code == 202, response.text
        (entry,) = await queued(stack)
        assert [e.event_id for e in entry.events] == [e.event_id for e in sent.events]

    @pytest.mark.parametrize("corrupt", ["truncated", "garbage"])
    async def test_broken_gzip_is_400(self, stack: Stack, corrupt: str) -> None:
        good = gzip.compress(encode(batch(), "json"))
        body = good[: len(good) // 2] if corrupt == "truncated" else b"\x1f\x8b" + b"nonsense" * 10
        response = await post(stack, body, **{"Content-Encoding": "gzip"})
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_encoding"

    @pytest.mark.parametrize(
        "headers",
        [{"Content-Type": "text/plain"}, {"Content-Type": "application/xml"}, {"Content-Encoding": "br"}],
    )
    async def test_unsupported_type_or_encoding_is_415(self, stack: Stack, headers: dict[str, str]) -> None:
        response = await stack.client.post(URL, content=encode(batch(), "json"), headers={**stack.headers(), **headers})
        assert response.status_code == 415
        assert response.headers["content-type"].startswith("application/json")


class TestAuth:
    @pytest.mark.parametrize(
        "authorization", [None, "Bearer", "Basic abc", "Bearer snt_" + "x" * 43, "Bearer sdt_" + "x" * 43]
    )
    async def test_missing_or_unknown_key_is_401(self, stack: Stack, authorization: str | None) -> None:
        headers = stack.headers()
        del headers["Authorization"]
        if authorization:
            headers["Authorization"] = authorization
        response = await stack.client.post(URL, content=encode(batch(), "json"), headers=headers)
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"

    async def test_revoked_key_is_refused_within_the_cache_ttl(self, stack: Stack) -> None:
        assert (await post(stack, encode(batch(), "json"))).status_code == 202
        (key,) = await stack.store.list_keys(stack.project.tenant_id, stack.project.id)
        await stack.store.revoke_key(stack.project.tenant_id, stack.project.id, key.id, at=now_ms())
        await asyncio.sleep(stack.settings.control.key_cache_ttl_s + 0.1)
        assert (await post(stack, encode(batch(), "json"))).status_code == 401

    async def test_disabled_project_is_403(self, stack: Stack) -> None:
        await stack.store.update_project(stack.project.tenant_id, stack.project.id, ProjectChanges(enabled=False))
        await asyncio.sleep(stack.settings.control.key_cache_ttl_s + 0.1)
        response = await post(stack, encode(batch(), "json"))
        assert response.status_code == 403
        assert response.json()["error"] == "project_disabled"


class TestRateLimit:
    async def test_batches_are_taken_whole_or_refused_with_retry_after(self, make_stack: Any) -> None:
        stack = await make_stack(rate_limit_eps=10, rate_limit_burst=20)
        first = await post(stack, encode(batch(events=15), "json"))
        assert first.status_code == 202
        assert first.headers["x-ratelimit-limit"] == "10"
        assert first.headers["x-ratelimit-remaining"] == "5"
        assert int(first.headers["x-ratelimit-reset"]) >= 1
        refused = await post(stack, encode(batch(events=15), "json"))
        assert refused.status_code == 429
        assert refused.json()["error"] == "rate_limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 2
        assert refused.headers["x-ratelimit-limit"] == "10"
        small = await post(stack, encode(batch(events=5), "json"))
        assert small.status_code == 202
        assert sum(len(e.events) for e in await queued(stack)) == 20

    async def test_a_duplicate_spends_no_tokens(self, make_stack: Any) -> None:
        stack = await make_stack(rate_limit_eps=1, rate_limit_burst=10)
        sent = batch(events=10)
        assert (await post(stack, encode(sent, "json"))).status_code == 202
        again = await post(stack, encode(sent, "json"))
        assert again.status_code == 202
        assert again.json()["duplicate"] is True


class TestBackpressure:
    async def test_backlog_above_the_high_water_mark_is_503(self, make_stack: Any) -> None:
        stack = await make_stack(ingest_high_water_entries=2, ingest_lag_max_age_s=0.05)
        for _ in range(3):
            assert (await post(stack, encode(batch(), "json"))).status_code == 202
        await asyncio.sleep(0.1)
        response = await post(stack, encode(batch(), "json"))
        assert response.status_code == 503
        assert response.json()["error"] == "backpressure"
        assert response.headers["retry-after"] == "1"
        ready = await stack.client.get("/readyz")
        assert ready.status_code == 503
        assert "high-water" in ready.json()["checks"]["queue"]["error"]

    async def test_over_the_high_water_mark_the_body_is_not_decoded(self, make_stack: Any) -> None:
        stack = await make_stack(ingest_high_water_entries=1, ingest_lag_max_age_s=0.05)
        for _ in range(2):
            assert (await post(stack, encode(batch(), "json"))).status_code == 202
        await asyncio.sleep(0.1)
        response = await post(stack, b"{not a batch")
        assert response.status_code == 503, "a refusal for load must come before the body is decoded"
        assert response.json()["error"] == "backpressure"


async def test_concurrent_batches_land_exactly_once(stack: Stack) -> None:
    batches = [batch(events=1 + i % 7) for i in range(200)]
    responses = await asyncio.gather(*(post(stack, encode(b, "msgpack"), "msgpack") for b in batches))
    assert {r.status_code for r in responses} == {202}
    entries = await queued(stack)
    assert len(entries) == 200
    assert sorted(str(e.batch_id) for e in entries) == sorted(str(b.batch_id) for b in batches)
    assert sum(len(e.events) for e in entries) == sum(len(b.events) for b in batches)


async def test_every_answer_carries_a_request_id(stack: Stack) -> None:
    response = await post(stack, b"{bad")
    assert response.json()["request_id"] == response.headers["x-request-id"]
