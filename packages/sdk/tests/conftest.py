"""Shared fixtures: a real local ingest server that records and decodes what the SDK sends."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sentinel_sdk import Client
from sentinel_types import (
    Event,
    EventBatch,
    IngestResponse,
    LossCounters,
    decode_batch,
    encode,
    format_for_content_type,
)


@dataclass
class Received:
    """One request the ingest server received."""

    path: str
    status: int
    """The status the server answered."""
    headers: dict[str, str]
    body: bytes
    """The body after gzip decompression."""
    batch: EventBatch
    at: float = field(default_factory=time.monotonic)


@dataclass
class Reply:
    """A scripted answer: status, extra headers, optional delay before answering."""

    status: int = 202
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class IngestServer:
    """A stdlib HTTP server on 127.0.0.1 that answers ``POST /v1/events/batch`` like the ingest API."""

    def __init__(self, port: int = 0) -> None:
        self.received: list[Received] = []
        self.script: list[Reply] = []
        self.drop_kept_alive = False
        """Close each connection after answering, without saying so (as idle keep-alive timeouts do)."""
        self._cond = threading.Condition()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = -1  # the answer leaves in one segment, as from a real server

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                body = gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
                fmt = format_for_content_type(self.headers.get("Content-Type")) or "msgpack"
                batch = decode_batch(body, fmt)
                reply = recorder._next_reply()
                if reply.delay:
                    time.sleep(reply.delay)
                with recorder._cond:
                    recorder.received.append(Received(self.path, reply.status, dict(self.headers.items()), body, batch))
                    recorder._cond.notify_all()
                answer = encode(IngestResponse(batch_id=batch.batch_id, accepted=len(batch.events)), "json")
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
                if recorder.drop_kept_alive:
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer_next(self, status: int, headers: dict[str, str] | None = None, delay: float = 0.0) -> None:
        """Answer the next request (after those already scripted) with ``status`` and ``headers``."""
        with self._cond:
            self.script.append(Reply(status, headers or {}, delay))

    def _next_reply(self) -> Reply:
        with self._cond:
            return self.script.pop(0) if self.script else Reply()

    def accepted(self) -> list[EventBatch]:
        """Batches answered with a 2xx status, in arrival order."""
        with self._cond:
            return [r.batch for r in self.received if 200 <= r.status < 300]

    def events(self) -> list[Event]:
        """Every event of the accepted batches, in arrival order."""
        return [event for batch in self.accepted() for event in batch.events]

    def dropped(self) -> LossCounters:
        """Sum of the ``dropped`` counters of the accepted batches."""
        total = LossCounters()
        for batch in self.accepted():
            for name in LossCounters.__struct_fields__:
                setattr(total, name, getattr(total, name) + getattr(batch.dropped, name))
        return total

    def wait_for(self, predicate: Callable[[IngestServer], bool], timeout: float = 10.0) -> bool:
        """Wait until ``predicate(self)`` holds; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def wait_for_events(self, count: int, timeout: float = 10.0) -> list[Event]:
        """Wait for at least ``count`` events and return them all."""
        assert self.wait_for(lambda server: len(server.events()) >= count, timeout), (
            f"expected {count} events, got {len(self.events())}"
        )
        return self.events()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def ingest() -> Iterator[IngestServer]:
    """A fresh recording ingest server."""
    server = IngestServer()
    yield server
    server.close()


@pytest.fixture
def http_scope() -> Callable[[str], dict[str, Any]]:
    """A raw ASGI HTTP scope for a GET of ``path`` from 198.51.100.9, for tests that drive an app's ``receive`` and
    ``send`` themselves (client disconnects, failing sends)."""

    def scope(path: str) -> dict[str, Any]:
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"test")],
            "client": ("198.51.100.9", 5000),
            "server": ("test", 80),
        }

    return scope


@pytest.fixture
def leaving_client() -> Callable[[Any], tuple[Any, Any]]:
    """ASGI ``receive`` and ``send`` of a client that sends an empty request, then leaves (``http.disconnect``)
    once the given ``asyncio.Event`` is set; what the app sends is dropped."""

    def client(gone: Any) -> tuple[Any, Any]:
        received = False

        async def receive() -> dict[str, Any]:
            nonlocal received
            if not received:
                received = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            pass

        return receive, send

    return client


@pytest.fixture
def start_ingest() -> Iterator[Callable[[int], IngestServer]]:
    """Start a recording ingest server on a given port (one nothing listened on before, say); closed after."""
    servers: list[IngestServer] = []

    def start(port: int) -> IngestServer:
        server = IngestServer(port)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def make_client(ingest: IngestServer) -> Iterator[Callable[..., Client]]:
    """Build clients sending to the recording server; every one is shut down after the test."""
    clients: list[Client] = []

    def factory(**options: Any) -> Client:
        options.setdefault("api_key", "test-key")
        options.setdefault("endpoint", ingest.url)
        options.setdefault("flush_interval", 60.0)
        client = Client(**options)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.shutdown(timeout=1.0)


@pytest.fixture
def closed_port() -> int:
    """A local TCP port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def black_hole() -> Iterator[str]:
    """An endpoint that accepts TCP connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()
