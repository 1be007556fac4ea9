"""SDK warnings through the stdlib logger ``sentinel_sdk``, at most one per key and interval.

A broken endpoint or a bad ``identify`` callback would otherwise log once per request or batch and flood the
app's logs; repeats inside the interval are counted and reported with the next message of the same key.
"""

from __future__ import annotations

import logging
import os
import threading
import time

logger = logging.getLogger("sentinel_sdk")

_INTERVAL_S = 60.0
_lock = threading.Lock()
_last: dict[str, float] = {}
_suppressed: dict[str, int] = {}


def warn(key: str, message: str, *args: object, exc_info: bool = False) -> None:
    """Log a warning unless one with the same ``key`` was logged in the last minute."""
    now = time.monotonic()
    with _lock:
        last = _last.get(key)
        if last is not None and now - last < _INTERVAL_S:
            _suppressed[key] = _suppressed.get(key, 0) + 1
            return
        _last[key] = now
        repeats = _suppressed.pop(key, 0)
    if repeats:
        message += " (%d similar warnings suppressed)"
        args = (*args, repeats)
    logger.warning(message, *args, exc_info=exc_info)


def reset() -> None:
    """Forget what was logged. Runs in a forked child, where the lock may have been held by another thread."""
    global _lock
    _lock = threading.Lock()
    _last.clear()
    _suppressed.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=reset)
