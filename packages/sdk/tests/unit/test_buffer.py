"""The bounded buffer, the loss ledger and the overhead summary."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sentinel_sdk import Client
from sentinel_sdk._buffer import Buffer, LossLedger, OverheadStats
from sentinel_sdk._capture import Capture

pytestmark = pytest.mark.unit


def capture() -> Capture:
    return Capture(time.perf_counter_ns(), "GET", "/", b"", None)


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Switch threads as often as the interpreter allows, to make interleavings likely."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


class ArrivesMidCopy(list):  # type: ignore[type-arg]
    """A list that receives the next of ``arrivals`` right after each slice copy: a request landing mid-take."""

    def __init__(self, items: list[int], arrivals: list[int]) -> None:
        super().__init__(items)
        self._arrivals = iter(arrivals)

    def __getitem__(self, index: Any) -> Any:
        copied = super().__getitem__(index)
        if isinstance(index, slice):
            arrival = next(self._arrivals, None)
            if arrival is not None:
                self.append(arrival)
        return copied


class TestBuffer:
    def test_a_full_buffer_drops_and_counts(self) -> None:
        buffer = Buffer(capacity=3, batch_size=10)
        for _ in range(5):
            buffer.put(capture())
        assert (len(buffer), buffer.queue_full) == (3, 2)

    def test_the_first_capture_starts_the_sender_once(self) -> None:
        client = Client(api_key="k", endpoint="http://127.0.0.1:9")
        assert client._thread is None
        client.capture(capture())
        thread = client._thread
        assert thread is not None
        assert thread.is_alive()
        assert client.capture == client._buffer.put  # from now on, straight into the buffer (until busy)
        client.capture(capture())
        assert client._thread is thread
        client.shutdown(timeout=0)

    @pytest.mark.parametrize("batch_size", [1, 3])
    def test_each_full_batch_wakes_the_sender(self, batch_size: int) -> None:
        buffer = Buffer(capacity=10, batch_size=batch_size)
        for count in range(1, 3 * batch_size + 1):
            buffer.ready.clear()
            buffer.put(capture())
            assert buffer.ready.is_set() == (count % batch_size == 0), count

    def test_take_is_first_in_first_out_and_bounded(self) -> None:
        buffer = Buffer(capacity=10, batch_size=10)
        captures = [capture() for _ in range(4)]
        for cap in captures:
            buffer.put(cap)
        assert buffer.take(3) == captures[:3]
        assert buffer.take(3) == captures[3:]

    def test_append_is_unchecked_and_trim_drops_the_newest_beyond_the_capacity(self) -> None:
        buffer = Buffer(capacity=3, batch_size=10)
        captures = [capture() for _ in range(5)]
        for cap in captures:
            buffer.append(cap)
        assert (len(buffer), buffer.queue_full, buffer.ready.is_set()) == (5, 0, False)
        assert buffer.trim() == 2
        assert (len(buffer), buffer.queue_full) == (3, 2)
        assert buffer.trim() == 0
        assert buffer.take(10) == captures[:3]

    def test_an_append_between_the_copy_and_the_delete_is_kept(self) -> None:
        buffer = Buffer(capacity=3, batch_size=10)
        buffer._items = ArrivesMidCopy([0, 1, 2, 3, 4], arrivals=[5, 6])
        assert buffer.trim() == 2  # 3 and 4; 5 arrived after the copy and stays
        assert buffer.take(10) == [0, 1, 2, 5]  # type: ignore[comparison-overlap]
        assert list(buffer._items) == [6]  # 6 arrived during the take
        assert buffer.queue_full == 2

    def test_take_and_trim_lose_nothing_to_concurrent_appends(self, fast_switching: None) -> None:
        per_thread, threads = 20_000, 4
        for _ in range(5):
            buffer = Buffer(capacity=500, batch_size=64)

            def produce(offset: int, buffer: Buffer = buffer) -> None:
                for index in range(offset, offset + per_thread):  # both hand-offs, as the sender switches
                    (buffer.append if index % 2 else buffer.put)(index)  # type: ignore[arg-type]

            producers = [threading.Thread(target=produce, args=(n * per_thread,)) for n in range(threads)]
            for thread in producers:
                thread.start()
            taken: list[int] = []
            while any(thread.is_alive() for thread in producers):
                taken.extend(buffer.take(64))  # type: ignore[arg-type]
                buffer.trim()
            buffer.trim()
            taken.extend(buffer.take(len(buffer)))  # type: ignore[arg-type]
            assert len(taken) == len(set(taken)), "a capture was taken twice"
            assert len(taken) + buffer.queue_full == per_thread * threads, "a capture was neither taken nor counted"

    def test_reset_empties_and_zeroes(self) -> None:
        buffer = Buffer(capacity=1, batch_size=10)
        buffer.put(capture())
        buffer.put(capture())
        buffer.reset()
        buffer.put(capture())
        assert (len(buffer), buffer.queue_full) == (1, 0)


class TestLossLedger:
    def test_each_loss_is_reported_once(self) -> None:
        buffer = Buffer(capacity=0, batch_size=1)
        ledger = LossLedger()
        buffer.put(capture())
        ledger.sampled_out += 2
        ledger.add(send_failed=3)
        first = ledger.take(buffer)
        assert (first.queue_full, first.sampled_out, first.send_failed) == (1, 2, 3)
        assert ledger.take(buffer).total() == 0

    def test_counts_of_a_failed_batch_travel_with_the_next_one(self) -> None:
        buffer = Buffer(capacity=10, batch_size=1)
        ledger = LossLedger()
        ledger.add(oversize=1)
        ledger.give_back(ledger.take(buffer))
        ledger.add(shutdown=2)
        counters = ledger.take(buffer)
        assert (counters.oversize, counters.shutdown) == (1, 2)

    def test_peek_does_not_take(self) -> None:
        buffer = Buffer(capacity=10, batch_size=1)
        ledger = LossLedger()
        ledger.sampled_out += 1
        assert ledger.peek(buffer).sampled_out == 1
        assert ledger.take(buffer).sampled_out == 1


def test_overhead_summary_reports_percentiles_in_microseconds() -> None:
    stats = OverheadStats()
    assert stats.take() is None
    for nanoseconds in range(1_000, 101_000, 1_000):
        stats.add(nanoseconds)
    summary = stats.take()
    assert summary is not None
    assert (summary.samples, summary.p50_us, summary.p99_us) == (100, 51.0, 100.0)
    assert summary.mean_us == pytest.approx(50.5)
    assert stats.take() is None
