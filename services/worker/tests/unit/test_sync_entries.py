"""Entries a sync re-enqueued: their own insert token, and no second copy in the archive."""

from __future__ import annotations

import random

from sentinel_analytics.testing import make_batch
from sentinel_queue import ARCHIVED_FIELD, ENTRY_FIELD, SYNC_FIELD, encode_entry
from sentinel_worker.groups import Entry, Group

NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def blob(seed: int) -> bytes:
    return encode_entry(make_batch(random.Random(seed), project_id="p", events=2, now_ms=NOW))


def group_of(*entries: Entry) -> Group:
    group = Group()
    for entry in entries:
        group.add(entry, 30)
    return group


class TestSyncEntries:
    def test_fields_are_read_from_the_stream_entry(self) -> None:
        entry = Entry.of(3, f"{NOW}-0", {ENTRY_FIELD: b"x", SYNC_FIELD: b"job_1", ARCHIVED_FIELD: b"1"})
        assert (entry.partition, entry.blob, entry.sync, entry.archived) == (3, b"x", "job_1", True)
        plain = Entry.of(3, f"{NOW}-1", {ENTRY_FIELD: b"x"})
        assert (plain.sync, plain.archived) == (None, False)

    def test_a_restored_insert_does_not_reuse_the_original_token(self) -> None:
        original = group_of(Entry(0, f"{NOW}-0", blob(1)), Entry(0, f"{NOW}-1", blob(2)))
        restored = group_of(
            Entry(0, f"{NOW + 9}-0", blob(1), sync="job_a", archived=True),
            Entry(0, f"{NOW + 9}-1", blob(2), sync="job_a", archived=True),
        )
        again = group_of(
            Entry(0, f"{NOW + 10}-0", blob(2), sync="job_a", archived=True),
            Entry(0, f"{NOW + 10}-1", blob(1), sync="job_a", archived=True),
        )
        other_sync = group_of(
            Entry(0, f"{NOW + 11}-0", blob(1), sync="job_b"), Entry(0, f"{NOW + 11}-1", blob(2), sync="job_b")
        )
        assert restored.token != original.token
        assert restored.token == again.token  # a redelivered sync insert is still recognised by the store
        assert other_sync.token not in {original.token, restored.token}

    def test_batches_read_back_from_the_archive_are_not_archived_again(self) -> None:
        group = group_of(
            Entry(0, f"{NOW}-0", blob(1)),
            Entry(0, f"{NOW}-1", blob(2), sync="job_a", archived=True),
            Entry(0, f"{NOW}-2", blob(3), sync="job_b"),
        )
        lines, to_archive = group.encoded()
        assert len(lines) == 3
        archived = {str(batch.batch_id) for _, batch, _ in to_archive}
        everything = [str(held.batch.batch_id) for held in group.batches]
        assert len(everything) == 3
        assert archived == {everything[0], everything[2]}

    def test_only_new_traffic_is_live(self) -> None:
        group = group_of(
            Entry(0, f"{NOW}-0", blob(1)),
            Entry(0, f"{NOW}-1", blob(2), sync="job_a", archived=True),  # a replay from the archive
            Entry(0, f"{NOW}-2", blob(3), sync="job_b"),  # an import of access logs
            Entry(0, f"{NOW}-3", blob(4)),
        )
        everything = [str(held.batch.batch_id) for held in group.batches]
        assert [str(held.batch.batch_id) for held in group.live] == [everything[0], everything[3]]
