"""The bounded buffer between the request path and the sender, and the loss ledger.

``put`` never blocks: when the buffer is full the capture is dropped and counted. Counters that request threads
increment only ever grow, and the sender reports their growth since the last batch, so reporting never races
with an increment.
"""

from __future__ import annotations

import statistics
import threading
from collections import deque

from sentinel_sdk._capture import Capture
from sentinel_types import CaptureOverhead, LossCounters


class Buffer:
    """A FIFO of captures with a fixed capacity; wakes the sender when a full batch is waiting."""

    def __init__(self, capacity: int, batch_size: int) -> None:
        self.capacity = capacity
        self.batch_size = batch_size
        self._quiet_below = max(0, min(capacity, batch_size - 1))
        """Below this length, an append can neither fill the buffer nor complete a batch."""
        self.reset()

    def reset(self) -> None:
        """Empty the buffer and zero its counter (in a forked child)."""
        self._items: deque[Capture] = deque()
        self.ready = threading.Event()
        """Set when a full batch is waiting (the sender also wakes on its timer)."""
        self.queue_full = 0
        """Captures dropped because the buffer was full, since start (only grows)."""

    def put(self, capture: Capture) -> None:
        """Append a capture, or drop and count it when the buffer is full. Called on the request path."""
        items = self._items
        if len(items) < self._quiet_below:  # the common case in as few steps as possible
            items.append(capture)
        else:
            self._put_near_a_limit(items, capture)

    def _put_near_a_limit(self, items: deque[Capture], capture: Capture) -> None:
        if len(items) >= self.capacity:
            self.queue_full += 1
            return
        items.append(capture)
        if not len(items) % self.batch_size:  # a full batch (or one more) is waiting
            self.ready.set()

    def take(self, count: int) -> list[Capture]:
        """Remove and return up to ``count`` captures, oldest first."""
        items = self._items
        popleft = items.popleft
        # Only the sender takes, so the length can only grow between this check and the pops.
        return [popleft() for _ in range(min(count, len(items)))]

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
