"""The stream entry round-trips; names keep a partition's keys in one Redis Cluster slot."""

from __future__ import annotations

import re
import uuid

import msgspec
import pytest

from sentinel_queue import QueuedBatch, decode_entry, encode_entry, partition_for, seen_key, stream_key
from sentinel_types import Consumer, Event, LossCounters, SdkInfo


def hash_tag(key: str) -> str:
    match = re.search(r"\{([^}]*)\}", key)
    assert match is not None
    return match.group(1)


def test_entry_round_trips_with_every_field() -> None:
    batch = QueuedBatch(
        project_id="prj_x",
        tenant_id="ten_y",
        batch_id=uuid.uuid4(),
        received_at=1_790_000_000_123,
        sdk=SdkInfo(name="sentinel-python", version="0.1.0", runtime="CPython 3.11"),
        service="api",
        environment="staging",
        sample_rate=0.25,
        dropped=LossCounters(queue_full=2),
        events=[
            Event(
                event_id=uuid.uuid4(),
                timestamp=1_790_000_000_000,
                method="GET",
                path="/a",
                route="/a",
                status=200,
                duration_ms=1.25,
                consumer=Consumer(id="c1"),
            )
        ],
    )
    assert decode_entry(encode_entry(batch)) == batch


def test_garbage_is_a_decode_error() -> None:
    with pytest.raises(msgspec.DecodeError):
        decode_entry(b"\x93not an entry")


def test_a_partitions_stream_and_seen_marks_share_a_slot() -> None:
    assert hash_tag(stream_key(5)) == hash_tag(seen_key(5, "prj_x", str(uuid.uuid4()))) == "5"
    assert hash_tag(stream_key(5)) != hash_tag(stream_key(6))


def test_partitioning_is_stable_and_spreads_projects() -> None:
    projects = [f"prj_{i:022d}" for i in range(400)]
    assert [partition_for(p, 8) for p in projects] == [partition_for(p, 8) for p in projects]
    counts = [sum(1 for p in projects if partition_for(p, 8) == n) for n in range(8)]
    assert min(counts) > 20
