"""The live tail's rate limit per project."""

from __future__ import annotations

from sentinel_worker.tail import TailPublisher


def test_the_bucket_holds_one_second_of_events() -> None:
    tail = TailPublisher(None, 20.0)
    assert tail._allowance("p", 0.0) == 20
    tail._spend("p", 20)
    assert tail._allowance("p", 0.5) == 10
    assert tail._allowance("q", 0.5) == 20  # per project


def test_a_rate_below_one_event_a_second_still_publishes() -> None:
    tail = TailPublisher(None, 0.5)
    assert tail._allowance("p", 0.0) == 1
    tail._spend("p", 1)
    assert tail._allowance("p", 1.0) == 0
    assert tail._allowance("p", 2.1) == 1  # one event every two seconds
