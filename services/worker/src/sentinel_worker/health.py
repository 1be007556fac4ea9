"""The worker's small HTTP endpoint: ``GET /healthz`` and ``GET /metrics`` (Prometheus text format)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import msgspec

Counters = Callable[[], dict[str, float]]


class HealthServer:
    """A minimal HTTP/1.1 server on asyncio streams: the worker needs two GET routes, not a framework."""

    def __init__(self, host: str, port: int, counters: Counters) -> None:
        self.host = host
        self.port = port
        self._counters = counters
        self._started = time.monotonic()
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        sockets = self._server.sockets
        self.port = sockets[0].getsockname()[1] if sockets else self.port
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), timeout=5)
            while (await asyncio.wait_for(reader.readline(), timeout=5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request_line.decode("latin-1").split()
            path = parts[1] if len(parts) >= 2 else ""
            if parts and parts[0] != "GET":
                status, content_type, body = "405 Method Not Allowed", "application/json", b'{"error":"only GET"}'
            elif path == "/healthz":
                uptime = round(time.monotonic() - self._started, 3)
                status, content_type = "200 OK", "application/json"
                body = msgspec.json.encode({"status": "ok", "service": "worker", "uptime_s": uptime})
            elif path == "/metrics":
                status, content_type, body = "200 OK", "text/plain; version=0.0.4", self._metrics()
            else:
                status, content_type, body = "404 Not Found", "application/json", b'{"error":"not found"}'
            head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            writer.write(head.encode() + b"Connection: close\r\n\r\n" + body)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    def _metrics(self) -> bytes:
        lines = ["# TYPE sentinel_worker_uptime_seconds gauge"]
        lines.append(f"sentinel_worker_uptime_seconds {time.monotonic() - self._started:.3f}")
        for name, value in sorted(self._counters().items()):
            kind = "counter" if name.endswith("_total") else "gauge"
            lines += [f"# TYPE sentinel_worker_{name} {kind}", f"sentinel_worker_{name} {value}"]
        return ("\n".join(lines) + "\n").encode()
