"""SDK overhead: CPU added per request by Sentinel and its peers, sender CPU per event, memory of a full buffer.

    uv run python bench/sdk_overhead.py [--requests 50000] [--runs 3]

An in-process driver calls a Starlette app (synthetic ASGI scope/receive/send) and a Flask app (synthetic WSGI
environ) directly, with no server and no sockets on the request path. Each variant's CPU time per request is
the driver thread's CPU time (``time.thread_time_ns``) over ``--requests`` requests, median of ``--runs`` runs;
"added" is the difference from the bare app. Variants run interleaved so drift hits them all alike.

Sentinel sends real batches to a sink server in a child process (so the sink's CPU is not counted here) that
decodes every batch with sentinel_types. The sender thread's CPU time is read from its own thread clock. Peers
must not send anywhere: apitally's OTLP endpoint is a closed local port, OpenTelemetry's BatchSpanProcessor
exports to an in-memory exporter that discards spans.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from _results import record

from sentinel_sdk import Client

SINK = r"""
import gzip, json, os, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from sentinel_types import decode_batch, format_for_content_type
stats = {"batches": 0, "events": 0, "overhead": [], "dropped": {}}
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = -1  # headers and body leave in one segment (no Nagle / delayed-ACK stall)
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        batch = decode_batch(body, format_for_content_type(self.headers["Content-Type"]))
        stats["batches"] += 1
        stats["events"] += len(batch.events)
        if batch.overhead is not None:
            stats["overhead"].append(batch.overhead.p50_us)
        for name in ("queue_full", "sampled_out", "send_failed", "oversize", "shutdown"):
            stats["dropped"][name] = stats["dropped"].get(name, 0) + getattr(batch.dropped, name)
        self._answer(202, b"{}")
    def do_GET(self):
        self._answer(200, json.dumps(stats).encode())
    def _answer(self, status, data):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()  # exit with the bench
server.serve_forever()
"""

HEADERS = [
    (b"host", b"api.example.com"),
    (b"user-agent", b"python-httpx/0.28.1"),
    (b"accept", b"application/json"),
    (b"accept-encoding", b"gzip, deflate"),
    (b"connection", b"keep-alive"),
    (b"authorization", b"Bearer sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    (b"x-request-id", b"9f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b"),
    (b"traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
]
PATH = "/users/42"
QUERY = "page=2&api_key=secret123"


def asgi_scope(fresh: bool = False, index: int = 0) -> dict[str, Any]:
    """A request scope as an ASGI server builds it; ``fresh`` copies every value, as a server would."""
    headers = [(bytes(name), bytes(bytearray(value))) for name, value in HEADERS] if fresh else list(HEADERS)
    path = f"/users/{index}" if fresh else PATH
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": QUERY.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("203.0.113.7", 51234),
        "server": ("api.example.com", 80),
    }


def wsgi_environ() -> dict[str, Any]:
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": PATH,
        "QUERY_STRING": QUERY,
        "SERVER_NAME": "api.example.com",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.7",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in HEADERS:
        environ["HTTP_" + name.decode().upper().replace("-", "_")] = value.decode("latin-1")
    return environ


# --- apps ------------------------------------------------------------------------------------------------------


def starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def user(request: Any) -> PlainTextResponse:
        return PlainTextResponse("hello")

    return Starlette(routes=[Route("/users/{user_id}", user)])


def flask_app() -> Any:
    from flask import Flask

    app = Flask("bench")

    @app.get("/users/<int:user_id>")
    def user(user_id: int) -> str:
        return "hello"

    return app


class NoopASGI:
    """The cheapest middleware that still sits in the chain."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


class NoopWSGI:
    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: Any, start_response: Any) -> Iterable[bytes]:
        return self.app(environ, start_response)  # type: ignore[no-any-return]


class NullExporter:
    """An OpenTelemetry span exporter that keeps nothing and sends nowhere."""

    def export(self, spans: Any) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def otel_provider() -> Any:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(NullExporter()))  # type: ignore[arg-type]
    PROVIDERS.append(provider)
    return provider


PROVIDERS: list[Any] = []
"""Every OpenTelemetry provider made, so that ``settle`` can flush their batch processors."""


HEADER_OPTIONS: dict[str, Any] = {"capture_headers": True, "redact_headers": ["x-request-id"]}


def install_sentinel_starlette(app: Any, client: Client) -> None:
    from sentinel_sdk.starlette import SentinelMiddleware

    app.add_middleware(SentinelMiddleware, client=client)


def install_sentinel_flask(app: Any, client: Client) -> None:
    from sentinel_sdk.flask import Sentinel

    Sentinel(app, client=client)


def install_noop_starlette(app: Any) -> None:
    app.add_middleware(NoopASGI)


def install_noop_flask(app: Any) -> None:
    app.wsgi_app = NoopWSGI(app.wsgi_app)


def install_apitally_starlette(app: Any) -> None:
    import apitally.starlette

    apitally.starlette.init(app, write_token="apt_" + "a" * 24)


def install_apitally_flask(app: Any) -> None:
    import apitally.flask

    apitally.flask.init(app, write_token="apt_" + "a" * 24)


def install_otel_starlette(app: Any) -> None:
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    app.add_middleware(OpenTelemetryMiddleware, tracer_provider=otel_provider())


def install_otel_flask(app: Any) -> None:
    from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware

    app.wsgi_app = OpenTelemetryMiddleware(app.wsgi_app, tracer_provider=otel_provider())


FRAMEWORKS: dict[str, tuple[Callable[[], Any], ...]] = {
    # bare app, Sentinel, no-op middleware, apitally, OpenTelemetry
    "starlette": (
        starlette_app,
        install_sentinel_starlette,
        install_noop_starlette,
        install_apitally_starlette,
        install_otel_starlette,
    ),
    "flask": (flask_app, install_sentinel_flask, install_noop_flask, install_apitally_flask, install_otel_flask),
}


def variants(framework: str, endpoint: str, clients: dict[str, Client]) -> dict[str, Callable[[], Any]]:
    """Builders of the app of ``framework``: bare, and with each middleware measured."""
    make_app, sentinel, noop, apitally, otel = FRAMEWORKS[framework]

    def with_(install: Callable[..., None], *args: Any) -> Callable[[], Any]:
        def build() -> Any:
            app = make_app()
            install(app, *args)
            return app

        return build

    def with_sentinel(name: str, **options: Any) -> Callable[[], Any]:
        def build() -> Any:
            clients[f"{framework} {name}"] = client = Client(api_key="bench", endpoint=endpoint, **options)
            return with_(sentinel, client)()

        return build

    return {
        "bare": make_app,
        "no-op middleware": with_(noop),
        "sentinel (defaults)": with_sentinel("defaults"),
        "sentinel (headers + redaction)": with_sentinel("headers", **HEADER_OPTIONS),
        "apitally": with_(apitally),
        "opentelemetry + batch processor": with_(otel),
    }


# --- drivers ---------------------------------------------------------------------------------------------------


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Any) -> None:
    pass


def asgi_runner(app: Any) -> Callable[[int], int]:
    """A function that drives ``count`` requests through ``app`` and returns this thread's CPU nanoseconds."""
    loop = asyncio.new_event_loop()
    base = asgi_scope()

    async def drive(count: int) -> int:
        started = time.thread_time_ns()
        for _ in range(count):
            await app(dict(base, headers=list(HEADERS)), _receive, _send)
        return time.thread_time_ns() - started

    return lambda count: loop.run_until_complete(drive(count))


def _start_response(status: str, headers: Any, exc_info: Any = None) -> Callable[[bytes], None]:
    return lambda data: None


def wsgi_runner(app: Any) -> Callable[[int], int]:
    """A function that drives ``count`` requests through ``app`` and returns this thread's CPU nanoseconds."""
    base = wsgi_environ()

    def drive(count: int) -> int:
        started = time.thread_time_ns()
        for _ in range(count):
            environ = dict(base)
            environ["wsgi.input"] = io.BytesIO(b"")
            result = app(environ, _start_response)
            for _chunk in result:
                pass
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return time.thread_time_ns() - started

    return drive


Figures = dict[str, float | None]
"""CPU µs per request of each variant."""


def measure(
    variants: dict[str, Callable[[], Any]],
    runner: Callable[[Any], Callable[[int], int]],
    requests: int,
    runs: int,
    block: int = 2_000,
    settle: Callable[[], None] = lambda: None,
) -> tuple[Figures, Figures]:
    """Each variant's CPU µs per request, median over ``runs``; variants alternate every ``block`` requests.

    Two figures from the same blocks: the run's total over its requests (the headline), and a paired one, the
    bare app's total plus the median over the run's rounds of (this variant's block minus the bare app's block of the
    same round), which a host hiccup hitting a few blocks does not move. ``settle`` runs, untimed, after each block:
    it lets every background sender finish what its block queued, so that one variant's backlog is not sent
    (competing for the GIL) while the next variant is timed, and collects the garbage left, so that a block pays for
    the collections its own allocations trigger, not for a full collection of what another variant left behind.
    """
    drivers: dict[str, Callable[[int], int]] = {}
    for name, build in variants.items():
        try:
            drivers[name] = runner(build())
        except ImportError as exc:
            print(f"  {name}: not measured ({exc})", file=sys.stderr)
    for drive in drivers.values():
        drive(2_000)  # warm-up: middleware stacks are built on the first call, caches fill
    samples: dict[str, list[float]] = {name: [] for name in drivers}
    paired: dict[str, list[float]] = {name: [] for name in drivers}
    rounds = max(1, requests // block)
    for run in range(runs):
        gc.collect()
        totals = dict.fromkeys(drivers, 0)
        differences: dict[str, list[float]] = {name: [] for name in drivers}
        for _ in range(rounds):
            blocks = {}
            for name, drive in drivers.items():
                blocks[name] = drive(block)
                totals[name] += blocks[name]
                settle()
            if "bare" in blocks:
                for name, spent in blocks.items():
                    differences[name].append((spent - blocks["bare"]) / block / 1_000)
        for name, total in totals.items():
            samples[name].append(total / (rounds * block) / 1_000)
            if differences[name]:
                paired[name].append(samples["bare"][-1] + statistics.median(differences[name]))
        print(f"  run {run + 1}/{runs} done", file=sys.stderr)

    def median_of(figures: dict[str, list[float]]) -> Figures:
        return {name: (statistics.median(figures[name]) if figures.get(name) else None) for name in variants}

    return median_of(samples), median_of(paired)


# --- sender and memory -----------------------------------------------------------------------------------------


def sender_cpu_ns(client: Client) -> int:
    thread = client._thread
    if thread is None or thread.ident is None:
        return 0
    return time.clock_gettime_ns(time.pthread_getcpuclockid(thread.ident))


def full_buffer_memory() -> tuple[float, int]:
    """MB held by a full default buffer of captures of realistic requests (fresh header values each)."""
    from sentinel_sdk.starlette import SentinelMiddleware

    with socket.socket() as hole:  # accepts connections, never answers: the sender blocks on its first batch
        hole.bind(("127.0.0.1", 0))
        hole.listen(8)
        client = Client(api_key="bench", endpoint=f"http://127.0.0.1:{hole.getsockname()[1]}", timeout=600.0)
        app = starlette_app()
        app.add_middleware(SentinelMiddleware, client=client)
        loop = asyncio.new_event_loop()

        async def drive(start: int, count: int) -> None:
            for index in range(start, start + count):
                await app(asgi_scope(fresh=True, index=index), _receive, _send)

        loop.run_until_complete(drive(0, client.options.batch_size))
        while len(client._buffer):  # wait until the sender has taken the first batch and is blocked sending it
            time.sleep(0.01)
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        loop.run_until_complete(drive(10**6, client.options.buffer_size))
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        held = len(client._buffer)
        loop.close()
        client.shutdown(timeout=0)
    if client._thread is not None:
        client._thread.join(timeout=10)  # ends once the closed socket fails its request
    return (after - before) / 1e6, held


def sender_breakdown(framework: str, count: int = 10_000) -> dict[str, float]:
    """Where a default event's sender time goes, per event, measured on this thread (no competition)."""
    from sentinel_sdk._events import EventIds
    from sentinel_sdk._transport import _gzip
    from sentinel_types import EventBatch, SdkInfo, encode

    make_app, install, *_ = FRAMEWORKS[framework]
    runner = asgi_runner if framework == "starlette" else wsgi_runner
    client = Client(api_key="bench", endpoint="http://127.0.0.1:9")
    captures: list[Any] = []
    client.capture = captures.append  # keep the captures instead of sending them
    app = make_app()
    install(app, client)
    runner(app)(count)
    builder = client._sender.builder
    started = time.thread_time_ns()
    ids = EventIds().raw(len(captures))
    ids_ns = time.thread_time_ns() - started
    started = time.thread_time_ns()
    offset = time.time_ns() - time.perf_counter_ns()
    events = [builder.build(capture, event_id, offset) for capture, event_id in zip(captures, ids, strict=True)]
    build_ns = time.thread_time_ns() - started
    started = time.thread_time_ns()
    bodies = []
    for first in range(0, len(events), 1_000):
        batch = EventBatch(
            batch_id=uuid.uuid4(), sent_at=0, sdk=SdkInfo(name="x", version="1"), events=events[first : first + 1_000]
        )
        bodies.append(encode(batch, "msgpack"))
    encode_ns = time.thread_time_ns() - started
    started = time.thread_time_ns()
    for body in bodies:
        _gzip(body)
    gzip_ns = time.thread_time_ns() - started
    per = 1_000 * len(captures)
    return {"event ids": ids_ns / per, "build": build_ns / per, "encode": encode_ns / per, "gzip": gzip_ns / per}


def sender_steady(endpoint: str, framework: str, requests: int = 100_000) -> tuple[float, float]:
    """The sender of one app alone, as in a server: ``requests`` driven without pauses, batches cut at the batch
    size (the comparison's flushes between blocks cut smaller ones). Returns (sender CPU µs per event, events per
    batch)."""
    make_app, install, *_ = FRAMEWORKS[framework]
    runner = asgi_runner if framework == "starlette" else wsgi_runner

    def sink_batches() -> int:
        with urllib.request.urlopen(endpoint) as answer:
            return int(json.load(answer)["batches"])

    before = sink_batches()
    client = Client(api_key="bench", endpoint=endpoint)
    app = make_app()
    install(app, client)
    runner(app)(requests)
    client.flush(timeout=60)
    per_event = sender_cpu_ns(client) / max(client._sender._done, 1) / 1_000
    events = client._sender._done
    client.shutdown(timeout=5)
    return per_event, events / max(sink_batches() - before, 1)


def compare(
    endpoint: str, requests: int, runs: int, names: tuple[str, ...] | None
) -> tuple[dict[str, Figures], dict[str, Figures], dict[str, float]]:
    """CPU µs per request of each variant (``names``, or all) per framework (totals, paired), and each Sentinel
    sender's CPU µs per event."""
    tables: dict[str, Figures] = {}
    paired: dict[str, Figures] = {}
    clients: dict[str, Client] = {}
    for framework, runner in (("starlette", asgi_runner), ("flask", wsgi_runner)):
        built = variants(framework, endpoint, clients)
        chosen = {name: build for name, build in built.items() if names is None or name in names}
        print(f"{framework}: {len(chosen)} variants, {runs} runs x {requests} requests", file=sys.stderr)

        def settle() -> None:
            for client in clients.values():
                client.flush(timeout=60)
            for provider in PROVIDERS:
                provider.force_flush()
            # Objects that outlive a block (spans and records waiting for export) fill the oldest generation until
            # a full collection, ~16 ms with every peer loaded, runs in whichever block allocates next: without
            # this, one variant's figure carried collections of another's garbage.
            gc.collect()

        tables[framework], paired[framework] = measure(chosen, runner, requests, runs, settle=settle)
    sender = {}
    for name, client in clients.items():
        client.flush(timeout=60)
        sender[name] = sender_cpu_ns(client) / max(client._sender._done, 1) / 1_000
        client.shutdown(timeout=5)
    return tables, paired, sender


# --- main ------------------------------------------------------------------------------------------------------

SENTINEL_ONLY = ("bare", "no-op middleware", "sentinel (defaults)", "sentinel (headers + redaction)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=50_000, help="requests per variant and run")
    parser.add_argument("--runs", type=int, default=3, help="runs per variant (the median is reported)")
    args = parser.parse_args()

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        os.environ["APITALLY_OTLP_ENDPOINT"] = f"http://127.0.0.1:{closed.getsockname()[1]}"
    sink = subprocess.Popen([sys.executable, "-c", SINK], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert sink.stdout is not None
    endpoint = f"http://127.0.0.1:{sink.stdout.readline().strip()}"
    try:
        # Sentinel alone first: the peers start threads and fill the heap, which every thread then pays for.
        logging.getLogger("sentinel_sdk").setLevel(logging.CRITICAL)  # the memory probe's endpoint never answers
        memory_mb, held = full_buffer_memory()
        logging.getLogger("sentinel_sdk").setLevel(logging.NOTSET)
        breakdown = {framework: sender_breakdown(framework) for framework in ("starlette", "flask")}
        steady = {framework: sender_steady(endpoint, framework) for framework in ("starlette", "flask")}
        alone, alone_paired, sender_alone = compare(endpoint, args.requests, args.runs, SENTINEL_ONLY)
        side_by_side, side_by_side_paired, sender_with_peers = compare(endpoint, args.requests, args.runs, None)
        with urllib.request.urlopen(endpoint) as answer:
            stats = json.load(answer)
    finally:
        sink.terminate()
        sink.wait()

    print(f"\nCPU per request, µs (median of {args.runs} runs x {args.requests:,} requests; added = vs bare)")
    print("\nSentinel alone in the process:\n")
    table(alone)
    print("\nSide by side, every peer loaded in the same process:\n")
    table(side_by_side)
    print(
        "\nThe same blocks, paired (bare + the median over rounds of the variant's block minus the bare app's block "
        "of the same round):\n"
    )
    print("Sentinel alone in the process:\n")
    table(alone_paired)
    print("\nSide by side:\n")
    table(side_by_side_paired)
    print("\nSender thread CPU per event, µs (build, redact, encode, gzip, HTTP)\n")
    print(f"| {'client':<20} | {'alone':>7} | {'with the peers in the process':>29} |")
    print(f"|{'-' * 22}|{'-' * 9}|{'-' * 31}|")
    for name, value in sender_alone.items():
        print(f"| {name:<20} | {value:>7.2f} | {sender_with_peers[name]:>29.2f} |")
    for framework, (per_event, per_batch) in steady.items():
        print(
            f"\nSender, one {framework} app alone, steady: {per_event:.2f} µs CPU per event "
            f"({per_batch:,.0f} events per batch)"
        )
    for framework, figures in breakdown.items():
        parts = ", ".join(f"{name} {value:.2f}" for name, value in figures.items())
        print(
            f"\nA default {framework} event, single-threaded, µs: {parts}; total {sum(figures.values()):.2f} "
            "(HTTP excluded)"
        )
    overhead = stats["overhead"]
    print(
        f"\nSink received {stats['events']:,} events in {stats['batches']} batches; losses {stats['dropped']}; "
        f"SDK self-measured capture cost p50 (median over batches): "
        f"{statistics.median(overhead) if overhead else float('nan'):.2f} µs"
    )
    print(f"\nFull default buffer: {held:,} captures hold {memory_mb:.2f} MB (tracemalloc)")
    print(f"\n{os.cpu_count()} CPUs, load average at the end {os.getloadavg()[0]:.2f} (other processes share them)")
    report(alone, side_by_side, alone_paired, side_by_side_paired, steady, memory_mb, stats)


def report(
    alone: dict[str, Figures],
    side_by_side: dict[str, Figures],
    alone_paired: dict[str, Figures],
    side_by_side_paired: dict[str, Figures],
    steady: dict[str, tuple[float, float]],
    memory_mb: float,
    stats: dict[str, Any],
) -> None:
    """The figures with a target, and the peers', for bench/RESULTS.md."""
    bench = "SDK overhead"
    for framework, best in (("starlette", 7.4), ("flask", 48.4)):
        bare = alone[framework]["bare"]
        if bare is not None:  # how fast the host ran: every figure above it moves with it
            record(
                bench,
                f"{framework.title()}, the bare app: CPU per request (the host's speed)",
                bare,
                "µs",
                note=f"{best} on this machine at its best; {bare / best - 1:+.0%} here",
            )
    for framework in ("starlette", "flask"):
        for variant, label, limit in (
            ("sentinel (defaults)", "defaults", 5.0),
            ("sentinel (headers + redaction)", "headers + redaction", 15.0),
        ):
            for where, figures, paired in (
                ("alone", alone, alone_paired),
                ("side by side", side_by_side, side_by_side_paired),
            ):
                value, bare = figures[framework][variant], figures[framework]["bare"]
                pair = paired[framework][variant]
                if value is None or bare is None:
                    continue
                note = f"paired {pair - bare:+.2f}" if pair is not None else ""
                record(
                    bench,
                    f"{framework.title()}, {label}, {where}: CPU added per request",
                    value - bare,
                    "µs",
                    target=("<=", limit),
                    note=note,
                )
        for peer in ("apitally", "opentelemetry + batch processor"):
            value, bare = side_by_side[framework].get(peer), side_by_side[framework]["bare"]
            if value is not None and bare is not None:
                record(
                    bench, f"{framework.title()}, peer {peer}, side by side: CPU added per request", value - bare, "µs"
                )
        record(
            bench,
            f"{framework.title()}, sender at steady state: CPU per event",
            steady[framework][0],
            "µs",
            target=("<=", 3.0),
        )
    record(bench, "memory of a full default buffer (10,000 captures)", memory_mb, "MB", target=("<=", 10.0))
    lost = sum(stats["dropped"].values())
    record(
        bench,
        "events the sink received (the rest counted as dropped)",
        stats["events"],
        "events",
        note=f"{lost:,} counted as dropped",
    )


def table(frameworks: dict[str, Figures]) -> None:
    """One row per variant, a value and an added column per framework."""
    names = list(next(iter(frameworks.values())))
    header = "".join(f" {framework.title():>9} | {'added':>7} |" for framework in frameworks)
    print(f"| {'variant':<32} |{header}")
    print(f"|{'-' * 34}|" + f"{'-' * 11}|{'-' * 9}|" * len(frameworks))
    for name in names:
        cells = ""
        for results in frameworks.values():
            value, bare = results[name], results["bare"]
            if value is None or bare is None:
                cells += f" {'n/a':>9} | {'':>7} |"
            else:
                added = "" if name == "bare" else f"{value - bare:+.2f}"
                cells += f" {value:>9.2f} | {added:>7} |"
        print(f"| {name:<32} |{cells}")


if __name__ == "__main__":
    threading.current_thread().name = "bench-driver"
    main()
