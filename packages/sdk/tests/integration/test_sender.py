"""The sender against a real local HTTP server: batching, retries, loss accounting, shutdown, fork, dead endpoints."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from sentinel_sdk import Client, _log
from sentinel_sdk._capture import Capture
from sentinel_sdk.wsgi import SentinelMiddleware
from sentinel_types import limits

pytestmark = pytest.mark.integration


def hello(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def request(client: Client, path: str = "/", body: bytes = b"", content_type: str = "text/plain") -> None:
    """Send one request through the WSGI middleware, as a server would."""
    environ = {
        "REQUEST_METHOD": "POST" if body else "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "REMOTE_ADDR": "198.51.100.9",
        "CONTENT_LENGTH": str(len(body)) if body else "",
        "CONTENT_TYPE": content_type,
        "wsgi.input": io.BytesIO(body),
    }

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        environ["wsgi.input"].read()
        return hello(environ, start_response)

    result = SentinelMiddleware(app, client=client)(environ, lambda status, headers, exc_info=None: None)
    for _ in result:
        pass
    close = getattr(result, "close", None)
    if close is not None:
        close()


class TestDelivery:
    def test_batches_go_to_the_batch_endpoint_with_the_key(
        self, ingest: Any, make_client: Callable[..., Client]
    ) -> None:
        client = make_client(endpoint=f"{ingest.url}/base/")
        request(client, "/a")
        assert client.flush()
        (received,) = ingest.received
        assert received.path == "/base/v1/events/batch"
        assert received.headers["Authorization"] == "Bearer test-key"
        assert received.headers["Content-Type"] == "application/msgpack"
        assert received.headers["Content-Encoding"] == "gzip"
        assert received.headers["User-Agent"].startswith("sentinel-python/")
        assert received.batch.sdk.name == "sentinel-python"

    def test_json_without_compression_can_be_chosen(self, ingest: Any, make_client: Callable[..., Client]) -> None:
        client = make_client(wire_format="json", compress=False, service="billing", environment="staging")
        request(client, "/a")
        assert client.flush()
        (received,) = ingest.received
        assert received.headers["Content-Type"] == "application/json"
        assert "Content-Encoding" not in received.headers
        assert (received.batch.service, received.batch.environment) == ("billing", "staging")

    def test_a_kept_alive_connection_closed_by_the_server_is_reopened_at_once(
        self, ingest: Any, make_client: Callable[..., Client], caplog: pytest.LogCaptureFixture
    ) -> None:
        _log.reset()
        ingest.drop_kept_alive = True
        client = make_client()
        with caplog.at_level(logging.WARNING, logger="sentinel_sdk"):
            for path in ("/first", "/second", "/third"):
                request(client, path)
                assert client.flush()
        assert [event.path for event in ingest.events()] == ["/first", "/second", "/third"]
        assert caplog.records == []  # no failed attempt, so no retry and no warning
        assert client.pending_losses().total() == 0

    def test_events_are_sent_on_the_interval_without_a_flush(
        self, ingest: Any, make_client: Callable[..., Client]
    ) -> None:
        client = make_client(flush_interval=0.1)
        request(client, "/a")
        assert [event.path for event in ingest.wait_for_events(1, timeout=5)] == ["/a"]

    def test_a_full_batch_is_sent_without_waiting_for_the_interval(
        self, ingest: Any, make_client: Callable[..., Client]
    ) -> None:
        client = make_client(batch_size=10)
        for index in range(10):
            request(client, f"/{index}")
        assert len(ingest.wait_for_events(10, timeout=5)) == 10

    def test_a_busy_app_gets_full_batches_between_timer_flushes(
        self, ingest: Any, make_client: Callable[..., Client]
    ) -> None:
        # Each answer takes 20 ms while the app keeps capturing: a timer flush sends what was buffered when it
        # fired, and afterwards only full batches, instead of chasing the app with a small batch per answer.
        for _ in range(200):
            ingest.answer_next(202, delay=0.02)
        client = make_client(batch_size=200, flush_interval=0.3)
        started = time.monotonic()
        count = 0
        while time.monotonic() - started < 1.5:
            request(client, f"/{count}")
            count += 1
            time.sleep(0.0005)
        elapsed = time.monotonic() - started
        assert client.flush(timeout=10)
        sizes = [len(received.batch.events) for received in ingest.received]
        assert sum(sizes) == count
        part_filled = [size for size in sizes if size < 200]
        timer_flushes = int(elapsed / (0.3 * 0.8)) + 1  # the interval is jittered by up to 20 % either way
        assert len(part_filled) <= timer_flushes + 1, sizes  # and the final flush

    def test_large_batches_are_split_under_the_size_target(
        self, ingest: Any, make_client: Callable[..., Client]
    ) -> None:
        client = make_client(capture_bodies=True, max_body_size=16_000)
        for index in range(48):
            request(client, f"/upload/{index}", body=os.urandom(8_000).hex().encode())
        assert client.flush(timeout=10)
        assert len(ingest.events()) == 48
        assert len(ingest.received) > 1
        assert all(len(received.body) <= limits.TARGET_BATCH_BYTES for received in ingest.received)


class TestRetries:
    def test_retry_after_is_honoured_on_429(self, ingest: Any, make_client: Callable[..., Client]) -> None:
        ingest.answer_next(429, {"Retry-After": "1"})
        client = make_client()
        request(client, "/a")
        assert client.flush(timeout=10)
        first, second = ingest.received
        assert (first.status, second.status) == (429, 202)
        assert second.at - first.at >= 0.9
        assert first.batch.batch_id == second.batch.batch_id

    def test_a_503_then_success_keeps_the_batch_id(self, ingest: Any, make_client: Callable[..., Client]) -> None:
        ingest.answer_next(503)
        client = make_client()
        request(client, "/a")
        request(client, "/b")
        assert client.flush(timeout=10)
        first, second = ingest.received
        assert first.batch.batch_id == second.batch.batch_id
        assert [e.event_id for e in first.batch.events] == [e.event_id for e in second.batch.events]
        assert second.batch.sent_at >= first.batch.sent_at

    def test_a_rejected_batch_is_not_retried_and_is_counted(
        self, ingest: Any, make_client: Callable[..., Client]
    ) -> None:
        ingest.answer_next(400)
        client = make_client()
        for _ in range(3):
            request(client, "/rejected")
        assert client.flush(timeout=5)
        assert len(ingest.received) == 1
        request(client, "/next")
        assert client.flush(timeout=5)
        assert ingest.accepted()[-1].dropped.send_failed == 3

    def test_an_exhausted_retry_budget_is_counted(self, ingest: Any, make_client: Callable[..., Client]) -> None:
        ingest.answer_next(503)
        ingest.answer_next(502)
        client = make_client(max_retries=1)
        request(client, "/lost")
        assert client.flush(timeout=10)
        request(client, "/next")
        assert client.flush(timeout=5)
        (batch,) = ingest.accepted()
        assert [event.path for event in batch.events] == ["/next"]
        assert batch.dropped.send_failed == 1

    def test_a_refused_connection_is_retried_until_the_server_answers(
        self, closed_port: int, start_ingest: Callable[[int], Any], make_client: Callable[..., Client]
    ) -> None:
        client = make_client(endpoint=f"http://127.0.0.1:{closed_port}")
        request(client, "/early")
        assert not client.flush(timeout=0.5)  # refused: the batch waits for its next attempt
        late = start_ingest(closed_port)
        assert client.flush(timeout=15)
        (batch,) = late.accepted()
        assert [event.path for event in batch.events] == ["/early"]
        assert batch.dropped.send_failed == 0


class TestLoss:
    def test_buffer_overflow_is_counted_in_the_next_batch(
        self, ingest: Any, make_client: Callable[..., Client]
    ) -> None:
        client = make_client(buffer_size=5)
        for index in range(12):
            request(client, f"/{index}")
        assert client.flush()
        (batch,) = ingest.accepted()
        assert [event.path for event in batch.events] == ["/0", "/1", "/2", "/3", "/4"]
        assert batch.dropped.queue_full == 7

    def test_shutdown_sends_what_is_buffered_and_stops_capturing(
        self, ingest: Any, make_client: Callable[..., Client]
    ) -> None:
        client = make_client()
        for index in range(3):
            request(client, f"/{index}")
        assert client.shutdown(timeout=5)
        assert len(ingest.events()) == 3
        assert not client.active
        request(client, "/after")
        assert client.flush(timeout=0.5)
        assert len(ingest.events()) == 3

    def test_what_is_left_at_the_shutdown_deadline_is_counted(
        self, black_hole: str, make_client: Callable[..., Client]
    ) -> None:
        client = make_client(endpoint=black_hole)
        for index in range(4):
            request(client, f"/{index}")
        started = time.monotonic()
        assert not client.shutdown(timeout=0.5)
        assert time.monotonic() - started < 5
        deadline = time.monotonic() + 5
        while client.pending_losses().shutdown < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.pending_losses().shutdown == 4

    def test_a_batch_cut_short_by_the_deadline_is_counted_and_logged(
        self,
        black_hole: str,
        make_client: Callable[..., Client],
        caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        from sentinel_sdk import _log

        monkeypatch.setattr(_log, "_last", {})  # an earlier test's warning must not rate-limit this one
        # the send times out at 0.3 s and no retry fits before the deadline: the sender ends in time, the batch is lost
        client = make_client(endpoint=black_hole, timeout=0.3)
        request(client, "/late")
        with caplog.at_level(logging.WARNING, logger="sentinel_sdk"):
            assert not client.shutdown(timeout=1.0)
            deadline = time.monotonic() + 5
            while client.pending_losses().shutdown < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
        assert client.pending_losses().shutdown == 1
        assert client.pending_losses().send_failed == 0
        messages = [record.getMessage() for record in caplog.records]
        assert any("1 events not sent before the shutdown deadline" in m for m in messages), messages

    def test_shutdown_says_so_when_its_final_flush_is_refused(
        self, ingest: Any, make_client: Callable[..., Client]
    ) -> None:
        # the buffer empties, but the batch was refused (a 400 is not retried): not everything was sent
        ingest.answer_next(400)
        client = make_client()
        request(client, "/refused")
        assert not client.shutdown(timeout=5)
        assert client.pending_losses().send_failed == 1
        # and one whose batch arrives is a clean shutdown
        other = make_client()
        request(other, "/sent")
        assert other.shutdown(timeout=5)


def captured(path: str) -> Capture:
    """A finished GET of ``path``, as middleware hands it to ``client.capture``."""
    return Capture(time.perf_counter_ns(), "GET", path, b"", None, status=200)


def busy_app(client: Client, count: int, block: int, pause: float) -> tuple[bool, int]:
    """Capture ``count`` requests straight through ``client.capture``, ``block`` at a time with ``pause`` seconds
    between blocks. Returns whether the unchecked hand-off was seen, and the longest buffer seen."""
    unchecked, longest = False, 0
    for first in range(0, count, block):
        for index in range(first, min(count, first + block)):
            client.capture(captured(f"/{index}"))
        unchecked = unchecked or client.capture == client._buffer.append
        longest = max(longest, len(client._buffer))
        time.sleep(pause)
    return unchecked, longest


class TestHandOff:
    def test_a_busy_app_appends_unchecked_and_every_event_arrives(
        self, ingest: Any, make_client: Callable[..., Client]
    ) -> None:
        client = make_client()
        client.capture(captured("/first"))
        unchecked, _ = busy_app(client, 20_000, block=100, pause=0.005)  # ~20,000 a second
        assert unchecked, "a busy app should hand captures over with the list's own append"
        assert client.flush(timeout=10)
        paths = [event.path for event in ingest.events()]
        assert len(paths) == len(set(paths)) == 20_001
        assert ingest.dropped().total() == 0
        deadline = time.monotonic() + 5  # quiet again: back to the checked put
        while client.capture != client._buffer.put and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.capture == client._buffer.put

    def test_a_slow_answer_cannot_make_a_busy_app_overfill_the_buffer(
        self, ingest: Any, make_client: Callable[..., Client]
    ) -> None:
        for _ in range(5):
            ingest.answer_next(202)
        ingest.answer_next(202, delay=0.5)  # the sender is polling when this batch goes out
        client = make_client(buffer_size=3_000)
        client.capture(captured("/first"))
        unchecked, longest = busy_app(client, 30_000, block=100, pause=0.005)  # ~20,000 a second
        assert unchecked
        assert client.flush(timeout=30)
        received = len(ingest.events())
        dropped = ingest.dropped().queue_full + client.pending_losses().queue_full
        assert dropped > 0, "the buffer should have filled while the slow batch waited for its answer"
        assert received + dropped == 30_001, "every capture is sent or counted as dropped"
        assert longest <= 3_000 + 1  # one capture may be in flight from the one thread that captures


class TestDeadEndpoints:
    @pytest.mark.parametrize("kind", ["refused", "black hole"])
    def test_a_dead_endpoint_does_not_slow_the_app(
        self, kind: str, closed_port: int, black_hole: str, make_client: Callable[..., Client]
    ) -> None:
        endpoint = f"http://127.0.0.1:{closed_port}" if kind == "refused" else black_hole
        client = make_client(endpoint=endpoint, timeout=0.5, batch_size=50, flush_interval=0.05)
        slowest = 0.0
        started = time.monotonic()
        for index in range(2_000):
            before = time.monotonic()
            request(client, f"/{index}")
            slowest = max(slowest, time.monotonic() - before)
        assert time.monotonic() - started < 20  # generous: about 0.1 s on a laptop
        assert slowest < 0.5  # no request ever waits for the network
        started = time.monotonic()
        assert not client.flush(timeout=0.3)
        assert time.monotonic() - started < 3


def test_a_forked_child_sends_its_own_events_and_the_parent_is_unaffected(
    ingest: Any, make_client: Callable[..., Client]
) -> None:
    client = make_client()
    request(client, "/parent-before-fork")  # buffered in the parent: only the parent may send it
    pid = os.fork()
    if pid == 0:  # the child: exit without running the test session's teardown
        code = 1
        try:
            request(client, "/child")
            code = 0 if client.flush(timeout=10) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    request(client, "/parent-after-fork")
    assert client.flush(timeout=10)
    paths = sorted(event.path for event in ingest.events())
    assert paths == ["/child", "/parent-after-fork", "/parent-before-fork"]
    child_batch = next(batch for batch in ingest.accepted() if batch.events[0].path == "/child")
    assert len(child_batch.events) == 1


def test_a_child_forked_while_its_parent_appends_unchecked_starts_checked_and_empty(
    ingest: Any, make_client: Callable[..., Client]
) -> None:
    client = make_client()
    client.capture(captured("/first"))
    unchecked, _ = busy_app(client, 10_000, block=100, pause=0.005)
    assert unchecked
    extra = 0  # keep the app busy until the unchecked hand-off is in place (a send switches it back for a moment)
    while client.capture != client._buffer.append and extra < 10_000:
        client.capture(captured(f"/extra/{extra}"))
        extra += 1
        time.sleep(0.0001)
    pid = os.fork()
    if pid == 0:  # the child: exit without running the test session's teardown
        code = 1
        try:
            fresh = client.capture == client._first_capture and len(client._buffer) == 0
            client.capture(captured("/child"))
            code = 0 if fresh and client.flush(timeout=10) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert client.flush(timeout=10)
    paths = [event.path for event in ingest.events()]
    assert len(paths) == len(set(paths)) == 10_002 + extra  # the parent's 10,001 (+ extra) and the child's one
    assert "/child" in paths


def exit_after_one_request(endpoint: str, **options: Any) -> subprocess.CompletedProcess[str]:
    """Run a fresh interpreter that captures one request to ``/at-exit`` and exits normally."""
    code = f"""
        from sentinel_sdk import Client
        from sentinel_sdk.wsgi import SentinelMiddleware
        client = Client(api_key="k", endpoint="{endpoint}", **{options!r})
        app = SentinelMiddleware(lambda environ, start: [start("200 OK", []) and b""], client=client)
        for chunk in app({{"REQUEST_METHOD": "GET", "PATH_INFO": "/at-exit"}}, lambda *args: None):
            pass
        """
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=30, check=False
    )


def test_buffered_events_are_sent_when_the_process_exits(ingest: Any) -> None:
    result = exit_after_one_request(ingest.url, flush_interval=60)
    assert result.returncode == 0, result.stderr
    assert [event.path for event in ingest.wait_for_events(1, timeout=5)] == ["/at-exit"]


def test_exit_is_not_held_up_past_the_shutdown_deadline(black_hole: str) -> None:
    started = time.monotonic()
    result = exit_after_one_request(black_hole, shutdown_timeout=0.5)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 10  # the interpreter's own start-up included
    assert "not sent before the shutdown deadline" in result.stderr or "did not finish" in result.stderr
