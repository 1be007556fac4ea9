"""Grouping entries into inserts; archive object keys and bytes."""

from __future__ import annotations

import gzip
import json
import random

import msgspec

from sentinel_analytics import archive_text, batch_from_row, decode_stored, landing_line, landing_rows, read_archive
from sentinel_analytics.testing import make_batch
from sentinel_queue import encode_entry
from sentinel_worker.archive import object_keys, render
from sentinel_worker.groups import Entry, Group, first_seen_ms
from sentinel_worker.tail import BatchFigures

NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def entry(i: int, blob: bytes | None, partition: int = 0) -> Entry:
    return Entry(partition, f"{NOW + i}-0", blob)


def blob(seed: int, project_id: str = "p") -> bytes:
    return encode_entry(make_batch(random.Random(seed), project_id=project_id, events=3, now_ms=NOW))


class TestGroup:
    def test_repeated_batches_are_dropped_and_counted(self) -> None:
        group = Group()
        for i, b in enumerate((blob(1), blob(2), blob(1))):
            group.add(entry(i, b), 30)
        assert len(group) == 3
        assert len(group.batches) == 2
        assert group.duplicates == 1
        assert group.events == 6

    def test_the_token_is_the_same_for_the_same_batches_in_another_order(self) -> None:
        first, second = Group(), Group()
        for i, b in enumerate((blob(1), blob(2))):
            first.add(entry(i, b), 30)
        for i, b in enumerate((blob(2), blob(1))):
            second.add(entry(i + 10, b), 30)
        assert first.token == second.token
        third = Group()
        third.add(entry(0, blob(3)), 30)
        assert third.token != first.token

    def test_poison_entries_become_dead_letters_with_their_origin(self) -> None:
        group = Group()
        group.add(entry(0, b"\xc1"), 30)
        group.add(entry(1, None, partition=3), 30)
        assert not group.batches
        [(_, bad), (_, missing)] = group.dead
        assert bad.error.startswith("not a batch")
        assert bad.payload == b"\xc1"
        assert bad.first_seen == NOW
        assert missing.stream == "sentinel:events:{3}"
        assert len(group.token) == 32

    def test_without_drops_members_and_keeps_the_rest(self) -> None:
        group = Group()
        for i in range(3):
            group.add(entry(i, blob(i)), 30)
        rest = group.without([(0, f"{NOW + 1}-0")], 30)
        assert rest.members == [(0, f"{NOW}-0"), (0, f"{NOW + 2}-0")]
        assert rest.token != group.token

    def test_a_group_holds_rows_not_decoded_events(self) -> None:
        group = Group()
        group.add(entry(0, blob(1)), 30)
        [held] = group.batches
        whole = decode_stored(blob(1), 30)
        assert held.batch.events == []  # let go once encoded
        assert held.events == len(whole.events) == group.events == 3
        assert held.line == landing_line(whole)
        assert batch_from_row(held.line) == whole
        assert held.sample == []

    def test_the_live_tail_keeps_the_first_events_of_new_traffic_only(self) -> None:
        group = Group(tail_sample=2)
        group.add(entry(0, blob(1)), 30)
        group.add(Entry(0, f"{NOW}-9", blob(2), sync="job_a", archived=True), 30)
        live, replayed = group.batches
        assert live.sample == decode_stored(blob(1), 30).events[:2]
        assert replayed.sample == []
        assert group.empty().tail_sample == 2

    def test_live_figures_are_taken_from_the_events_before_they_are_let_go(self) -> None:
        whole = decode_stored(blob(4), 30)
        whole.events[0].status, whole.events[1].status, whole.events[2].status = 404, 503, 200
        group = Group()
        group.add(Entry(0, f"{NOW}-0", msgspec.msgpack.encode(whole)), 30)
        group.add(Entry(0, f"{NOW}-1", blob(5), sync="job_a"), 30)  # not live: no figures
        live, synced = group.batches
        assert synced.figures is None
        quiet = Group(live_figures=False)
        quiet.add(entry(7, blob(4)), 30)
        assert quiet.batches[0].figures is None
        assert live.figures == BatchFigures(
            project_id="p",
            service=whole.service,
            environment=whole.environment,
            requests=3,
            errors_4xx=1,
            errors_5xx=1,
            duration_ms_sum=sum(e.duration_ms for e in whole.events),
            duration_ms_max=max(e.duration_ms for e in whole.events),
            earliest=min(e.timestamp for e in whole.events),
        )

    def test_first_seen_is_the_time_part_of_the_entry_id(self) -> None:
        assert first_seen_ms("1700000000123-7") == 1_700_000_000_123
        assert first_seen_ms("garbage") == 0


class TestArchive:
    def test_objects_are_keyed_by_project_date_hour_partition_and_token(self) -> None:
        alpha, beta = decode_stored(blob(1, "alpha"), 30), decode_stored(blob(2, "beta"), 30)
        keys = object_keys("tok", [(2, alpha, landing_line(alpha)), (5, beta, landing_line(beta))])
        assert sorted(keys) == [
            "bronze/project=alpha/date=2026-01-01/hour=00/p002-tok.ndjson.gz",
            "bronze/project=beta/date=2026-01-01/hour=00/p005-tok.ndjson.gz",
        ]

    def test_rendering_is_deterministic_gzipped_ndjson_of_the_inserted_rows(self) -> None:
        batch = decode_stored(blob(1), 30)
        other = decode_stored(blob(2), 30)
        lines = [landing_line(batch), landing_line(other)]
        body = render(lines)
        assert body == render(lines)
        text = gzip.decompress(body)
        assert text == archive_text(lines)
        header, *rows = text.splitlines()
        assert json.loads(header)["format"] == "sentinel.landing-rows/1"
        assert rows == lines  # the bytes of the store's insert, one line per batch
        assert landing_rows([batch, other]) == b"\n".join([*lines, b""])
        assert read_archive(text) == ([batch, other], 0)
