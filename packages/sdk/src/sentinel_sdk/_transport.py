"""POST encoded batches to the ingest API with the stdlib's ``http.client``, over one kept-alive connection."""

from __future__ import annotations

import email.utils
import http.client
import ssl
import time
import zlib
from dataclasses import dataclass
from urllib.parse import urlsplit

from sentinel_types import WireFormat, content_type_for

BATCH_PATH = "/v1/events/batch"
_GZIP_LEVEL = 1  # level 1 compresses event batches almost as well as level 6 at a third of the CPU


@dataclass(frozen=True)
class Reply:
    """What the ingest API answered."""

    status: int
    retry_after: float | None
    """Seconds from ``Retry-After`` (delta-seconds or an HTTP date), when present and valid."""
    body: bytes


class Transport:
    """One HTTP(S) connection to ``{endpoint}/v1/events/batch``, reopened after any error."""

    def __init__(self, endpoint: str, api_key: str, wire_format: WireFormat, compress: bool, user_agent: str) -> None:
        parts = urlsplit(endpoint)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._path = parts.path.rstrip("/") + BATCH_PATH
        self._compress = compress
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": content_type_for(wire_format),
            "User-Agent": user_agent,
            "Accept": "application/json",
        }
        if compress:
            self._headers["Content-Encoding"] = "gzip"
        self._conn: http.client.HTTPConnection | None = None
        self._ssl: ssl.SSLContext | None = None

    def post(self, body: bytes, timeout: float) -> Reply:
        """Send one batch body; raises ``OSError`` or ``http.client.HTTPException`` on network failure."""
        if self._compress:
            compressor = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, 31)
            body = compressor.compress(body) + compressor.flush()
        reused = self._conn is not None
        try:
            return self._post(body, timeout)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if not reused:
                raise
        # The server closed the kept-alive connection while it was idle: once more on a new one (the batch id
        # makes a repeat harmless).
        return self._post(body, timeout)

    def _post(self, body: bytes, timeout: float) -> Reply:
        conn = self._connection(timeout)
        try:
            conn.request("POST", self._path, body=body, headers=self._headers)
            response = conn.getresponse()
            data = response.read()
        except BaseException:
            self.close()
            raise
        if response.will_close:
            self.close()
        return Reply(response.status, parse_retry_after(response.getheader("Retry-After")), data)

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        conn = self._conn
        if conn is None:
            if self._https:
                if self._ssl is None:
                    self._ssl = ssl.create_default_context()
                conn = http.client.HTTPSConnection(self._host, self._port, timeout=timeout, context=self._ssl)
            else:
                conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
            self._conn = conn
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn

    def close(self) -> None:
        """Close the connection; the next ``post`` opens a new one."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def forget(self) -> None:
        """Drop the connection without closing it (a forked child must not touch its parent's socket)."""
        self._conn = None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date; None if absent or invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())
