"""The client: options, the buffer, and the sender thread; fork and exit handling for every client."""

from __future__ import annotations

import atexit
import os
import platform
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from sentinel_sdk import _log
from sentinel_sdk._buffer import Buffer, LossLedger
from sentinel_sdk._capture import Capture
from sentinel_sdk._options import Options, parse_options
from sentinel_sdk._sender import Sender
from sentinel_sdk._version import SDK_NAME, __version__
from sentinel_types import LossCounters, SdkInfo, limits

_clients: weakref.WeakSet[Client] = weakref.WeakSet()


class Client:
    """Buffers captured requests and sends them to Sentinel's ingest API from one background thread.

    ``api_key`` and ``endpoint`` default to the ``SENTINEL_API_KEY`` and ``SENTINEL_ENDPOINT`` environment
    variables. Without both, the client is inactive: middleware using it passes requests through untouched.
    Every other option is a keyword argument (see the README's options table); a wrong value raises
    ``ValueError`` or ``TypeError`` here, at start-up.

    Usually one client per process is enough; a middleware creates its own unless given ``client=``. The thread
    starts with the first captured request, restarts in a forked child, and the buffer is flushed at exit
    within ``shutdown_timeout`` seconds.
    """

    def __init__(self, api_key: str | None = None, endpoint: str | None = None, **options: Any) -> None:
        self.options: Options = parse_options({"api_key": api_key, "endpoint": endpoint, **options})
        self.active = self.options.active
        """True while requests are captured: configured, enabled, and not shut down (read it, do not set it)."""
        self._framework = ""
        self._buffer = Buffer(self.options.buffer_size, self.options.batch_size)
        self._setup()
        if self.options.enabled and not self.options.active:
            _log.warn(
                "inactive",
                "sentinel_sdk: no API key or endpoint (api_key=/SENTINEL_API_KEY, endpoint=/SENTINEL_ENDPOINT); "
                "requests are not captured",
            )
        _clients.add(self)

    def _setup(self) -> None:
        self.capture: Callable[[Capture], None] = self._first_capture
        """Queue one capture for sending; never blocks (drops and counts when the buffer is full). Middleware
        calls it at the end of each request. The first starts the sender thread; then the sender sets it to the
        buffer's ``put`` or, while the app is busy, the buffer's own ``append`` (see ``Sender.run``)."""
        self._ledger = LossLedger()
        self._lost_before_shutdown = 0
        self._sender = Sender(self.options, self._buffer, self._ledger, self._sdk_info, self._hand_off)
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    @property
    def reads_proxy_header(self) -> bool:
        """True when requests must keep their proxy header (``trusted_proxies`` is set)."""
        return self._sender.builder.reads_proxy_header

    def count_sampled_out(self) -> None:
        """Count a request skipped by the sample rate (reported with the next batch)."""
        self._ledger.sampled_out += 1

    def flush(self, timeout: float = 2.0) -> bool:
        """Send everything captured so far; wait at most ``timeout`` seconds.

        Returns True when every event captured before the call was sent or counted as lost, False on timeout.
        """
        if self._thread is None:
            return len(self._buffer) == 0
        return self._sender.flush(timeout)

    def shutdown(self, timeout: float | None = None) -> bool:
        """Flush within ``timeout`` seconds (default ``shutdown_timeout``) and stop the sender thread.

        Events still buffered at the deadline are counted as lost (``shutdown``) and logged. Requests captured
        after shutdown are not sent. Returns True when everything was sent in time.
        """
        return self._finish_shutdown(self._begin_shutdown(timeout))

    def _begin_shutdown(self, timeout: float | None) -> float:
        self.active = False
        self._lost_before_shutdown = self._ledger.sender_lost
        deadline = time.monotonic() + (self.options.shutdown_timeout if timeout is None else timeout)
        self._sender.close(deadline)
        return deadline

    def _finish_shutdown(self, deadline: float) -> bool:
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                _log.warn("shutdown-timeout", "sentinel_sdk: the sender did not finish before the shutdown deadline")
                return False
        # The buffer can be empty and events still lost: a batch in flight at the deadline, or one the final
        # flush could not deliver (refused, or out of retries).
        return len(self._buffer) == 0 and self._ledger.sender_lost == self._lost_before_shutdown

    def pending_losses(self) -> LossCounters:
        """Losses counted but not yet reported to the ingest API."""
        return self._ledger.peek(self._buffer)

    def _set_framework(self, name: str, version: str) -> None:
        # The first integration to use the client names the framework (Flask's wraps the WSGI one).
        if not self._framework:
            self._framework = f"{name} {version}"

    def _sdk_info(self) -> SdkInfo:
        runtime = f"{platform.python_implementation()} {platform.python_version()}"
        if self._framework:
            runtime = f"{runtime}; {self._framework}"
        return SdkInfo(name=SDK_NAME, version=__version__, runtime=runtime[: limits.MAX_SDK_RUNTIME_LENGTH])

    def _first_capture(self, capture: Capture) -> None:
        self.capture = self._buffer.put
        self._buffer.put(capture)
        self._start()

    def _hand_off(self, unchecked: bool) -> None:
        # Called by the sender thread only (a late first capture may still set ``put``: always the safe one).
        self.capture = self._buffer.append if unchecked else self._buffer.put

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is not None:
                return
            thread = threading.Thread(target=self._sender.run, name="sentinel-sdk-sender", daemon=True)
            try:
                thread.start()
            except RuntimeError:  # interpreter shutting down: nothing more can be sent
                _log.warn("start", "sentinel_sdk: could not start the sender thread")
                self.active = False
                return
            self._thread = thread

    def _after_fork_in_child(self) -> None:
        # The parent keeps (and sends) what it buffered; the child starts empty, with its own thread.
        self._sender.forget_connection()
        self._buffer.reset()
        self._setup()


def _reset_clients_in_child() -> None:
    for client in list(_clients):
        client._after_fork_in_child()


def _shutdown_clients_at_exit() -> None:
    # Every client drains at the same time, each within its own shutdown_timeout.
    closing = [client for client in list(_clients) if client._thread is not None and client.active]
    deadlines = [client._begin_shutdown(None) for client in closing]
    for client, deadline in zip(closing, deadlines, strict=True):
        client._finish_shutdown(deadline)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_clients_in_child)
atexit.register(_shutdown_clients_at_exit)
