"""The insert rows and the archive text made of them."""

from __future__ import annotations

import random
import uuid

import msgspec
import pytest

from sentinel_analytics import archive_text, batch_from_row, decode_stored, landing_line, landing_rows, read_archive
from sentinel_analytics.clickhouse import InsertBody
from sentinel_analytics.encode import INSERT_PREFIX, LANDING_COLUMNS, insert_parts
from sentinel_analytics.testing import make_batch
from sentinel_analytics.wire import StoredBatch, StoredConsumer, StoredEvent, StoredOverhead
from sentinel_queue import encode_entry


def stored(seed: int, events: int = 3) -> StoredBatch:
    batch = make_batch(random.Random(seed), project_id=f"p{seed}", events=events, now_ms=1_767_225_600_000)
    return decode_stored(encode_entry(batch), 30)


def test_every_field_of_a_batch_survives_the_archive() -> None:
    batch = stored(1)
    batch.sample_rate = 0.25
    batch.overhead = StoredOverhead(samples=3, mean_us=2.5, p50_us=2.0, p99_us=9.5)
    batch.dropped.queue_full = 7
    full = batch.events[0]
    full.consumer = StoredConsumer(id="acct_1", name="", group="pro")
    full.attributes = {"region": "eu", "empty": "", "line": "a\nb"}
    full.request_headers = {"user-agent": "x"}
    full.response_headers = {"content-type": "application/json"}
    full.request_body = '{"a": 1}'
    full.response_body = "\u2028\x00"
    full.error = "ValueError"
    full.aborted = True
    full.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    bare = StoredEvent(
        event_id=uuid.uuid4(), timestamp=1, method="GET", path="/", status=200, duration_ms=0.0
    )  # every optional field at its default
    batch.events.append(bare)
    empty = stored(2, events=1)
    empty.events = []
    batches = [batch, empty]
    assert read_archive(archive_text([landing_line(b) for b in batches])) == (batches, 0)


def test_the_header_names_the_columns_of_the_rows() -> None:
    header, row = archive_text([landing_line(stored(1))]).splitlines()
    described = msgspec.json.decode(header)
    assert described["columns"] == list(LANDING_COLUMNS)
    assert described["event_fields"] == list(StoredEvent.__struct_fields__)
    assert len(msgspec.json.decode(row)) == len(LANDING_COLUMNS)


def test_the_insert_body_is_the_statement_then_one_row_per_batch() -> None:
    batches = [stored(1), stored(2)]
    lines = [landing_line(b) for b in batches]
    assert b"".join(insert_parts(lines)) == INSERT_PREFIX + b"\n" + landing_rows(batches)


def test_a_row_reads_back_as_its_batch() -> None:
    batch = stored(3, events=4)
    assert batch_from_row(landing_line(batch)) == batch


@pytest.mark.parametrize("line", [b"[1, 2]", b"{}", b"not json", b'["p"]'])
def test_what_is_not_a_row_is_refused(line: bytes) -> None:
    with pytest.raises((msgspec.DecodeError, msgspec.ValidationError, ValueError)):
        batch_from_row(line)


async def test_an_insert_body_sends_every_part_each_time_it_is_sent() -> None:
    lines = [landing_line(stored(1)), landing_line(stored(2))]
    expected = b"".join(insert_parts(lines))

    class Writer:
        def __init__(self) -> None:
            self.chunks: list[bytes] = []

        async def write(self, chunk: bytes) -> None:
            self.chunks.append(chunk)

    body = InsertBody(insert_parts(lines))
    assert body.size == len(expected)
    for _ in range(2):  # a retried request sends the body again
        writer = Writer()
        await body.write(writer)  # type: ignore[arg-type]
        assert b"".join(writer.chunks) == expected
