"""``CallbackRecorder``: a real webhook receiver for tests, verifying ``X-Sentinel-Signature`` like the webhook."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from sentinel_sandbox.signing import SIGNATURE_HEADER, SignatureCheck, verify
from sentinel_sandbox.testing._http import LoopbackServer, Request, write_head


@dataclass(frozen=True)
class RecordedCallback:
    """One callback as received: the raw body, its signature header and the verdict on it."""

    body: bytes
    signature: str | None
    check: SignatureCheck

    def json(self) -> Any:
        return json.loads(self.body)


class CallbackRecorder(LoopbackServer):
    """Accepts ``POST /callback``: 202 for a valid signature of a known job's secret, 401 otherwise.

    Register each job with ``expect(job_id, secret)``; ``wait(n, timeout_s)`` blocks until ``n`` callbacks came.
    """

    def __init__(self, port: int = 0) -> None:
        super().__init__(port)
        self.callbacks: list[RecordedCallback] = []
        self._secrets: dict[str, str] = {}
        self._forced: list[int] = []
        self._arrived = threading.Condition()

    @property
    def callback_url(self) -> str:
        """The URL to give scripts as ``SENTINEL_CALLBACK_URL``."""
        return f"{self.url}/callback"

    def expect(self, job_id: str, secret: str) -> None:
        """Accept callbacks for ``job_id`` signed with ``secret``."""
        self._secrets[job_id] = secret

    def answer_next(self, *statuses: int) -> None:
        """Answer the next requests with these statuses, in order, whatever their signature (they are recorded)."""
        self._forced.extend(statuses)

    def wait(self, count: int = 1, timeout_s: float = 30.0) -> list[RecordedCallback]:
        """The callbacks received once there are ``count``; raises ``TimeoutError`` if they do not come."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.callbacks) >= count, timeout_s):
                raise TimeoutError(f"{len(self.callbacks)} of {count} callbacks arrived within {timeout_s} s")
            return list(self.callbacks)

    async def handle(self, request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if request.method != "POST" or request.path != "/callback":
            await write_head(writer, 404, "text/plain", b"not found")
            return
        try:
            job_id = str(json.loads(request.body)["job_id"])
        except (ValueError, KeyError, TypeError):
            job_id = ""
        signature = request.headers.get(SIGNATURE_HEADER.lower())
        check = verify(self._secrets.get(job_id, ""), signature, request.body, int(time.time()))
        with self._arrived:
            self.callbacks.append(RecordedCallback(request.body, signature, check))
            self._arrived.notify_all()
        if self._forced:
            await write_head(writer, self._forced.pop(0), "application/json", b'{"error":"as told"}')
        elif check and job_id in self._secrets:
            await write_head(writer, 202, "application/json", b'{"accepted":true}')
        else:
            await write_head(writer, 401, "application/json", json.dumps({"error": check.detail}).encode())
