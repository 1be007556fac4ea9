"""The background sender: takes captures from the buffer, builds and encodes batches, delivers them with retries.

Runs on one daemon thread per client (see ``_client.py``). One request is in flight at a time. A batch keeps its
``batch_id`` across retries, so the ingest API can de-duplicate a batch whose first attempt did arrive.
"""

from __future__ import annotations

import http.client
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import cast

import msgspec

from sentinel_sdk import _log
from sentinel_sdk._buffer import Buffer, LossLedger, OverheadStats
from sentinel_sdk._capture import Capture
from sentinel_sdk._events import EventBuilder, EventIds, WireEvent
from sentinel_sdk._options import Options
from sentinel_sdk._transport import Reply, Transport
from sentinel_sdk._version import SDK_NAME, __version__
from sentinel_types import (
    CaptureOverhead,
    ErrorResponse,
    Event,
    EventBatch,
    IngestResponse,
    LossCounters,
    SdkInfo,
    decode,
    encode,
    limits,
)

_BACKOFF_BASE_S = 0.5
_BACKOFF_CAP_S = 30.0

_POLL_ABOVE = 2_000.0
"""Captures per second above which the sender polls the buffer (and the request path appends unchecked)..."""
_POLL_BELOW = 1_000.0
"""...until the rate falls below this. Between the two, polling costs the app less than being woken."""
_POLL_MAX_S = 0.1
"""The longest a polling sender sleeps."""
_POLL_MIN_S = 0.002
"""The shortest a polling sender sleeps."""
_POLL_HEADROOM = 4.0
"""A polling sender wakes before the buffer could fill at this many times the observed rate."""
_NEVER = 3_600.0
"""What ``tend`` answers when it need not be called again during this wait."""


def backoff_delay(attempt: int) -> float:
    """Seconds to wait before retry number ``attempt + 1``: exponential, capped, with jitter."""
    return min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2.0**attempt) * random.uniform(0.5, 1.0)  # noqa: S311 - jitter


def retry_delay(attempt: int, retry_after: float | None) -> float:
    """Seconds to wait before retry number ``attempt + 1``: the backoff, or at least the server's ``Retry-After``
    stretched by up to half again, so that a fleet refused at the same moment does not come back in step."""
    backoff = backoff_delay(attempt)
    if retry_after is None:
        return backoff
    return max(retry_after * random.uniform(1.0, 1.5), backoff)  # noqa: S311 - jitter


def is_retryable(status: int) -> bool:
    """Statuses worth another attempt: timeouts, rate limiting and server errors."""
    return status in (408, 425, 429) or status >= 500


class Sender:
    """Drains the buffer into batches on the sender thread; ``flush`` and ``close`` may be called from any thread."""

    def __init__(
        self,
        options: Options,
        buffer: Buffer,
        ledger: LossLedger,
        sdk: Callable[[], SdkInfo],
        hand_off: Callable[[bool], None],
    ) -> None:
        self._options = options
        self._buffer = buffer
        self._hand_off = hand_off
        """Sets how the request path hands captures over: unchecked ``append`` (True) or checked ``put``."""
        self._ledger = ledger
        self._sdk = sdk
        self._builder = EventBuilder(options)
        self._ids = EventIds()
        self._overhead = OverheadStats()
        self._transport = Transport(
            options.endpoint or "",
            options.api_key or "",
            options.wire_format,
            options.compress,
            f"{SDK_NAME}/{__version__}",
        )
        self._cond = threading.Condition()
        self._taken = 0  # captures taken from the buffer so far (guarded by _cond)
        self._done = 0  # captures whose batch was delivered or given up (guarded by _cond)
        self._flush_wanted = False
        self._polling = False
        """True while the app is busy enough for the unchecked hand-off (sender thread only)."""
        self._rate = 0.0
        """Captures per second, smoothed over the sender's wake-ups (sender thread only)."""
        self._closing_deadline: float | None = None
        self._stop = threading.Event()

    @property
    def builder(self) -> EventBuilder:
        """The event builder (its options tell the request path what to keep)."""
        return self._builder

    def run(self) -> None:
        """Thread body: send on a full batch, on the jittered interval, or on a flush request, until closed.

        While the app is busy (``_POLL_ABOVE`` captures a second or more) the sender polls: the request path
        appends without a check or a wake-up, and the sender sleeps until a full batch is due at the observed
        rate, never so long that the buffer could fill at four times that rate, and trims any excess at once. It
        keeps doing so while a post waits for its answer (it is the post's attendant). Before anything it cannot
        interrupt (connecting, sending, reading the rest of an answer, waiting to retry) and while the app is
        quiet, the request path uses the checked ``put`` instead: the buffer stays bounded however long the sender
        is away.
        """
        buffer = self._buffer
        next_flush = time.monotonic() + self._interval()
        mark_length, mark_at = len(buffer), time.monotonic()
        try:
            while not self._closing():
                wait = next_flush - time.monotonic()
                if self._polling:
                    wait = min(wait, self._poll_wait(batch_due=True))
                buffer.ready.wait(max(0.0, wait))
                buffer.ready.clear()
                if self._closing():
                    break
                now = time.monotonic()
                if now - mark_at >= _POLL_MIN_S / 2:
                    observed = max(0, len(buffer) - mark_length) / (now - mark_at)
                    self._rate = (self._rate + observed) / 2 if self._rate else observed
                self._trim()
                everything = self._flush_wanted or now >= next_flush
                if everything:
                    self._flush_wanted = False
                    next_flush = now + self._interval()
                self._drain(everything)
                self._polling = self._rate >= (_POLL_BELOW if self._polling else _POLL_ABOVE) and self._keeping_up()
                if self._polling:
                    self._hand_off(True)
                else:
                    self.leave()
                mark_length, mark_at = len(buffer), time.monotonic()
        finally:  # however the loop ends, the request path is bounded from now on
            self._polling = False
            self.leave()
        self._drain(everything=True)

    def _poll_wait(self, *, batch_due: bool) -> float:
        """Seconds a polling sender may sleep: never so long that the buffer could fill at ``_POLL_HEADROOM``
        times the observed rate, nor longer than ``_POLL_MAX_S``; with ``batch_due``, no longer than until a full
        batch is due at the observed rate either."""
        length, rate = len(self._buffer), self._rate
        wait = min((self._buffer.capacity - length) / (rate * _POLL_HEADROOM), _POLL_MAX_S)
        if batch_due:
            wait = min(wait, (self._options.batch_size - length) / rate)
        return max(_POLL_MIN_S, wait)

    def tend(self) -> float:
        """While a post waits for its answer: keep a busy app on the unchecked hand-off, within the capacity.
        Returns the seconds until the next call is due (see ``Transport.post``)."""
        if not self._polling:
            return _NEVER
        self._trim()
        if not self._keeping_up():  # the answer is late and the app busy: let ``put`` bound the buffer exactly
            self.leave()
            return _NEVER
        self._hand_off(True)
        return self._poll_wait(batch_due=False)

    def _keeping_up(self) -> bool:
        """True while the buffer is at most half full: a poll can come before it fills."""
        return len(self._buffer) * 2 <= self._buffer.capacity

    def leave(self) -> None:
        """Before the sender may block (and while the app is quiet): switch the request path to the checked
        ``put``, bounded whatever the sender does next, then trim what the unchecked one let in."""
        self._hand_off(False)
        self._trim()

    def _trim(self) -> None:
        with self._cond:
            dropped = self._buffer.trim()
            if dropped:  # counted as queue_full by the buffer; settled for flush
                self._taken += dropped
                self._done += dropped
                self._cond.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait until everything buffered before the call has been sent or counted as lost."""
        deadline = time.monotonic() + timeout
        with self._cond:
            target = self._taken + len(self._buffer)
            self._flush_wanted = True
            self._buffer.ready.set()
            while self._done < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def close(self, deadline: float) -> None:
        """Ask the thread to send what it can before ``deadline`` (``time.monotonic()``) and stop."""
        self._closing_deadline = deadline
        self._stop.set()
        self._buffer.ready.set()

    def forget_connection(self) -> None:
        """Drop the HTTP connection without closing it (in a forked child)."""
        self._transport.forget()

    def _closing(self) -> bool:
        return self._closing_deadline is not None

    def _interval(self) -> float:
        return self._options.flush_interval * random.uniform(0.8, 1.2)  # noqa: S311 - jitter

    def _drain(self, everything: bool) -> None:
        """Send full batches, and with ``everything`` (the timer, a flush, closing) also what is buffered now.

        Until closing, only what was buffered when the drain began goes out in part-filled batches: requests keep
        arriving while batches go out, and chasing them would send a stream of small batches for as long as the
        app is busy (each batch has a fixed cost, here and at the ingest API).
        """
        batch_size = self._options.batch_size
        owed = len(self._buffer) if everything else 0
        while len(self._buffer) >= batch_size or (
            len(self._buffer) and (owed > 0 or self._closing_deadline is not None)
        ):
            deadline = self._closing_deadline
            if deadline is not None and time.monotonic() >= deadline:
                self._give_up_on_buffer()
                return
            with self._cond:
                captures = self._buffer.take(batch_size)
                self._taken += len(captures)
            owed -= len(captures)
            try:
                self._ship(captures)
            except Exception:  # a bug here must not kill the thread
                self._ledger.add(send_failed=len(captures))
                _log.warn("sender", "sentinel_sdk: could not send %d events", len(captures), exc_info=True)
            finally:
                with self._cond:
                    self._done += len(captures)
                    self._cond.notify_all()

    def _give_up_on_buffer(self) -> None:
        with self._cond:
            captures = self._buffer.take(len(self._buffer))
            self._taken += len(captures)
            self._done += len(captures)
            self._cond.notify_all()
        if captures:
            self._ledger.add(shutdown=len(captures))
            _log.warn("shutdown", "sentinel_sdk: %d events not sent before the shutdown deadline", len(captures))

    def _ship(self, captures: list[Capture]) -> None:
        count = len(captures)
        ids: Sequence[uuid.UUID | bytes] = (
            self._ids.raw(count) if self._options.wire_format == "msgpack" else self._ids.uuids(count)
        )
        build = self._builder.build
        offset = time.time_ns() - time.perf_counter_ns()
        try:  # the common case in one comprehension; a capture that fails to build is found below
            events = [build(capture, event_id, offset) for capture, event_id in zip(captures, ids, strict=True)]
        except Exception:
            events = []
            for capture, event_id in zip(captures, ids, strict=True):
                try:
                    events.append(build(capture, event_id, offset))
                except Exception:
                    self._ledger.add(send_failed=1)
                    _log.warn("build", "sentinel_sdk: could not build an event; it is counted as lost", exc_info=True)
        for capture in captures:
            if capture.overhead_ns:
                self._overhead.add(capture.overhead_ns)
        if events:
            self._send(events, self._ledger.take(self._buffer), self._overhead.take())

    def _send(self, events: list[WireEvent], dropped: LossCounters, overhead: CaptureOverhead | None) -> None:
        opts = self._options
        batch = EventBatch(
            batch_id=uuid.UUID(bytes=self._ids.raw(1)[0]),
            sent_at=time.time_ns() // 1_000_000,
            sdk=self._sdk(),
            service=opts.service,
            environment=opts.environment,
            sample_rate=opts.sample_rate,
            dropped=dropped,
            overhead=overhead,
            events=cast("list[Event]", events),  # WireEvent encodes as an Event (tested)
        )
        body = encode(batch, opts.wire_format)
        if len(body) > limits.TARGET_BATCH_BYTES and len(events) > 1:
            middle = len(events) // 2
            self._send(events[:middle], dropped, overhead)
            self._send(events[middle:], LossCounters(), None)
            return
        if len(body) > limits.MAX_BATCH_BYTES_DECOMPRESSED:
            self._ledger.give_back(dropped)
            self._ledger.add(oversize=1)
            return
        if not self._deliver(batch, body):
            self._ledger.give_back(dropped)

    def _deliver(self, batch: EventBatch, body: bytes) -> bool:
        """Send one batch, retrying under the same batch_id; count its events as lost if it never arrives."""
        opts = self._options
        started = time.monotonic()
        lost_to = "send_failed"
        for attempt in range(opts.max_retries + 1):
            deadline = self._closing_deadline
            timeout = opts.timeout if deadline is None else min(opts.timeout, deadline - time.monotonic())
            if timeout <= 0:
                lost_to = "shutdown"
                break
            if attempt:
                batch.sent_at = time.time_ns() // 1_000_000
                body = encode(batch, opts.wire_format)
            try:
                reply = self._transport.post(body, timeout, self)
            except (OSError, http.client.HTTPException) as exc:
                _log.warn("network", "sentinel_sdk: could not reach %s: %s", opts.endpoint, exc)
                retry_after = None
            else:
                if 200 <= reply.status < 300:
                    _check_rejections(reply)
                    return True
                _log.warn("status", "sentinel_sdk: the ingest API answered %d: %s", reply.status, _message(reply))
                if not is_retryable(reply.status):
                    break
                retry_after = reply.retry_after
            if attempt == opts.max_retries:
                break
            delay = retry_delay(attempt, retry_after)
            wake_at = time.monotonic() + delay
            if wake_at - started > opts.retry_budget:
                break
            if not self._wait_until(wake_at):
                lost_to = "shutdown"
                break
        self._ledger.add(**{lost_to: len(batch.events)})
        if lost_to == "shutdown":
            _log.warn(
                "shutdown-send", "sentinel_sdk: %d events not sent before the shutdown deadline", len(batch.events)
            )
        return False

    def _wait_until(self, wake_at: float) -> bool:
        """Sleep until ``wake_at``; False when a shutdown deadline comes first."""
        self.leave()
        if self._closing_deadline is None:
            self._stop.wait(max(0.0, wake_at - time.monotonic()))  # returns early when closing starts
        deadline = self._closing_deadline
        if deadline is not None:
            if wake_at >= deadline:
                return False
            time.sleep(max(0.0, wake_at - time.monotonic()))
        return True


def _message(reply: Reply) -> str:
    try:
        return decode(reply.body, ErrorResponse, "json").message
    except (msgspec.DecodeError, ValueError):
        return reply.body[:200].decode("utf-8", "replace") or "(no body)"


def _check_rejections(reply: Reply) -> None:
    try:
        answer = decode(reply.body, IngestResponse, "json")
    except (msgspec.DecodeError, ValueError):
        return
    if answer.rejected:
        first = answer.rejected[0]
        _log.warn(
            "rejected",
            "sentinel_sdk: the ingest API rejected %d events, for example event %d: %s: %s",
            len(answer.rejected),
            first.index,
            first.field,
            first.error,
        )
