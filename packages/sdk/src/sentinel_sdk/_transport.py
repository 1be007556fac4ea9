"""POST encoded batches to the ingest API over one kept-alive HTTP/1.1 connection (stdlib sockets and ``ssl``).

The sender shares the GIL with the app. Each time it lets the GIL go (a socket call, a compression call), it has to
win it back from a busy app and then runs on caches the app has filled: what the app pays for the sender grows with
the number of such hand-overs, not only with the sender's own work. So a batch is compressed in one call and leaves
in one ``sendall`` (request head and body together), and the answer, a small JSON document, is usually read with
one ``recv`` and parsed here (``http.client`` sends head and body apart, reads the answer through a buffered file in
several calls and parses headers with the ``email`` package: with a busy Flask app, the sender's HTTP part cost
0.63 µs per event that way, 0.25 this way).
"""

from __future__ import annotations

import contextlib
import email.utils
import http.client
import socket
import ssl
import sys
import time
import zlib
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from sentinel_types import WireFormat, content_type_for

BATCH_PATH = "/v1/events/batch"
_GZIP_LEVEL = 1  # level 1 compresses event batches almost as well as level 6 at a third of the CPU
_GZIP_WBITS = 31  # a gzip header and trailer around the deflate stream
_MAX_HEAD = 64 * 1024
"""Longest answer head (status line and headers) read before giving up on the server."""
_MAX_BODY = 1024 * 1024
"""Longest answer body kept (the ingest API answers a few hundred bytes); a longer one is an error."""
_READ_SIZE = 64 * 1024


@dataclass(frozen=True)
class Reply:
    """What the ingest API answered."""

    status: int
    retry_after: float | None
    """Seconds from ``Retry-After`` (delta-seconds or an HTTP date), when present and valid."""
    body: bytes


class Attendant(Protocol):
    """What the caller does while a post waits for its answer (the sender keeps the buffer bounded)."""

    def tend(self) -> float:
        """Do what is due; return the seconds the post may wait before calling again."""

    def leave(self) -> None:
        """The post is about to block in a call that cannot be interrupted (connect, send, the rest of an answer)."""


class Transport:
    """One HTTP(S) connection to ``{endpoint}/v1/events/batch``, reopened after any error.

    ``post`` raises ``OSError`` (network, timeout) or ``http.client.HTTPException`` (an answer that is not HTTP).
    """

    def __init__(self, endpoint: str, api_key: str, wire_format: WireFormat, compress: bool, user_agent: str) -> None:
        parts = urlsplit(endpoint)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        self._compress = compress
        host = f"[{self._host}]" if ":" in self._host else self._host.encode("idna").decode("ascii")
        if parts.port is not None and parts.port != (443 if self._https else 80):
            host = f"{host}:{parts.port}"
        head = [
            f"POST {parts.path.rstrip('/') + BATCH_PATH} HTTP/1.1",
            f"Host: {host}",
            f"Authorization: Bearer {api_key}",
            f"Content-Type: {content_type_for(wire_format)}",
            f"User-Agent: {user_agent}",
            "Accept: application/json",
            "Accept-Encoding: identity",  # the answer is read as it comes
        ]
        if compress:
            head.append("Content-Encoding: gzip")
        self._head = ("\r\n".join(head) + "\r\nContent-Length: ").encode("latin-1")
        self._sock: socket.socket | None = None
        self._ssl: ssl.SSLContext | None = None

    def post(self, body: bytes, timeout: float, attendant: Attendant | None = None) -> Reply:
        """Send one batch body (compressed here when the transport compresses).

        ``timeout`` bounds each socket operation. With an ``attendant``, the wait for the answer's first bytes is
        cut into the slices it asks for, and it is called between them.
        """
        if self._compress:
            body = _gzip(body)
        request = b"".join((self._head, str(len(body)).encode(), b"\r\n\r\n", body))
        reused = self._sock is not None
        try:
            return self._exchange(request, timeout, attendant)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if not reused:
                raise
        # The server closed the kept-alive connection while it was idle: once more on a new one (the batch id
        # makes a repeat harmless).
        return self._exchange(request, timeout, attendant)

    def _exchange(self, request: bytes, timeout: float, attendant: Attendant | None) -> Reply:
        if attendant is not None:
            attendant.leave()
        sock = self._connection(timeout)
        try:
            sock.sendall(request)
            first = b"" if attendant is None else _first_bytes(sock, timeout, attendant)
            reply, keep = self._read_reply(sock, first)
        except BaseException:
            self.close()
            raise
        if not keep:
            self.close()
        if attendant is not None:
            attendant.tend()  # nothing blocks any more
        return reply

    def _connection(self, timeout: float) -> socket.socket:
        sock = self._sock
        if sock is None:
            sock = socket.create_connection((self._host, self._port), timeout)
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if self._https:
                    if self._ssl is None:
                        self._ssl = ssl.create_default_context()
                    sock = self._ssl.wrap_socket(sock, server_hostname=self._host)
            except BaseException:
                sock.close()
                raise
            self._sock = sock
        else:
            sock.settimeout(timeout)
        return sock

    def _read_reply(self, sock: socket.socket, data: bytes) -> tuple[Reply, bool]:
        """Read one answer (``data``: its first bytes, if read); skip interim (1xx) ones. Returns the reply and
        whether the connection stays open."""
        try:
            return self._read_answer(sock, data)
        except (ValueError, UnicodeError) as exc:  # a malformed answer, whatever the part
            raise http.client.HTTPException(f"malformed answer: {exc}") from None

    def _read_answer(self, sock: socket.socket, data: bytes) -> tuple[Reply, bool]:
        while True:
            found = _head_end(data)
            while found is None:
                if len(data) > _MAX_HEAD:
                    raise http.client.LineTooLong("answer head")
                chunk = sock.recv(_READ_SIZE)
                if not chunk:
                    raise http.client.RemoteDisconnected("the server closed the connection without answering")
                data += chunk
                found = _head_end(data)
            status, version, headers = _parse_head(data[: found[0]])
            data = data[found[1] :]
            if status == 101:
                raise http.client.HTTPException("the server switched protocols")
            if status >= 200:
                break
            # 100 Continue, 103 Early Hints...: the answer follows
        transfer_encoding = headers.get("transfer-encoding")
        keep = True
        if status in (204, 304):
            body = b""
        elif transfer_encoding is not None:
            if "content-length" in headers:  # both: a sign of request smuggling; never reuse this connection
                keep = False
            if transfer_encoding.lower().rsplit(",", 1)[-1].strip() != "chunked":  # framed by the close
                return Reply(status, parse_retry_after(headers.get("retry-after")), _read_to_close(sock, data)), False
            body, data = _read_chunked(sock, data)
        elif "content-length" in headers:
            length = _content_length(headers["content-length"])
            while len(data) < length:
                chunk = sock.recv(min(_READ_SIZE, length - len(data)))
                if not chunk:
                    raise http.client.IncompleteRead(data, length - len(data))
                data += chunk
            body, data = data[:length], data[length:]
        else:  # delimited by the end of the connection
            return Reply(status, parse_retry_after(headers.get("retry-after")), _read_to_close(sock, data)), False
        connection = headers.get("connection", "").lower()
        keep = (
            keep
            and not data  # bytes past the answer: the connection is out of step, start afresh
            and (
                (version == "HTTP/1.1" and "close" not in connection)
                or (version == "HTTP/1.0" and "keep-alive" in connection and "content-length" in headers)
            )
        )
        return Reply(status, parse_retry_after(headers.get("retry-after")), body), keep

    def close(self) -> None:
        """Close the connection; the next ``post`` opens a new one."""
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def forget(self) -> None:
        """Drop the connection without closing it (a forked child must not touch its parent's socket)."""
        self._sock = None


if sys.version_info >= (3, 11):

    def _gzip(body: bytes) -> bytes:
        return zlib.compress(body, _GZIP_LEVEL, wbits=_GZIP_WBITS)  # one call: the GIL is let go once

else:  # pragma: no cover - Python 3.10

    def _gzip(body: bytes) -> bytes:
        compressor = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, _GZIP_WBITS)
        return compressor.compress(body) + compressor.flush()


def _first_bytes(sock: socket.socket, timeout: float, attendant: Attendant) -> bytes:
    """Wait for the answer's first bytes in the slices the attendant asks for (at most ``timeout`` in all), then
    leave the socket to wait as usual for the rest."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("timed out")
            sock.settimeout(min(remaining, max(0.001, attendant.tend())))
            try:
                chunk = sock.recv(_READ_SIZE)
            except TimeoutError:  # nothing was read: the socket (and a TLS session) can wait again
                continue
            if not chunk:
                raise http.client.RemoteDisconnected("the server closed the connection without answering")
            return chunk
    finally:
        attendant.leave()
        sock.settimeout(timeout)


def _head_end(data: bytes) -> tuple[int, int] | None:
    """Where the answer head ends and its body starts: at an empty line (CRLF, or a bare LF as RFC 9112 lets a
    recipient accept)."""
    crlf = data.find(b"\r\n\r\n")
    lf = data.find(b"\n\n")
    if lf >= 0 and (crlf < 0 or lf < crlf):
        return lf, lf + 2
    return (crlf, crlf + 4) if crlf >= 0 else None


def _parse_head(head: bytes) -> tuple[int, str, dict[str, str]]:
    """Status, HTTP version and headers (names in lower case; repeated ones joined with commas)."""
    lines = [line.rstrip("\r") for line in head.decode("latin-1").split("\n")]
    version, _, rest = lines[0].partition(" ")
    code = rest[:3]
    if (
        not version.startswith("HTTP/1.")
        or not (code.isascii() and code.isdigit())
        or code < "100"
        or rest[3:4] not in ("", " ")
    ):
        raise http.client.BadStatusLine(lines[0][:200])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            continue  # not a header line (obsolete folding is not used by servers that matter here)
        name = name.strip().lower()
        value = value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return int(code), version, headers


def _content_length(value: str) -> int:
    # Repeated identical values are allowed (RFC 9110); anything else is not an answer to trust.
    values = {part.strip() for part in value.split(",")}
    length = values.pop() if len(values) == 1 else ""
    if not (length.isascii() and length.isdigit()):
        raise http.client.HTTPException(f"invalid Content-Length: {value[:50]!r}")
    if int(length) > _MAX_BODY:
        raise http.client.HTTPException(f"answer body of {length} bytes, more than {_MAX_BODY}")
    return int(length)


_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")


def _line(sock: socket.socket, data: bytes) -> tuple[bytes, bytes]:
    """The next line (its CRLF or LF removed) and what follows it."""
    end = data.find(b"\n")
    while end < 0:
        data = _more(sock, data)
        end = data.find(b"\n")
    return data[:end].rstrip(b"\r"), data[end + 1 :]


def _read_chunked(sock: socket.socket, data: bytes) -> tuple[bytes, bytes]:
    """A chunked body and what was read past it."""
    body = bytearray()
    while True:
        line, data = _line(sock, data)
        size_text = line.split(b";", 1)[0].strip()
        if not size_text or not _HEX_DIGITS.issuperset(size_text) or len(size_text) > 8:
            raise http.client.HTTPException(f"invalid chunk size: {size_text[:20]!r}")
        size = int(size_text, 16)
        if size == 0:  # the last chunk; then trailers (ignored) up to an empty line
            while True:
                line, data = _line(sock, data)
                if not line:
                    return bytes(body), data
        if len(body) + size > _MAX_BODY:
            raise http.client.HTTPException(f"answer body of more than {_MAX_BODY} bytes")
        while len(data) < size:
            data = _more(sock, data)
        body += data[:size]
        ending, data = _line(sock, data[size:])
        if ending:
            raise http.client.HTTPException("chunk data longer than its size")


def _read_to_close(sock: socket.socket, data: bytes) -> bytes:
    while True:
        chunk = sock.recv(_READ_SIZE)
        if not chunk:
            return data
        data += chunk
        if len(data) > _MAX_BODY:
            raise http.client.HTTPException(f"answer body of more than {_MAX_BODY} bytes")


def _more(sock: socket.socket, data: bytes) -> bytes:
    if len(data) > _MAX_HEAD + _MAX_BODY:
        raise http.client.HTTPException("answer too long")
    chunk = sock.recv(_READ_SIZE)
    if not chunk:
        raise http.client.IncompleteRead(data)
    return data + chunk


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
