"""Load shedding on a real server: past its limit of batches in work, or of batch bytes held, a batch is refused
at once with 503 and Retry-After, its body drained so that the connection stays usable, and nothing refused is
ever enqueued."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
import redis
from ingest_helpers import batch, event, ingest_process, seed_key

from sentinel_local import RedisEngine
from sentinel_queue import stream_key
from sentinel_types import encode

REDIS_DB = 6
PARTITIONS = 4


class Server:
    def __init__(self, port: int, key: str, redis_url: str) -> None:
        self.port, self.key, self.redis_url = port, key, redis_url

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)

    def head(self, body_length: int, key: str | None = None) -> bytes:
        return (
            f"POST /v1/events/batch HTTP/1.1\r\nHost: ingest\r\nAuthorization: Bearer {key or self.key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {body_length}\r\n\r\n"
        ).encode()

    def queued(self) -> int:
        client = redis.Redis.from_url(self.redis_url)
        try:
            return sum(client.xlen(stream_key(partition)) for partition in range(PARTITIONS))
        finally:
            client.close()


def answer(connection: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 answer read off the socket: status, lower-cased headers, body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65_536)
        assert chunk, "the server closed the connection before answering"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    while len(body) < int(headers.get("content-length", "0")):
        chunk = connection.recv(65_536)
        assert chunk, "the server closed the connection in the middle of its answer"
        body += chunk
    return int(status_line.split()[1]), headers, body


def serve(tmp_path: Path, redis_server: RedisEngine, **env: str) -> Iterator[Server]:
    redis_url = f"{redis_server.url.rsplit('/', 1)[0]}/{REDIS_DB}"
    redis.Redis.from_url(redis_url).flushdb()
    key = asyncio.run(seed_key(tmp_path / "control.db"))
    with ingest_process(redis_url, tmp_path / "control.db", SENTINEL_REDIS_PARTITIONS=str(PARTITIONS), **env) as (
        url,
        _,
    ):
        yield Server(int(url.rsplit(":", 1)[1]), key, redis_url)


@pytest.fixture
def server(tmp_path: Path, redis_server: RedisEngine) -> Iterator[Server]:
    yield from serve(tmp_path, redis_server, SENTINEL_INGEST_MAX_IN_FLIGHT="2")


@pytest.fixture
def tight_server(tmp_path: Path, redis_server: RedisEngine) -> Iterator[Server]:
    """At most 1 MiB of batch bytes held at once; the queue's backlog read once a minute."""
    env = {"SENTINEL_INGEST_MAX_BODY_BYTES_IN_FLIGHT": str(2**20), "SENTINEL_INGEST_LAG_MAX_AGE_S": "60"}
    yield from serve(tmp_path, redis_server, **env)


def test_past_the_limit_a_batch_is_refused_at_once_and_the_connection_kept(server: Server) -> None:
    # The refused batch is large (~2.5 MB): far more than the socket buffers hold if it were never read.
    large = msgspec.structs.replace(
        batch(), events=[event(user_agent="x" * 500, path="/items/" + "1" * 1_900) for _ in range(1_000)]
    )
    bodies = [encode(batch(events=3), "json"), encode(batch(events=3), "json"), encode(large, "json")]
    assert len(bodies[2]) > 2_000_000
    held = []
    for body in bodies[:2]:  # two batches in work: their bodies arrive only in part
        connection = server.connect()
        connection.sendall(server.head(len(body)) + body[:10])
        held.append(connection)

    # Admission comes before authentication: once both batches are in work, even an unknown key gets a 503.
    probe = server.connect()
    deadline = time.monotonic() + 10
    while True:
        probe.sendall(server.head(2, key="unknown") + b"{}")
        status, _, _ = answer(probe)
        if status == 503 or time.monotonic() > deadline:
            break
        probe.close()
        probe = server.connect()
    assert status == 503, "two batches in work never filled a limit of two"

    refused = server.connect()
    for _ in range(2):  # the same connection twice: the refused body was drained, the connection kept open
        refused.sendall(server.head(len(bodies[2])) + bodies[2])
        status, headers, body = answer(refused)
        assert status == 503
        assert b'"error":"overloaded"' in body.replace(b" ", b"")
        assert headers["retry-after"] == "1"
        assert headers.get("connection", "keep-alive") != "close"
    assert server.queued() == 0, "a refused batch was enqueued"

    for connection, body in zip(held, bodies[:2], strict=True):
        connection.sendall(body[10:])
        assert answer(connection)[0] == 202
    refused.sendall(server.head(len(bodies[2])) + bodies[2])
    assert answer(refused)[0] == 202, "slots freed by finished batches are taken again"
    assert server.queued() == 3
    for connection in (*held, refused, probe):
        connection.close()


def test_every_keep_alive_client_is_served_past_a_thousand_connections(server: Server) -> None:
    """Each SDK holds a keep-alive connection: open ones, idle or not, must not leave the next client unserved."""
    connections = []
    try:
        for _ in range(1_100):
            connection = server.connect()
            connection.settimeout(5)
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: ingest\r\n\r\n")
            assert answer(connection)[0] == 200, f"client {len(connections) + 1} was not served"
            connections.append(connection)
    finally:
        for connection in connections:
            connection.close()


def test_past_the_byte_budget_a_batch_is_refused_and_one_alone_always_served(tight_server: Server) -> None:
    server = tight_server
    big = [
        encode(msgspec.structs.replace(batch(), events=[event(path="/p/" + "7" * 600) for _ in range(1_000)]), "json")
        for _ in range(3)
    ]
    assert all(600_000 < len(body) < 2**20 for body in big), "two of them must not fit in 1 MiB; one must"
    warm = server.connect()
    small = encode(batch(), "json")
    warm.sendall(server.head(len(small)) + small)
    assert answer(warm)[0] == 202  # the key and the backlog are cached from now on

    # Writes paused: the first big batch holds its bytes while it waits for the queue.
    pauser = redis.Redis.from_url(server.redis_url)
    pauser.execute_command("CLIENT", "PAUSE", "2000", "WRITE")
    first = server.connect()
    first_answer: list[int] = []
    first.sendall(server.head(len(big[0])) + big[0])
    waiting = threading.Thread(target=lambda: first_answer.append(answer(first)[0]))
    waiting.start()
    time.sleep(0.5)
    second = server.connect()
    second.sendall(server.head(len(big[1])) + big[1])
    status, headers, body = answer(second)
    assert not first_answer, "the first batch was answered before the pause ended: nothing was held"
    assert status == 503
    assert b'"error":"overloaded"' in body.replace(b" ", b"")
    assert b"bytes" in body
    assert headers["retry-after"] == "1"

    waiting.join(10)
    assert first_answer == [202]
    second.sendall(server.head(len(big[2])) + big[2])
    assert answer(second)[0] == 202, "the bytes of a finished batch are given back"
    assert server.queued() == 3
    for connection in (warm, first, second):
        connection.close()
    pauser.close()
