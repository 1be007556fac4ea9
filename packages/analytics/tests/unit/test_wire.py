"""The store's lean decode types stay in step with the wire types, and the insert token is order-free."""

from __future__ import annotations

import random
import uuid

import msgspec

from sentinel_analytics import StoredBatch, decode_stored, group_token, landing_rows
from sentinel_analytics.encode import LANDING_COLUMNS
from sentinel_analytics.testing import make_batch
from sentinel_analytics.wire import StoredConsumer, StoredEvent
from sentinel_queue import QueuedBatch, encode_entry
from sentinel_types import Consumer, Event


def test_stored_types_have_the_fields_of_the_wire_types_in_order() -> None:
    assert StoredBatch.__struct_fields__ == QueuedBatch.__struct_fields__
    assert StoredEvent.__struct_fields__ == Event.__struct_fields__
    assert StoredConsumer.__struct_fields__ == Consumer.__struct_fields__


def test_decoding_keeps_every_field_and_fills_the_default_retention() -> None:
    batch = make_batch(random.Random(5), events=5, now_ms=1_700_000_000_000, full=True)
    decoded = decode_stored(encode_entry(batch), 30)
    assert decoded.retention_days == 30
    batch.retention_days = 30
    assert msgspec.json.decode(msgspec.json.encode(decoded), type=QueuedBatch) == batch


def test_a_blob_that_is_not_a_batch_raises_a_decode_error() -> None:
    for blob in (b"\xc1", msgspec.msgpack.encode({"project_id": 1})):
        try:
            decode_stored(blob, 30)
        except msgspec.DecodeError:
            continue
        raise AssertionError(f"{blob!r} decoded")


def test_landing_rows_are_positional_one_line_per_batch() -> None:
    batches = [make_batch(random.Random(i), events=2, now_ms=1_700_000_000_000) for i in range(3)]
    body = landing_rows(decode_stored(encode_entry(b), 30) for b in batches)
    lines = body.splitlines()
    assert len(lines) == 3
    assert body.endswith(b"\n")
    row = msgspec.json.decode(lines[0])
    assert len(row) == len(LANDING_COLUMNS)
    assert row[0] == "proj-1"
    assert row[2] == str(batches[0].batch_id)
    assert len(row[-1]) == 2
    assert row[-1][0][0] == str(batches[0].events[0].event_id)


def test_the_token_depends_on_the_set_of_batch_ids_only() -> None:
    ids = [str(uuid.uuid4()) for _ in range(5)]
    assert group_token(ids) == group_token(list(reversed(ids)))
    assert group_token(ids) != group_token(ids[:4])
    assert len(group_token(ids)) == 32
