"""Retry policy pieces: Retry-After parsing, backoff bounds, which answers are retried."""

from __future__ import annotations

import email.utils
import time

import pytest

from sentinel_sdk._sender import backoff_delay, is_retryable
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


@pytest.mark.parametrize(
    ("status", "retried"),
    [(408, True), (429, True), (500, True), (503, True), (400, False), (401, False), (413, False), (422, False)],
)
def test_timeouts_rate_limits_and_server_errors_are_retried(status: int, retried: bool) -> None:
    assert is_retryable(status) is retried
