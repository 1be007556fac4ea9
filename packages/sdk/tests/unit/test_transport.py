"""The sender's HTTP/1.1 client against a raw socket server that answers exactly the bytes each test scripts."""

from __future__ import annotations

import datetime
import gzip
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sentinel_sdk._transport import Transport

pytestmark = pytest.mark.unit

OK = b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


@dataclass
class Request:
    head: dict[str, str]
    request_line: str
    body: bytes


@dataclass
class RawServer:
    """Answers the n-th request with ``answers[n]`` (raw bytes; ``None``: close without answering; a tuple:
    the answer, then close)."""

    answers: list[bytes | tuple[bytes, str] | None]
    port: int = 0
    delay: float = 0.0
    """Seconds to think before each answer."""
    tls: ssl.SSLContext | None = None
    requests: list[Request] = field(default_factory=list)
    connections: int = 0

    def serve(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            self.connections += 1
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while True:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, data = data.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {
                    name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])
                }
                length = int(headers.get("content-length", "0"))
                while len(data) < length:
                    data += conn.recv(65536)
                self.requests.append(Request(headers, lines[0], data[:length]))
                data = data[length:]
                answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
                time.sleep(self.delay)
                if answer is None:
                    return
                if isinstance(answer, tuple):
                    conn.sendall(answer[0])
                    return
                conn.sendall(answer)


@pytest.fixture
def raw_server() -> Iterator[RawServer]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    server = RawServer(answers=[OK], port=listener.getsockname()[1])
    threading.Thread(target=server.serve, args=(listener,), daemon=True).start()
    yield server
    listener.close()


def transport(server: RawServer, compress: bool = True) -> Transport:
    return Transport(f"http://127.0.0.1:{server.port}/prefix/", "sk_test", "msgpack", compress, "sentinel-test/1")


def test_a_batch_is_one_well_formed_request(raw_server: RawServer) -> None:
    reply = transport(raw_server).post(b"batch body", timeout=5)
    assert (reply.status, reply.body, reply.retry_after) == (202, b"{}", None)
    [request] = raw_server.requests
    assert request.request_line == "POST /prefix/v1/events/batch HTTP/1.1"
    assert request.head["host"] == f"127.0.0.1:{raw_server.port}"
    assert request.head["authorization"] == "Bearer sk_test"
    assert request.head["content-type"] == "application/msgpack"
    assert request.head["content-encoding"] == "gzip"
    assert request.head["user-agent"] == "sentinel-test/1"
    assert gzip.decompress(request.body) == b"batch body"


def test_without_compression_the_body_goes_as_it_is(raw_server: RawServer) -> None:
    transport(raw_server, compress=False).post(b"plain", timeout=5)
    assert raw_server.requests[0].body == b"plain"
    assert "content-encoding" not in raw_server.requests[0].head


def test_batches_share_one_kept_alive_connection(raw_server: RawServer) -> None:
    client = transport(raw_server)
    for _ in range(5):
        assert client.post(b"x", timeout=5).status == 202
    assert (len(raw_server.requests), raw_server.connections) == (5, 1)


def test_a_chunked_answer_with_extensions_and_trailers_is_read_and_the_connection_kept(raw_server: RawServer) -> None:
    raw_server.answers = [
        b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'5;ext=1\r\n{"acc\r\n6\r\nepted"\r\n3\r\n: 1\r\n1\r\n}\r\n0\r\nX-Trailer: yes\r\n\r\n',
        OK,
    ]
    client = transport(raw_server)
    assert client.post(b"x", timeout=5).body == b'{"accepted": 1}'
    assert client.post(b"x", timeout=5).body == b"{}"
    assert raw_server.connections == 1


def test_interim_answers_are_skipped(raw_server: RawServer) -> None:
    raw_server.answers = [b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + OK]
    assert transport(raw_server).post(b"x", timeout=5).status == 202


def test_connection_close_opens_a_new_connection_for_the_next_batch(raw_server: RawServer) -> None:
    raw_server.answers = [
        (b"HTTP/1.1 202 Accepted\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}", "close"),
        OK,
    ]
    client = transport(raw_server)
    assert client.post(b"x", timeout=5).status == 202
    assert client.post(b"x", timeout=5).status == 202
    assert raw_server.connections == 2


def test_an_answer_delimited_by_the_end_of_the_connection_is_read_whole(raw_server: RawServer) -> None:
    raw_server.answers = [(b"HTTP/1.0 503 Service Unavailable\r\nRetry-After: 7\r\n\r\nbusy, come back", "close"), OK]
    client = transport(raw_server)
    reply = client.post(b"x", timeout=5)
    assert (reply.status, reply.retry_after, reply.body) == (503, 7.0, b"busy, come back")
    assert client.post(b"x", timeout=5).status == 202
    assert raw_server.connections == 2


def test_bytes_past_the_answer_end_the_connection(raw_server: RawServer) -> None:
    raw_server.answers = [OK + b"HTTP/1.1 200 OK\r\n", OK]
    client = transport(raw_server)
    client.post(b"x", timeout=5)
    assert client.post(b"x", timeout=5).status == 202
    assert raw_server.connections == 2


@pytest.mark.parametrize(
    "answer",
    [
        b"SMTP ready\r\n\r\n",
        b"HTTP/1.1 2x2 Odd\r\n\r\n",
        b"HTTP/1.1 202 Accepted\r\nContent-Length: two\r\n\r\n{}",
        b"HTTP/1.1 202 Accepted\r\nContent-Length: 2, 3\r\n\r\n{}",
        b"HTTP/1.1 202 Accepted\r\nContent-Length: 99999999\r\n\r\n{}",
        b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
        b"HTTP/1.1 099 Low\r\n\r\n",
        "HTTP/1.1 2\u00b20 Odd\r\n\r\n".encode("latin-1"),
        "HTTP/1.1 202 Accepted\r\nContent-Length: \u00b2\r\n\r\n{}".encode("latin-1"),
        b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n",
        b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n0x2\r\n{}\r\n0\r\n\r\n",
        b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{}\r\n0\r\n\r\n",
    ],
    ids=[
        "not-http",
        "bad-status",
        "bad-length",
        "two-lengths",
        "huge-length",
        "bad-chunk",
        "switching",
        "status-below-100",
        "superscript-status",
        "superscript-length",
        "negative-chunk",
        "prefixed-chunk",
        "chunk-longer-than-its-size",
    ],
)
def test_an_answer_that_is_not_http_is_an_error_and_the_connection_is_dropped(
    raw_server: RawServer, answer: bytes
) -> None:
    raw_server.answers = [answer, OK]
    client = transport(raw_server)
    with pytest.raises(http.client.HTTPException):
        client.post(b"x", timeout=5)
    assert client.post(b"x", timeout=5).status == 202
    assert raw_server.connections == 2


def test_bare_line_feeds_are_accepted(raw_server: RawServer) -> None:
    raw_server.answers = [
        b"HTTP/1.1 202 Accepted\nTransfer-Encoding: chunked\n\n2\n{}\n0\n\n",
        b"HTTP/1.1 429 Too Many\nRetry-After: 3\nContent-Length: 2\n\n{}",
    ]
    client = transport(raw_server)
    assert client.post(b"x", timeout=5).body == b"{}"
    assert client.post(b"x", timeout=5).retry_after == 3.0
    assert raw_server.connections == 1


def test_a_transfer_coding_other_than_chunked_is_read_to_the_close(raw_server: RawServer) -> None:
    raw_server.answers = [
        (b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: gzip\r\nContent-Length: 1\r\n\r\nabc", "close")
    ]
    assert transport(raw_server).post(b"x", timeout=5).body == b"abc"


def test_chunked_with_a_content_length_is_not_kept_alive(raw_server: RawServer) -> None:
    raw_server.answers = [
        b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n0\r\n\r\n",
        OK,
    ]
    client = transport(raw_server)
    client.post(b"x", timeout=5)
    client.post(b"x", timeout=5)
    assert raw_server.connections == 2


def test_the_answer_is_asked_for_uncompressed(raw_server: RawServer) -> None:
    transport(raw_server).post(b"x", timeout=5)
    assert raw_server.requests[0].head["accept-encoding"] == "identity"


def test_a_head_that_never_ends_is_an_error(raw_server: RawServer) -> None:
    raw_server.answers = [(b"HTTP/1.1 202 Accepted\r\n" + b"X-Pad: " + b"a" * 100_000 + b"\r\n", "close")]
    with pytest.raises(http.client.HTTPException):
        transport(raw_server).post(b"x", timeout=5)


def test_a_body_cut_short_is_an_error(raw_server: RawServer) -> None:
    raw_server.answers = [(b"HTTP/1.1 202 Accepted\r\nContent-Length: 10\r\n\r\n{}", "close")]
    with pytest.raises(http.client.IncompleteRead):
        transport(raw_server).post(b"x", timeout=5)


def test_a_closed_kept_alive_connection_is_retried_once_on_a_new_one(raw_server: RawServer) -> None:
    raw_server.answers = [(OK, "close"), OK]  # closes after answering, without saying so
    client = transport(raw_server)
    client.post(b"first", timeout=5)
    time.sleep(0.05)  # the close reaches this side
    assert client.post(b"second", timeout=5).status == 202
    assert [gzip.decompress(r.body) for r in raw_server.requests] == [b"first", b"second"]


def test_a_new_connection_closed_without_an_answer_is_not_retried_here(raw_server: RawServer) -> None:
    raw_server.answers = [None]
    with pytest.raises(http.client.RemoteDisconnected):
        transport(raw_server).post(b"x", timeout=5)
    assert len(raw_server.requests) == 1  # the sender's backoff decides about the next attempt


@pytest.mark.parametrize(
    "body",
    [b"x", b"x" * 64_000_000],  # the answer never comes; the send never ends (far more than socket buffers hold)
    ids=["never-answers", "never-reads"],
)
def test_a_server_that_stops_responding_times_out(body: bytes) -> None:
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(1)
        client = Transport(f"http://127.0.0.1:{hole.getsockname()[1]}", "k", "msgpack", False, "t")
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            client.post(body, timeout=0.3)
        assert time.monotonic() - started < 3


class RecordingAttendant:
    def __init__(self, slice_s: float) -> None:
        self.slice_s = slice_s
        self.calls: list[str] = []

    def tend(self) -> float:
        self.calls.append("tend")
        return self.slice_s

    def leave(self) -> None:
        self.calls.append("leave")


def test_the_wait_for_an_answer_is_cut_into_the_slices_the_attendant_asks_for(raw_server: RawServer) -> None:
    raw_server.delay = 0.3
    attendant = RecordingAttendant(0.02)
    reply = transport(raw_server).post(b"x", timeout=5, attendant=attendant)
    assert (reply.status, reply.body) == (202, b"{}")
    assert attendant.calls[0] == "leave"  # before connecting and sending
    assert attendant.calls[-2:] == ["leave", "tend"]  # the rest of the answer read, then nothing blocks
    waits = attendant.calls[1:-2]
    assert set(waits) == {"tend"}
    assert len(waits) >= 5  # 0.3 s in slices of 0.02 s


def test_the_timeout_bounds_a_wait_cut_into_slices() -> None:
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(1)
        client = Transport(f"http://127.0.0.1:{hole.getsockname()[1]}", "k", "msgpack", False, "t")
        attendant = RecordingAttendant(0.05)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            client.post(b"x", timeout=0.3, attendant=attendant)
        assert 0.25 < time.monotonic() - started < 3
        assert attendant.calls.count("tend") >= 3
        assert attendant.calls[-1] == "leave"


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_over_tls_a_wait_cut_into_slices_leaves_the_session_usable(tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    server = RawServer(answers=[OK], port=listener.getsockname()[1], delay=0.2, tls=server_context)
    threading.Thread(target=server.serve, args=(listener,), daemon=True).start()
    try:
        client = Transport(f"https://127.0.0.1:{server.port}", "k", "msgpack", False, "t")
        client._ssl = ssl.create_default_context(cafile=str(cert))
        for _ in range(3):  # the same TLS connection each time, after reads that timed out
            attendant = RecordingAttendant(0.02)
            reply = client.post(b"x", timeout=5, attendant=attendant)
            assert (reply.status, reply.body) == (202, b"{}")
            assert attendant.calls.count("tend") >= 5
        assert (len(server.requests), server.connections) == (3, 1)
    finally:
        listener.close()


def test_the_host_header_names_a_default_port_and_an_ipv6_address_as_http_wants() -> None:
    assert b"\r\nHost: ingest.example.com\r\n" in Transport("https://ingest.example.com", "k", "json", False, "t")._head
    assert b"\r\nHost: [::1]:8080\r\n" in Transport("http://[::1]:8080", "k", "json", False, "t")._head
    assert (
        b"\r\nHost: xn--bcher-kva.example\r\n"
        in Transport("https://b\u00fccher.example", "k", "json", False, "t")._head
    )
