"""Turning queue entries into insert groups: decode, drop repeated batches, set poison entries aside.

A batch is encoded as its landing row as soon as it is decoded, and its decoded events are let go (but for the live
tail's sample): a group holds rows (bytes), not hundreds of thousands of event objects. Holding them cost the worker
about a fifth of its CPU: the objects of a 200,000-event insert fill fresh memory that the allocator hands back to
the system and faults in again for the next one, and are cold in the cache by the time they are encoded.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from sentinel_analytics import DeadLetter, StoredBatch, StoredEvent, decode_stored, group_token, landing_line
from sentinel_queue import ARCHIVED_FIELD, ENTRY_FIELD, SYNC_FIELD, stream_key
from sentinel_worker.journal import Member
from sentinel_worker.tail import BatchFigures, batch_figures


@dataclass(slots=True)
class Entry:
    """One stream entry as read (``blob`` is None when the entry lacks the batch field)."""

    partition: int
    entry_id: str
    blob: bytes | None
    deliveries: int = 1
    sync: str | None = None
    """The sync job that re-enqueued this batch (``SYNC_FIELD``), if any."""
    archived: bool = False
    """The batch came back from the archive (``ARCHIVED_FIELD``): it is not archived again."""

    @classmethod
    def of(cls, partition: int, entry_id: str, fields: Mapping[Any, Any] | None) -> Entry:
        """An entry from its stream fields (bytes keys and values, as redis-py returns them)."""
        fields = fields or {}
        sync = fields.get(SYNC_FIELD)
        return cls(
            partition,
            entry_id,
            fields.get(ENTRY_FIELD),
            sync=sync.decode(errors="replace") if isinstance(sync, bytes) and sync else None,
            archived=fields.get(ARCHIVED_FIELD) == b"1",
        )


def first_seen_ms(entry_id: str) -> int:
    """When an entry entered its stream: the millisecond part of its id."""
    head = entry_id.split("-", 1)[0]
    return int(head) if head.isdigit() else 0


def dead_letter(entry: Entry, error: str, batch: StoredBatch | None = None) -> DeadLetter:
    return DeadLetter(
        stream=stream_key(entry.partition),
        entry_id=entry.entry_id,
        first_seen=first_seen_ms(entry.entry_id),
        dead_lettered_at=int(time.time() * 1000),
        deliveries=entry.deliveries,
        error=error,
        payload=entry.blob or b"",
        project_id=batch.project_id if batch else "",
        batch_id=str(batch.batch_id) if batch else None,
    )


@dataclass(slots=True)
class Held:
    """A batch of a group, encoded."""

    partition: int
    entry: Entry
    batch: StoredBatch
    """The batch's metadata: its events are dropped once encoded (``line`` holds them)."""
    line: bytes
    """The batch's ``landing_line``: what the store inserts and the archive keeps."""
    events: int
    figures: BatchFigures | None
    """For live figures; None for a batch that is not new traffic (see ``live``) or has no events, or when the
    group takes none."""
    sample: list[StoredEvent]
    """The batch's first events kept decoded for the live tail (new traffic only; ``Group.tail_sample``)."""

    @property
    def live(self) -> bool:
        """New traffic: not re-enqueued by a sync (a replay or an import) nor read back from the archive."""
        return self.entry.sync is None and not self.entry.archived


@dataclass
class Group:
    """The entries of one insert: their batches (repeats dropped) and the ones set aside as dead letters."""

    entries: list[Entry] = field(default_factory=list)
    batches: list[Held] = field(default_factory=list)
    dead: list[tuple[Entry, DeadLetter]] = field(default_factory=list)
    events: int = 0
    duplicates: int = 0
    journaled: bool = False
    started: float = field(default_factory=time.monotonic)
    _seen: set[str] = field(default_factory=set)
    _synced: dict[str, str] = field(default_factory=dict)
    replay_token: str | None = None
    """The token a replayed group was journaled under (it keeps it whatever its entries decode to)."""
    tail_sample: int = 0
    """How many of each live batch's events stay decoded for the live tail (the most it publishes of one batch)."""
    live_figures: bool = True
    """Whether live figures are taken of each live batch."""

    @property
    def members(self) -> list[Member]:
        return [(entry.partition, entry.entry_id) for entry in self.entries]

    @property
    def token(self) -> str:
        """Digest of the group's batch ids (of its entry ids when every entry is a dead letter)."""
        if self.replay_token is not None:
            return self.replay_token
        if self._seen:
            # A batch a sync re-enqueued counts under its sync's id: the same batches stored again after a loss
            # must not carry the token of the insert that first stored them (the store would drop them).
            return group_token([f"{key}/{self._synced[key]}" if key in self._synced else key for key in self._seen])
        return group_token([f"entry:{p}:{i}" for p, i in self.members])

    def add(self, entry: Entry, default_retention_days: int) -> None:
        """Decode and add an entry; an undecodable one becomes a dead letter at once (retrying cannot help)."""
        self.entries.append(entry)
        if entry.blob is None:
            self.dead.append((entry, dead_letter(entry, "entry has no 'd' field holding a batch")))
            return
        try:
            batch = decode_stored(entry.blob, default_retention_days)
        except msgspec.DecodeError as exc:
            self.dead.append((entry, dead_letter(entry, f"not a batch: {exc}")))
            return
        key = str(batch.batch_id)
        if key in self._seen:
            self.duplicates += 1
            return
        self._seen.add(key)
        if entry.sync is not None:
            self._synced[key] = entry.sync
        held = Held(entry.partition, entry, batch, landing_line(batch), len(batch.events), None, [])
        if held.live:
            if self.live_figures:
                held.figures = batch_figures(batch)
            if self.tail_sample:
                held.sample = batch.events[: self.tail_sample]
        batch.events = []
        self.batches.append(held)
        self.events += held.events

    def encoded(self) -> tuple[list[bytes], list[tuple[int, StoredBatch, bytes]]]:
        """Each batch's ``landing_line`` (the store's insert), and the ``(partition, batch, line)`` the archive
        does not hold yet (all but those read back from it)."""
        lines = [held.line for held in self.batches]
        to_archive = [(held.partition, held.batch, held.line) for held in self.batches if not held.entry.archived]
        return lines, to_archive

    @property
    def live(self) -> list[Held]:
        """The batches that are new traffic."""
        return [held for held in self.batches if held.live]

    def empty(self, **fields: Any) -> Group:
        """A new group that takes the same live sample and figures as this one."""
        return Group(tail_sample=self.tail_sample, live_figures=self.live_figures, **fields)

    def without(self, lost: list[Member], default_retention_days: int) -> Group:
        """The same group minus entries another consumer took over (a new token follows from the new set)."""
        gone = set(lost)
        rest = self.empty(journaled=self.journaled, started=self.started)
        for entry in self.entries:
            if (entry.partition, entry.entry_id) in gone:
                continue
            if any(dead is entry for dead, _ in self.dead):
                rest.entries.append(entry)
                rest.dead += [(dead, letter) for dead, letter in self.dead if dead is entry]
            else:
                rest.add(entry, default_retention_days)
        return rest

    def add_dead(self, entry: Entry, error: str) -> None:
        self.entries.append(entry)
        self.dead.append((entry, dead_letter(entry, error)))

    def reject(self, error: str) -> None:
        """The store refused the one batch of this group: its entry becomes a dead letter instead."""
        [held] = self.batches
        self.batches.clear()
        self.events = 0
        self.dead.append((held.entry, dead_letter(held.entry, error, held.batch)))

    def __len__(self) -> int:
        return len(self.entries)
