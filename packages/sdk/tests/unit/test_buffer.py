"""The bounded buffer, the loss ledger and the overhead summary."""

from __future__ import annotations

import time

import pytest

from sentinel_sdk import Client
from sentinel_sdk._buffer import Buffer, LossLedger, OverheadStats
from sentinel_sdk._capture import Capture

pytestmark = pytest.mark.unit


def capture() -> Capture:
    return Capture(time.perf_counter_ns(), "GET", "/", b"", None)


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
        assert client.capture == client._buffer.put  # from now on, straight into the buffer
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
