"""The little HTTP/1.1 the test servers need: a server on 127.0.0.1 in its own thread, one request per
connection, answered with a body or a chunked stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from dataclasses import dataclass
from typing import Any, Self

HOST = "127.0.0.1"
MAX_BODY = 16 * 1024 * 1024
_REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 503: "Unavailable"}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    """Header names lower-cased."""
    body: bytes


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """One request with a ``Content-Length`` body, or ``None`` if the client closed first."""
    line = await reader.readline()
    if not line.strip():
        return None
    method, path, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = header.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    if not 0 <= length <= MAX_BODY:
        raise ConnectionError(f"body of {length} bytes refused")
    return Request(method, path, headers, await reader.readexactly(length))


async def write_head(writer: asyncio.StreamWriter, status: int, content_type: str, body: bytes | None = None) -> None:
    """The status line and headers, then ``body``; without ``body`` a chunked stream follows (``write_chunk``)."""
    length = "Transfer-Encoding: chunked" if body is None else f"Content-Length: {len(body)}"
    head = f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\nContent-Type: {content_type}\r\n{length}\r\n"
    writer.write(f"{head}Connection: close\r\n\r\n".encode("latin-1") + (body or b""))
    await writer.drain()


async def write_chunk(writer: asyncio.StreamWriter, line: dict[str, Any] | None) -> None:
    """One NDJSON line as one chunk; ``None`` ends the stream."""
    data = b"" if line is None else json.dumps(line).encode() + b"\n"
    writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    await writer.drain()


class LoopbackServer:
    """Serves ``handle`` on 127.0.0.1 from an event loop in a background thread, usable from sync and async code."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name=type(self).__name__, daemon=True)

    @property
    def url(self) -> str:
        """Base URL, ``http://127.0.0.1:<port>``."""
        return f"http://{HOST}:{self.port}"

    async def handle(self, request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer one request."""
        raise NotImplementedError

    def start(self) -> Self:
        """Bind and serve; raises ``OSError`` naming the port if it is taken."""
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(asyncio.start_server(self._serve, HOST, self.port), self._loop)
        try:
            self._server = future.result(10)
        except OSError as exc:
            self._loop.call_soon_threadsafe(self._loop.stop)
            problem = f"{HOST}:{self.port} is already in use; stop what holds it or choose another port"
            raise OSError(exc.errno, problem) from exc
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        """Stop serving and cancel the requests in progress."""
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._shutdown(self._server), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _shutdown(self, server: asyncio.Server) -> None:
        server.close()
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await read_request(reader)
            if request is not None:
                await self.handle(request, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, asyncio.CancelledError):
            pass  # a client that left, a request that makes no sense, or the server stopping: end the connection
        finally:
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()
