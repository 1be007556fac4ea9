"""An HTTP/1.1 load generator for the ingest API: closed loop (N busy connections) or open loop (a fixed rate).

Open loop offers requests on a schedule whatever the server does, as a crowd of independent SDKs would: a request
that is due takes an idle keep-alive connection or opens a new one, up to ``max_connections``; past that it is
counted as *unsent* (the server's slowness would have held it back). Each body is a template whose 16-byte
placeholder is replaced by a fresh UUID, so every batch is new to the server.

Run it in its own process (it keeps a core busy)::

    python -m sentinel_local.loadgen config.json > report.json

The configuration and the report are JSON objects described by ``LoadConfig`` and ``LoadReport``.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import msgspec

_ERROR_CODE = re.compile(rb'"error"\s*:\s*"([a-z_]+)"')


class Stream(msgspec.Struct, kw_only=True, frozen=True):
    """One kind of request: its headers, the body template and its share of the requests."""

    name: str
    headers: dict[str, str]
    template: str
    """Path of the body template."""
    placeholder: str
    """Hex of the 16 bytes to replace in the template by a fresh UUID (found exactly once)."""
    weight: int = 1


class LoadConfig(msgspec.Struct, kw_only=True, frozen=True):
    port: int
    streams: list[Stream]
    seconds: float
    path: str = "/v1/events/batch"
    rate: float = 0.0
    """Requests offered per second (open loop); 0 means closed loop over ``connections``."""
    connections: int = 16
    max_connections: int = 2048
    timeout_s: float = 10.0


class LoadReport(msgspec.Struct, kw_only=True):
    seconds: float = 0.0
    offered: int = 0
    unsent: int = 0
    answered: int = 0
    statuses: dict[str, dict[str, int]] = msgspec.field(default_factory=dict)
    """Per stream, per status code (as text), how many answers."""
    errors: dict[str, int] = msgspec.field(default_factory=dict)
    """Requests without an answer, by exception type (timeouts, resets)."""
    error_codes: dict[str, int] = msgspec.field(default_factory=dict)
    """``error`` of the answers' JSON bodies, by status and code (``503:overloaded``)."""
    missing_retry_after: int = 0
    """429 and 503 answers without a ``Retry-After`` header."""
    timeline: list[dict[str, int]] = msgspec.field(default_factory=list)
    """Per second of the run, answers by status code."""
    latency_ms: dict[str, float] = msgspec.field(default_factory=dict)
    peak_connections: int = 0
    connections_closed_by_server: int = 0


class _Bodies:
    def __init__(self, streams: list[Stream]) -> None:
        self.parts: list[tuple[bytes, bytes]] = []
        self.heads: list[str] = []
        self.order: list[int] = []
        for index, stream in enumerate(streams):
            template = Path(stream.template).read_bytes()
            placeholder = bytes.fromhex(stream.placeholder)
            if template.count(placeholder) != 1:
                raise ValueError(f"stream {stream.name}: the placeholder must occur exactly once in the template")
            at = template.index(placeholder)
            self.parts.append((template[:at], template[at + len(placeholder) :]))
            self.heads.append("".join(f"{name}: {value}\r\n" for name, value in stream.headers.items()))
            self.order.extend([index] * stream.weight)

    def request(self, number: int, path: str) -> tuple[int, bytes]:
        index = self.order[number % len(self.order)]
        before, after = self.parts[index]
        body = b"".join((before, uuid.uuid4().bytes, after))
        head = f"POST {path} HTTP/1.1\r\nHost: ingest\r\n{self.heads[index]}Content-Length: {len(body)}\r\n\r\n"
        return index, head.encode() + body


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def exchange(self, request: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
        self.writer.write(request)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("closed before answering")
        headers: dict[bytes, bytes] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        body = await self.reader.readexactly(int(headers.get(b"content-length", b"0")))
        return int(status_line.split()[1]), headers, body

    def close(self) -> None:
        self.writer.close()


class _Run:
    def __init__(self, config: LoadConfig) -> None:
        self.config = config
        self.bodies = _Bodies(config.streams)
        self.report = LoadReport()
        self.idle: list[_Connection] = []
        self.open = 0
        self.latencies: list[float] = []
        self.started = 0.0
        self.statuses = [Counter[int]() for _ in config.streams]
        self.timeline: dict[int, Counter[int]] = {}
        self.errors = Counter[str]()
        self.codes = Counter[str]()

    async def connection(self) -> _Connection | None:
        if self.idle:
            return self.idle.pop()
        if self.open >= self.config.max_connections:
            return None
        self.open += 1
        self.report.peak_connections = max(self.report.peak_connections, self.open)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.config.port, limit=1 << 20)
        except OSError:
            self.open -= 1
            raise
        return _Connection(reader, writer)

    async def one(self, number: int, connection: _Connection | None = None) -> _Connection | None:
        stream, request = self.bodies.request(number, self.config.path)
        began = time.perf_counter()
        try:
            connection = connection or await self.connection()
            if connection is None:
                self.report.unsent += 1
                return None
            status, headers, body = await asyncio.wait_for(connection.exchange(request), self.config.timeout_s)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            self.errors[type(exc).__name__] += 1
            if connection is not None:
                connection.close()
                self.open -= 1
            return None
        ended = time.perf_counter()
        self.latencies.append((ended - began) * 1000)
        self.statuses[stream][status] += 1
        self.timeline.setdefault(int(ended - self.started), Counter())[status] += 1
        if status >= 400 and (match := _ERROR_CODE.search(body)):
            self.codes[f"{status}:{match.group(1).decode()}"] += 1
        if status in (429, 503) and b"retry-after" not in headers:
            self.report.missing_retry_after += 1
        if headers.get(b"connection", b"").lower() == b"close":
            self.report.connections_closed_by_server += 1
            connection.close()
            self.open -= 1
            return None
        return connection

    async def open_loop(self) -> None:
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()

        async def offer(number: int) -> None:
            connection = await self.one(number)
            if connection is not None:
                self.idle.append(connection)

        offered = 0
        while (elapsed := time.perf_counter() - self.started) < self.config.seconds:
            due = int(elapsed * self.config.rate)
            while offered < due:
                task = loop.create_task(offer(offered))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                offered += 1
            await asyncio.sleep(0.001)
        self.report.offered = offered
        if tasks:
            await asyncio.wait(tasks, timeout=self.config.timeout_s + 5)

    async def closed_loop(self) -> None:
        counter = iter(range(sys.maxsize))

        async def busy() -> None:
            connection: _Connection | None = None
            while time.perf_counter() - self.started < self.config.seconds:
                number = next(counter)
                self.report.offered = max(self.report.offered, number + 1)
                connection = await self.one(number, connection)

        await asyncio.gather(*(busy() for _ in range(self.config.connections)))

    async def run(self) -> LoadReport:
        self.started = time.perf_counter()
        await (self.open_loop() if self.config.rate > 0 else self.closed_loop())
        report = self.report
        report.seconds = time.perf_counter() - self.started
        report.answered = len(self.latencies)
        report.statuses = {
            stream.name: {str(status): count for status, count in sorted(counts.items())}
            for stream, counts in zip(self.config.streams, self.statuses, strict=True)
        }
        report.errors = dict(self.errors)
        report.error_codes = dict(self.codes)
        last = max(self.timeline, default=-1)
        report.timeline = [
            {str(status): count for status, count in sorted(self.timeline.get(second, Counter()).items())}
            for second in range(last + 1)
        ]
        ordered = sorted(self.latencies)
        if ordered:
            report.latency_ms = {
                name: round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)
                for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))
            }
        for connection in self.idle:
            connection.close()
        return report


def run(config: LoadConfig) -> LoadReport:
    """Drive the load in this process (uvloop when installed) and report."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(_Run(config).run())
    return uvloop.run(_Run(config).run())


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m sentinel_local.loadgen CONFIG.json", file=sys.stderr)
        return 2
    config = msgspec.json.decode(Path(args[0]).read_bytes(), type=LoadConfig)
    sys.stdout.buffer.write(msgspec.json.encode(run(config)) + b"\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
