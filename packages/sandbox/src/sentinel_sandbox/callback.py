"""Sentinel callback client: a script posts its result to the signed webhook. Standard library only.

Every runner puts this file next to the script as ``sentinel_callback.py``, so a script does::

    from sentinel_callback import post_result

    post_result("succeeded", {"p95_ms": 41.5}, logs="read 1200 rows")

It reads ``SENTINEL_CALLBACK_URL``, ``SENTINEL_JOB_ID`` and ``SENTINEL_JOB_SECRET`` from the environment, sends
``{job_id, status, result, logs, usage}`` as JSON with ``X-Sentinel-Signature: t=<unix seconds>,v1=<hex
HMAC-SHA256(secret, "<t>." + body)>``, and retries network errors, 408, 429 and 5xx answers with backoff.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import time
import urllib.error
import urllib.request
from typing import Any

SIGNATURE_HEADER = "X-Sentinel-Signature"
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class CallbackError(RuntimeError):
    """The callback was refused, or every attempt failed."""


def sign(secret: str, body: bytes, t: int) -> str:
    """The ``X-Sentinel-Signature`` value for ``body`` sent at unix time ``t``."""
    mac = hmac.new(secret.encode("utf-8"), str(t).encode("ascii") + b"." + body, hashlib.sha256)
    return f"t={t},v1={mac.hexdigest()}"


def encode_body(job_id: str, status: str, result: Any = None, logs: str = "", usage: Any = None) -> bytes:
    """The exact bytes posted (and signed) for one callback."""
    payload = {"job_id": job_id, "status": status, "result": result, "logs": logs, "usage": usage or {}}
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8")


def post_result(
    status: str,
    result: Any = None,
    logs: str = "",
    usage: Any = None,
    *,
    attempts: int = 5,
    timeout_s: float = 10.0,
    environ: Any = None,
) -> int:
    """Post the script's result (``status`` is ``succeeded`` or ``failed``); returns the HTTP status.

    The signature is made anew for each attempt, so a late retry is not rejected as stale. Raises
    ``CallbackError`` on a 4xx answer other than 408/425/429, or when all ``attempts`` failed.
    """
    env = os.environ if environ is None else environ
    url, job_id, secret = env["SENTINEL_CALLBACK_URL"], env["SENTINEL_JOB_ID"], env["SENTINEL_JOB_SECRET"]
    body = encode_body(job_id, status, result, logs, usage)
    problem = ""
    for attempt in range(max(1, attempts)):
        if attempt:
            time.sleep(min(8.0, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random()))  # noqa: S311 - jitter only
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body, int(time.time()))}
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as answer:  # noqa: S310 - URL given by Sentinel
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            problem = f"HTTP {exc.code}: {exc.read(300).decode('utf-8', 'replace')}"
            if exc.code not in _RETRY_STATUSES:
                raise CallbackError(f"callback refused: {problem}") from None
        except (OSError, TimeoutError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
    raise CallbackError(f"callback failed after {attempts} attempts, last: {problem}")
