"""The bounded buffer between the request path and the sender, and the loss ledger.

The request path hands a capture over in one of two ways, chosen by the sender (see ``Sender.run``):

- ``put``, a checked append: when the buffer is full the capture is dropped and counted, and each full batch
  wakes the sender. Used while the app is quiet, and whenever the sender may block in a call it cannot
  interrupt (connecting, sending, waiting to retry).
- ``append``, the list's own C-level append, with no check at all. Used while the app is busy: the sender then
  wakes on its own before a batch can be due or the buffer full, and trims whatever arrived beyond the capacity
  (counted as dropped, exactly as ``put`` would have).

Only the sender removes captures, always from the front, each time with a copy and a delete of the same index
range: appends only ever land at the end, so none is lost or taken twice. Counters that request threads
increment only ever grow, and the sender reports their growth since the last batch, so reporting never races
with an increment.
"""

from __future__ import annotations

import statistics
import threading

from sentinel_sdk._capture import Capture
from sentinel_types import CaptureOverhead, LossCounters


class Buffer:
    """A FIFO of captures with a fixed capacity, enforced by ``put`` or, after ``append``, by ``trim``."""

    def __init__(self, capacity: int, batch_size: int) -> None:
        self.capacity = capacity
        self.batch_size = batch_size
        self._quiet_below = max(0, min(capacity, batch_size - 1))
        """Below this length, a ``put`` can neither fill the buffer nor complete a batch."""
        self.reset()

    def reset(self) -> None:
        """Empty the buffer and zero its counter (in a forked child, where another thread may have held the lock)."""
        self._lock = threading.Lock()
        self._items: list[Capture] = []
        self.append = self._items.append
        """Append without any check (the sender trims): the hand-off while the sender polls."""
        self.ready = threading.Event()
        """Set when a full batch is waiting after a ``put`` (the sender also wakes on its timer)."""
        self.queue_full = 0
        """Captures dropped because the buffer was full, since start (only grows)."""

    def put(self, capture: Capture) -> None:
        """Append a capture, or drop and count it when the buffer is full. Called on the request path."""
        items = self._items
        if len(items) < self._quiet_below:  # the common case in as few steps as possible
            items.append(capture)
        else:
            self._put_near_a_limit(items, capture)

    def _put_near_a_limit(self, items: list[Capture], capture: Capture) -> None:
        if len(items) >= self.capacity:
            self._count_full(1)
            return
        items.append(capture)
        if not len(items) % self.batch_size:  # a full batch (or one more) is waiting
            self.ready.set()

    def _count_full(self, count: int) -> None:
        with self._lock:  # request threads and the sender both count
            self.queue_full += count

    def take(self, count: int) -> list[Capture]:
        """Remove and return up to ``count`` captures, oldest first (sender only)."""
        items = self._items
        taken = items[:count]
        del items[: len(taken)]  # the same range: appends since the copy are all beyond it
        return taken

    def trim(self) -> int:
        """Drop and count what lies beyond the capacity, newest first as ``put`` would (sender only)."""
        items = self._items
        capacity = self.capacity
        extra = len(items[capacity:])
        if extra:
            del items[capacity : capacity + extra]
            self._count_full(extra)
        return extra

    def __len__(self) -> int:
        return len(self._items)


class LossLedger:
    """Counts events lost by reason, and hands the counts since the previous batch to the next one."""

    def __init__(self) -> None:
        self.sampled_out = 0
        """Requests not captured because of the sample rate, since start (only grows; request threads)."""
        self._lock = threading.Lock()
        self._pending = LossCounters()
        self._reported_sampled_out = 0
        self._reported_queue_full = 0
        self.sender_lost = 0
        """Events the sender could not deliver (oversize, send_failed, shutdown), since start (only grows)."""

    def add(self, *, oversize: int = 0, send_failed: int = 0, shutdown: int = 0) -> None:
        """Count losses noticed by the sender."""
        with self._lock:
            self.sender_lost += oversize + send_failed + shutdown
            self._pending.oversize += oversize
            self._pending.send_failed += send_failed
            self._pending.shutdown += shutdown

    def take(self, buffer: Buffer) -> LossCounters:
        """Every loss since the previous call, for the ``dropped`` field of the next batch."""
        with self._lock:
            sampled_out, queue_full = self.sampled_out, buffer.queue_full
            counters = self._pending
            counters.sampled_out += sampled_out - self._reported_sampled_out
            counters.queue_full += queue_full - self._reported_queue_full
            self._reported_sampled_out, self._reported_queue_full = sampled_out, queue_full
            self._pending = LossCounters()
        return counters

    def give_back(self, counters: LossCounters) -> None:
        """Return counts that did not reach the server (their batch failed) so the next batch carries them."""
        with self._lock:
            for name in LossCounters.__struct_fields__:
                setattr(self._pending, name, getattr(self._pending, name) + getattr(counters, name))

    def peek(self, buffer: Buffer) -> LossCounters:
        """Losses not yet reported, without taking them."""
        with self._lock:
            counters = LossCounters(**{name: getattr(self._pending, name) for name in LossCounters.__struct_fields__})
            counters.sampled_out += self.sampled_out - self._reported_sampled_out
            counters.queue_full += buffer.queue_full - self._reported_queue_full
        return counters


class OverheadStats:
    """Summarises the SDK's own per-request cost measured on a sample of requests."""

    MAX_SAMPLES = 4_096

    def __init__(self) -> None:
        self._samples: list[int] = []

    def add(self, nanoseconds: int) -> None:
        """Record one measured request (sender thread)."""
        if len(self._samples) < self.MAX_SAMPLES:
            self._samples.append(nanoseconds)

    def take(self) -> CaptureOverhead | None:
        """The summary since the previous call, or None when nothing was measured."""
        samples, self._samples = self._samples, []
        if not samples:
            return None
        samples.sort()
        micros = [value / 1_000 for value in samples]
        return CaptureOverhead(
            samples=len(micros),
            mean_us=round(statistics.fmean(micros), 3),
            p50_us=round(micros[len(micros) // 2], 3),
            p99_us=round(micros[min(len(micros) - 1, (len(micros) * 99) // 100)], 3),
        )
