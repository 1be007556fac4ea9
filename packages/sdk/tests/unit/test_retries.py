"""Retry policy pieces: Retry-After parsing, backoff bounds, which answers are retried; the flush interval's jitter
and the rate limit of the SDK's warnings."""

from __future__ import annotations

import email.utils
import logging
import time

import pytest

from sentinel_sdk import Client, _log
from sentinel_sdk._sender import backoff_delay, is_retryable, retry_delay
from sentinel_sdk._transport import parse_retry_after

pytestmark = pytest.mark.unit


class TestRetryAfter:
    def test_delta_seconds(self) -> None:
        assert parse_retry_after("7") == 7.0

    def test_an_http_date_becomes_the_seconds_until_it(self) -> None:
        in_ten_seconds = email.utils.formatdate(time.time() + 10, usegmt=True)
        seconds = parse_retry_after(in_ten_seconds)
        assert seconds is not None
        assert 8 <= seconds <= 10

    def test_a_date_in_the_past_means_now(self) -> None:
        assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0

    @pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5"])
    def test_missing_or_invalid_values_are_ignored(self, value: str | None) -> None:
        assert parse_retry_after(value) is None


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    for attempt, ceiling in ((0, 0.5), (1, 1.0), (3, 4.0), (10, 30.0)):
        delays = [backoff_delay(attempt) for _ in range(200)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(set(delays)) > 1


def test_retry_after_is_a_floor_spread_over_half_as_much_again() -> None:
    delays = [retry_delay(0, 2.0) for _ in range(200)]
    assert all(2.0 <= delay <= 3.0 for delay in delays)
    assert max(delays) - min(delays) > 0.3  # a fleet told "1 s" at once does not come back in step


def test_a_short_retry_after_does_not_undercut_the_backoff_of_later_attempts() -> None:
    assert all(retry_delay(5, 1.0) >= 8.0 for _ in range(200))
    assert all(0.25 <= retry_delay(0, None) <= 0.5 for _ in range(200))


@pytest.mark.parametrize(
    ("status", "retried"),
    [(408, True), (429, True), (500, True), (503, True), (400, False), (401, False), (413, False), (422, False)],
)
def test_timeouts_rate_limits_and_server_errors_are_retried(status: int, retried: bool) -> None:
    assert is_retryable(status) is retried


def test_the_flush_interval_is_jittered_within_a_fifth() -> None:
    client = Client(api_key="k", endpoint="http://127.0.0.1:9", flush_interval=2.0)
    try:
        intervals = [client._sender._interval() for _ in range(200)]
    finally:
        client.shutdown(timeout=0)
    assert all(1.6 <= interval <= 2.4 for interval in intervals)
    assert max(intervals) - min(intervals) > 0.2  # spread, so that a fleet of processes does not send in step


def test_warnings_are_rate_limited_per_key_and_count_what_they_held_back(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    _log.reset()
    monkeypatch.setattr(_log, "_INTERVAL_S", 0.2)
    with caplog.at_level(logging.WARNING, logger="sentinel_sdk"):
        for _ in range(5):
            _log.warn("endpoint", "sentinel_sdk: the endpoint is down")
        _log.warn("identify", "sentinel_sdk: identify failed")
        time.sleep(0.25)
        _log.warn("endpoint", "sentinel_sdk: the endpoint is down")
    _log.reset()
    assert [record.getMessage() for record in caplog.records] == [
        "sentinel_sdk: the endpoint is down",
        "sentinel_sdk: identify failed",
        "sentinel_sdk: the endpoint is down (4 similar warnings suppressed)",
    ]
