"""Bad input against the real ``sentinel-ingest`` and ``sentinel-dashboard`` processes, over raw sockets.

Gzip bombs, broken gzip, unknown encodings, JSON nested 100,000 deep, 4 MB strings, bodies in the wrong charset
or format, lying Content-Lengths, bodies cut off by a client that goes away: each gets a 4xx whose JSON body says
what (``error``), why (``message``) and where (``field``). Neither service logs a server error or stops answering,
the ingest API's memory stays under ``RSS_BOUND_MB`` while the bombs go off, and a valid batch sent after all that
is accepted and queued exactly once. Real Redis; the control store is SQLite, shared by both services.
"""

from __future__ import annotations

import asyncio
import gzip
import http.client
import json
import os
import socket
import struct
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest
import redis

from sentinel_control import SecretHasher, SqliteControlStore, TenantLimits
from sentinel_control.testing import make_key, make_project
from sentinel_dashboard.tokens.service import create_tenant
from sentinel_local import RedisEngine, free_port, http_status, memory_mb, process_tree
from sentinel_local._process import LOOPBACK, ManagedProcess, venv_bin
from sentinel_queue import decode_entry, stream_keys
from sentinel_types import limits

HASH_SECRET = "e2e-bad-input-secret-0123456789-abcdefghij"
REDIS_DB = 11
PARTITIONS = 4
RSS_BOUND_MB = 400
DEEP = 100_000
SERVER_ERRORS = ('"server_error"', '"unhandled_exception"')


@dataclass
class Service:
    process: ManagedProcess
    port: int

    def alive(self) -> None:
        """Running, answering, and no server error in its log."""
        assert self.process.running(), self.process.log_tail()
        assert http_status(f"http://{LOOPBACK}:{self.port}/healthz", timeout=5) == 200
        text = self.process.log_path.read_text(errors="replace")
        assert not [line for line in text.splitlines() if any(e in line for e in SERVER_ERRORS)], text[-4_000:]

    def peak_rss_mb(self) -> float:
        """Largest peak resident set (VmHWM) of the server and its worker processes, in MB."""
        assert self.process.pid is not None
        return max(memory_mb(pid, "VmHWM") for pid in process_tree(self.process.pid))


@dataclass
class Stack:
    ingest: Service
    dashboard: Service
    redis_url: str
    ingest_key: str
    token: str
    project_id: str


async def _seed(db: Path) -> tuple[str, str, str]:
    store = SqliteControlStore(db)
    await store.setup()
    try:
        hasher = SecretHasher(HASH_SECRET)
        tenant, admin = await create_tenant(store, hasher, "bad-input", TenantLimits(max_projects=1_000))
        project = await make_project(store, tenant, rate_limit_eps=1_000_000, rate_limit_burst=10_000_000)
        key, _ = await make_key(store, hasher, project)
        return key, admin.token, project.id
    finally:
        await store.close()


def _start(name: str, root: Path, env: dict[str, str]) -> Service:
    port = free_port()
    program = venv_bin(f"sentinel-{name}") or f"sentinel-{name}"
    process = ManagedProcess(name, [program, "--port", str(port)], log_path=root / f"{name}.log", env=env)
    process.start()
    process.wait_ready(lambda: http_status(f"http://{LOOPBACK}:{port}/healthz", timeout=2) == 200, 60)
    return Service(process, port)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisEngine) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("bad-input")
    key, token, project_id = asyncio.run(_seed(root / "control.db"))
    redis_url = f"{redis_server.url.rsplit('/', 1)[0]}/{REDIS_DB}"
    redis.Redis.from_url(redis_url).flushdb()
    nowhere = f"http://{LOOPBACK}:{free_port()}"  # nothing listens: no call can leave the machine
    env = {
        "SENTINEL_REDIS_URL": redis_url,
        "SENTINEL_REDIS_PARTITIONS": str(PARTITIONS),
        "SENTINEL_CONTROL_SQLITE_PATH": str(root / "control.db"),
        "SENTINEL_CONTROL_HASH_SECRET": HASH_SECRET,
        "SENTINEL_LOG_LEVEL": "WARNING",
        "SENTINEL_CLICKHOUSE_URL": nowhere,
        "SENTINEL_ARCHIVE_LOCAL_DIR": str(root / "archive"),
        "SENTINEL_ARCHIVE_ENDPOINT_URL": nowhere,
        "SENTINEL_AWS_ENDPOINT_URL": nowhere,
        "SENTINEL_AWS_ACCESS_KEY_ID": "e2e",
        "SENTINEL_AWS_SECRET_ACCESS_KEY": "e2e",
    }
    services: list[Service] = []
    try:
        services += [_start("ingest", root, env), _start("dashboard", root, env)]
        yield Stack(services[0], services[1], redis_url, key, token, project_id)
    finally:
        for service in services:
            service.process.stop()


# --- requests ------------------------------------------------------------------------------------------------------


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def event(**fields: Any) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "timestamp": now_ms(), "method": "GET", "path": "/", "status": 200} | {
        "duration_ms": 1.0,
        **fields,
    }


def batch(*events: dict[str, Any], **fields: Any) -> dict[str, Any]:
    envelope = {"batch_id": str(uuid.uuid4()), "sent_at": now_ms(), "sdk": {"name": "e2e", "version": "1"}}
    return envelope | {"events": list(events) or [event()], **fields}


def json_of(value: Any) -> bytes:
    return msgspec.json.encode(value)


@dataclass
class Answer:
    status: int
    body: dict[str, Any]

    def refused(self, status: int, field: str, error: str | None = None, says: str = "") -> None:
        """An ErrorResponse with this status, field (and code), whose message says ``says``."""
        assert (self.status, self.body.get("status"), self.body.get("field")) == (status, status, field), self
        assert self.body.get("error"), self
        assert self.body.get("message"), self
        assert error is None or self.body["error"] == error, self
        assert says in self.body["message"], self


def call(service: Service, method: str, path: str, body: Any = b"", headers: dict[str, str] | None = None) -> Answer:
    connection = http.client.HTTPConnection(LOOPBACK, service.port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        data = answer.read()
        return Answer(answer.status, json.loads(data) if data else {})
    finally:
        connection.close()


def ingest(stack: Stack, body: Any, content_type: str = "application/json", **headers: str) -> Answer:
    auth = {"Authorization": f"Bearer {stack.ingest_key}", "Content-Type": content_type}
    return call(stack.ingest, "POST", "/v1/events/batch", body, auth | headers)


def raw(service: Service, request: bytes, *, half_close: bool = False, timeout: float = 10) -> Answer:
    """Bytes as they are over a socket (``half_close``: then the end of the stream); the answer up to the close."""
    with socket.create_connection((LOOPBACK, service.port), timeout=timeout) as sock:
        sock.sendall(request)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65_536):
            received += chunk
    head, _, data = received.partition(b"\r\n\r\n")
    return Answer(int(head.split()[1]), json.loads(data) if data.strip() else {})


def ingest_head(stack: Stack, length: int | str) -> bytes:
    return (
        f"POST /v1/events/batch HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {stack.ingest_key}"
        f"\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


GZIP = {"Content-Encoding": "gzip"}
JSON = "application/json"


# --- the ingest API ------------------------------------------------------------------------------------------------


def test_gzip_bombs_are_413_and_memory_stays_bounded(stack: Stack) -> None:
    over = limits.MAX_BATCH_BYTES_DECOMPRESSED + 1024 * 1024
    zeros = gzip.compress(b"\0" * over, 9)
    assert len(zeros) < 100_000
    ingest(stack, zeros, **GZIP).refused(413, "body", "payload_too_large", "decompressed")

    nils = 19_000_000  # a MessagePack array of 19 million nils: 19 MB inflated, 19 KB sent
    head = msgspec.msgpack.encode(batch())
    tiny = gzip.compress(head[: head.rindex(b"\xa6events") + 7] + b"\xdd" + struct.pack(">I", nils) + b"\xc0" * nils, 9)
    ingest(stack, tiny, "application/msgpack", **GZIP).refused(413, "$.events", "too_many_events", str(nils))
    zeros_json = json_of(batch())[:-1].replace(b'"events":[', b'"events":[' + b"0," * 9_000_000, 1) + b"}"
    ingest(stack, gzip.compress(zeros_json, 9), **GZIP).refused(413, "$.events", "too_many_events")

    wide = event(attributes={f"k{i:07d}": "" for i in range(1_400_000)})  # the widest map 20 MB of JSON can spell
    answer = ingest(stack, gzip.compress(json_of(batch(wide, event())), 1), **GZIP)
    assert (answer.status, [(r["index"], r["field"]) for r in answer.body["rejected"]]) == (202, [(0, "attributes")])

    noise = gzip.compress(os.urandom(limits.MAX_BATCH_BYTES_COMPRESSED + 1), 0)
    ingest(stack, noise, **GZIP).refused(413, "body", "payload_too_large", "compressed")
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (noise[: 1 << 20], noise[1 << 20 :]))
    streamed = ingest_head(stack, 0).replace(
        b"Content-Length: 0", b"Content-Encoding: gzip\r\nTransfer-Encoding: chunked"
    )
    raw(stack.ingest, streamed + chunks + b"0\r\n\r\n").refused(413, "body", "payload_too_large", "compressed")
    ingest(stack, b" " * (limits.MAX_BATCH_BYTES_COMPRESSED + 1)).refused(413, "body", "payload_too_large")

    stack.ingest.alive()
    assert stack.ingest.peak_rss_mb() < RSS_BOUND_MB


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (gzip.compress(json_of(batch()))[:-9], "truncated"),
        (gzip.compress(json_of(batch())) + b"garbage", "trailing"),
        (json_of(batch()), "not valid gzip"),
        (b"\x1f\x8b" + b"nonsense" * 10, "not valid gzip"),
    ],
    ids=["truncated", "trailing garbage", "identity body", "bad header"],
)
def test_broken_gzip_is_400_naming_the_body(stack: Stack, body: bytes, says: str) -> None:
    ingest(stack, body, **GZIP).refused(400, "body", "invalid_encoding", says)


@pytest.mark.parametrize("encoding", ["br", "deflate", "gzip, gzip", "compress", "zstd", "identity, gzip"])
def test_an_unknown_content_encoding_is_415_naming_the_header(stack: Stack, encoding: str) -> None:
    body = gzip.compress(gzip.compress(json_of(batch()))) if "gzip" in encoding else json_of(batch())
    ingest(stack, body, **{"Content-Encoding": encoding}).refused(415, "Content-Encoding", "unsupported_encoding")


def test_deep_nesting_is_400_and_the_next_request_on_the_connection_is_served(stack: Stack) -> None:
    arrays, objects = b"[" * DEEP + b"]" * DEEP, b'{"a":' * DEEP + b"1" + b"}" * DEEP
    good = json_of(batch())
    packed = msgspec.msgpack.encode(batch())
    assert packed[0] == 0x84  # a map of four: one more, "x", goes in front
    bodies = [
        (arrays, JSON),
        (good[:-1] + b',"x":' + objects + b"}", JSON),
        (good.replace(b'"status":200', b'"status":200,"x":' + arrays, 1), JSON),
        (b"\x85\xa1x" + b"\x91" * DEEP + b"\xc0" + packed[1:], "application/msgpack"),
    ]
    connection = http.client.HTTPConnection(LOOPBACK, stack.ingest.port, timeout=30)
    try:
        for body, content_type in bodies:
            headers = {"Authorization": f"Bearer {stack.ingest_key}", "Content-Type": content_type}
            connection.request("POST", "/v1/events/batch", body=body, headers=headers)
            answer = connection.getresponse()
            Answer(answer.status, json.loads(answer.read())).refused(400, "$", "invalid_batch")
        connection.request("POST", "/v1/events/batch", body=good, headers=headers | {"Content-Type": JSON})
        answer = connection.getresponse()
        assert (answer.status, json.loads(answer.read())["accepted"]) == (202, 1)
    finally:
        connection.close()
    stack.ingest.alive()


def test_huge_strings_reject_their_event_or_their_batch_by_field(stack: Stack) -> None:
    answer = ingest(stack, gzip.compress(json_of(batch(event(path="/" + "p" * 4_000_000), event())), 1), **GZIP)
    assert (answer.status, answer.body["accepted"]) == (202, 1), answer
    assert [(r["index"], r["field"]) for r in answer.body["rejected"]] == [(0, "path")]
    ingest(stack, json_of(batch(service="s" * 4_000_000))).refused(400, "$.service", "invalid_batch")
    user_agent = "u" * (limits.MAX_USER_AGENT_LENGTH + 1)
    ingest(stack, json_of(batch(event(user_agent=user_agent)))).refused(400, "$.events", "no_valid_event")
    stack.ingest.alive()


BAD_ENCODINGS: list[tuple[str, bytes, str, int, str, str]] = [
    ("latin-1 bytes", json_of(batch(event(path="/\u00e9"))).replace(b"\xc3\xa9", b"\xe9"), JSON, 400, "$.events", ""),
    ("declared latin-1", json_of(batch()), "application/json; charset=latin-1", 415, "Content-Type", ""),
    ("utf-16", json_of(batch()).decode().encode("utf-16"), JSON, 400, "$", "UTF-16"),
    ("utf-8 bom", b"\xef\xbb\xbf" + json_of(batch()), JSON, 400, "$", "byte order mark"),
    ("bad utf-8 in envelope", json_of(batch()).replace(b'"e2e"', b'"\xff"'), JSON, 400, "$", "UTF-8"),
    ("msgpack as json", msgspec.msgpack.encode(batch()), JSON, 400, "$", "not valid JSON"),
    ("json as msgpack", json_of(batch()), "application/msgpack", 400, "$", ""),
    ("form", b"events=1", "application/x-www-form-urlencoded", 415, "Content-Type", ""),
]  # fmt: skip


@pytest.mark.parametrize(("body", "content_type", "status", "field", "says"), [c[1:] for c in BAD_ENCODINGS],
                         ids=[c[0] for c in BAD_ENCODINGS])  # fmt: skip
def test_wrong_encodings_are_named(
    stack: Stack, body: bytes, content_type: str, status: int, field: str, says: str
) -> None:
    ingest(stack, body, content_type).refused(status, field, says=says)


def test_lying_content_lengths_and_vanishing_clients_are_client_errors(stack: Stack) -> None:
    good = json_of(batch())
    raw(stack.ingest, ingest_head(stack, len(good) + 100) + good, half_close=True).refused(
        400, "body", "incomplete_body"
    )
    assert raw(stack.ingest, ingest_head(stack, len(good) - 10) + good).status == 400
    raw(stack.ingest, ingest_head(stack, limits.MAX_BATCH_BYTES_COMPRESSED + 1), half_close=True).refused(413, "body")
    for length in ("-5", "12abc", "9" * 30):  # refused by the HTTP server itself, before the app
        assert raw(stack.ingest, ingest_head(stack, length) + good).status == 400
    for _ in range(5):  # a slow client sends part of its body, then its connection is reset
        sock = socket.create_connection((LOOPBACK, stack.ingest.port), timeout=5)
        sock.sendall(ingest_head(stack, 1_000_000))
        for _ in range(3):
            sock.sendall(b" " * 1_000)
            time.sleep(0.05)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    time.sleep(0.5)
    stack.ingest.alive()


def test_after_every_bad_request_a_valid_batch_lands_exactly_once(stack: Stack) -> None:
    bad: list[tuple[bytes, str, dict[str, str]]] = [(b, ct, {}) for _, b, ct, *_ in BAD_ENCODINGS]
    bad += [(b"[" * DEEP, JSON, {}), (gzip.compress(b"\0" * 30_000_000), JSON, GZIP), (b"{}", JSON, {"X": "y"})]
    for round_ in range(10):
        for body, content_type, headers in bad:
            assert ingest(stack, body, content_type, **headers).status in (400, 413, 415), round_
    sent = batch(event(), event(status=700))
    first, again = ingest(stack, json_of(sent)), ingest(stack, json_of(sent))
    assert (first.status, first.body["accepted"], first.body["duplicate"]) == (202, 1, False), first
    assert (again.status, again.body["accepted"], again.body["duplicate"]) == (202, 0, True), again
    client = redis.Redis.from_url(stack.redis_url)
    streams: list[list[tuple[bytes, dict[bytes, bytes]]]] = [client.xrange(key) for key in stream_keys(PARTITIONS)]  # type: ignore[misc]
    entries = [decode_entry(fields[b"d"]) for stream in streams for _, fields in stream]
    landed = [entry for entry in entries if str(entry.batch_id) == sent["batch_id"]]
    assert [len(entry.events) for entry in landed] == [1]
    assert str(landed[0].events[0].event_id) == sent["events"][0]["event_id"]
    stack.ingest.alive()


# --- the dashboard -------------------------------------------------------------------------------------------------

ROUTES = [
    ("POST", "/api/projects"),
    ("PATCH", "/api/projects/{project}"),
    ("POST", "/api/projects/{project}/keys"),
    ("POST", "/api/tokens"),
    ("POST", "/api/sse-tokens"),
    ("POST", "/api/orchestration/trigger-sync"),
    ("POST", "/api/orchestration/run-flow"),
    ("POST", "/api/projects/{project}/scripts"),
    ("POST", "/api/webhooks/sandbox-callback"),
]
DASHBOARD_BODIES: dict[str, tuple[bytes, str, int, str]] = {
    "deep arrays": (b"[" * DEEP + b"]" * DEEP, JSON, 400, "$"),
    "deep objects": (b'{"name":"x","a":' + b'{"a":' * DEEP + b"1" + b"}" * DEEP + b"}", JSON, 400, "$"),
    "invalid utf-8": (b'{"name":"\xff\xfe","project_id":"\xc3","job_id":"\xed\xa0\x80"}', JSON, 400, "$"),
    "utf-16": ('{"name": "x"}'.encode("utf-16"), JSON, 400, "$"),
    "over the size limit": (b'{"name":"' + b"n" * 11_000_000 + b'"}', JSON, 413, "body"),
    "text/plain": (b'{"name": "plain"}', "text/plain", 415, "Content-Type"),
    "msgpack": (msgspec.msgpack.encode({"name": "packed"}), "application/msgpack", 415, "Content-Type"),
    "form": (b"name=form", "application/x-www-form-urlencoded", 415, "Content-Type"),
}


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_dashboard_bodies_it_cannot_read_are_4xx_error_responses(stack: Stack, method: str, path: str) -> None:
    url = path.format(project=stack.project_id)
    for name, (body, content_type, status, field) in DASHBOARD_BODIES.items():
        headers = {"Authorization": f"Bearer {stack.token}", "Content-Type": content_type}
        answer = call(stack.dashboard, method, url, body, headers)
        assert answer.status == status, (name, answer)
        assert {"status", "error", "message", "field", "request_id"} <= set(answer.body), (name, answer)
        assert (answer.body["status"], answer.body["field"]) == (status, field), (name, answer)
        assert answer.body["message"], (name, answer)
    stack.dashboard.alive()
