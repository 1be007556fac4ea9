"""The generic ASGI middleware through httpx's ASGI transport: capture options and privacy end to end."""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from sentinel_sdk import Client, set_consumer
from sentinel_sdk.asgi import SentinelMiddleware

pytestmark = pytest.mark.integration

Scope = dict[str, Any]


async def echo_app(scope: Scope, receive: Any, send: Any) -> None:
    """Reads the whole request body and answers it back as JSON, with a few response headers."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"].startswith("/me"):
        set_consumer("acct_9")
    await send(
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [
                (b"content-type", b"application/json"),
                (b"set-cookie", b"session=abc"),
                (b"x-request-id", b"req-1"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body or b"{}"})


async def call(app: Any, method: str, url: str, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=("198.51.100.9", 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
        return await http.request(method, url, **kwargs)


async def test_a_route_resolver_names_the_route(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()
    app = SentinelMiddleware(echo_app, client=client, route_resolver=lambda scope: "/things/{id}")
    await call(app, "GET", "/things/1")
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert (event.route, event.status, event.client_ip, event.user_agent) == (
        "/things/{id}",
        201,
        "198.51.100.9",
        f"python-httpx/{httpx.__version__}",
    )


async def test_without_a_resolver_generic_asgi_reports_no_route(
    ingest: Any, make_client: Callable[..., Client]
) -> None:
    client = make_client()
    await call(SentinelMiddleware(echo_app, client=client), "GET", "/things/1")
    client.flush()
    assert ingest.wait_for_events(1)[0].route is None


async def test_request_bodies_are_counted_and_captured_with_redaction(
    ingest: Any, make_client: Callable[..., Client]
) -> None:
    client = make_client(capture_bodies=True)
    payload = {"email": "jane@example.com", "password": "hunter2", "items": [1, 2, 3]}
    sent = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    await call(SentinelMiddleware(echo_app, client=client), "POST", "/signup", content=sent, headers=headers)
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert (event.request_size, event.response_size) == (len(sent), len(sent))
    assert event.request_body is not None
    assert event.response_body is not None
    for body in (event.request_body, event.response_body):
        assert json.loads(body) == {"email": "[EMAIL]", "password": "[REDACTED]", "items": [1, 2, 3]}


async def test_bodies_are_capped_at_max_body_size(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client(capture_bodies=True, max_body_size=10)
    headers = {"Content-Type": "text/plain"}
    await call(
        SentinelMiddleware(echo_app, client=client), "POST", "/notes", content=b"0123456789abcdef", headers=headers
    )
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert (event.request_size, event.request_body) == (16, "0123456789")


async def test_binary_bodies_are_not_captured(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client(capture_bodies=True)
    headers = {"Content-Type": "application/octet-stream"}
    await call(SentinelMiddleware(echo_app, client=client), "POST", "/blob", content=b"\x00\x01", headers=headers)
    client.flush()
    assert ingest.wait_for_events(1)[0].request_body is None


async def test_bodies_are_not_captured_by_default(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()
    await call(SentinelMiddleware(echo_app, client=client), "POST", "/signup", json={"a": 1})
    client.flush()
    event = ingest.wait_for_events(1)[0]
    assert (event.request_body, event.response_body, event.request_headers) == (None, None, None)


async def test_allowlisted_headers_are_captured_with_secrets_redacted(
    ingest: Any, make_client: Callable[..., Client]
) -> None:
    client = make_client(capture_headers=["authorization", "x-tenant", "x-request-id", "set-cookie", "x-api-key"])
    headers = {"Authorization": "Bearer abc.def", "X-Tenant": "acme", "X-Api-Key": "k1", "Accept": "*/*"}
    await call(SentinelMiddleware(echo_app, client=client), "GET", "/h", headers=headers)
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert event.request_headers == {"authorization": "[REDACTED]", "x-tenant": "acme", "x-api-key": "[REDACTED]"}
    assert event.response_headers == {"set-cookie": "[REDACTED]", "x-request-id": "req-1"}


async def test_capture_all_headers_still_redacts(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client(capture_headers=True)
    await call(SentinelMiddleware(echo_app, client=client), "GET", "/h", headers={"Cookie": "sid=1"})
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert event.request_headers is not None
    assert event.request_headers["cookie"] == "[REDACTED]"
    assert event.request_headers["host"] == "api.test"


async def test_paths_and_queries_are_scrubbed_before_sending(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()
    url = "/users/jane@example.com/cards/4111111111111111?token=abc&note=call%20jane%40example.com&page=2"
    await call(SentinelMiddleware(echo_app, client=client), "GET", url)
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert event.path == "/users/[EMAIL]/cards/[CARD]?token=[REDACTED]&note=call+[EMAIL]&page=2"
    raw = b"".join(received.body for received in ingest.received)
    assert b"jane" not in raw
    assert b"4111111111111111" not in raw


async def test_spoofed_forwarded_for_is_ignored_without_trusted_proxies(
    ingest: Any, make_client: Callable[..., Client]
) -> None:
    client = make_client()
    await call(SentinelMiddleware(echo_app, client=client), "GET", "/", headers={"X-Forwarded-For": "6.6.6.6"})
    client.flush()
    assert ingest.wait_for_events(1)[0].client_ip == "198.51.100.9"


async def test_forwarded_for_is_resolved_behind_trusted_proxies(
    ingest: Any, make_client: Callable[..., Client]
) -> None:
    client = make_client(trusted_proxies=["198.51.100.0/24"], anonymize_ip="truncate")
    headers = {"X-Forwarded-For": "6.6.6.6, 203.0.113.77"}
    await call(SentinelMiddleware(echo_app, client=client), "GET", "/", headers=headers)
    client.flush()
    assert ingest.wait_for_events(1)[0].client_ip == "203.0.113.0"


async def test_set_consumer_inside_the_app_is_recorded(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()
    await call(SentinelMiddleware(echo_app, client=client), "GET", "/me")
    client.flush()
    consumer = ingest.wait_for_events(1)[0].consumer
    assert consumer is not None
    assert consumer.id == "acct_9"


async def test_sampled_out_requests_are_counted_in_the_next_batches(
    ingest: Any, make_client: Callable[..., Client]
) -> None:
    client = make_client(sample_rate=0.5)
    app = SentinelMiddleware(echo_app, client=client)
    random.seed(7)
    for _ in range(60):
        await call(app, "GET", "/sampled")
    client.flush()
    events = ingest.events()
    dropped = ingest.dropped()
    assert 0 < len(events) < 60
    assert len(events) + dropped.sampled_out + client.pending_losses().sampled_out == 60
    assert all(batch.sample_rate == 0.5 for batch in ingest.accepted())


async def test_the_sdk_reports_its_own_capture_cost(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()
    app = SentinelMiddleware(echo_app, client=client)
    for _ in range(130):
        await call(app, "GET", "/measured")
    client.flush()
    ingest.wait_for_events(130)
    overheads = [batch.overhead for batch in ingest.accepted() if batch.overhead is not None]
    assert sum(overhead.samples for overhead in overheads) == 2  # one request in 64
    assert all(0 < overhead.p50_us <= overhead.p99_us for overhead in overheads)


async def test_non_http_scopes_pass_through(make_client: Callable[..., Client]) -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    await SentinelMiddleware(app, client=make_client())({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan"]


async def test_an_inactive_client_leaves_requests_alone(ingest: Any) -> None:
    client = Client(api_key=None, endpoint=None, enabled=False)
    response = await call(SentinelMiddleware(echo_app, client=client), "GET", "/x")
    assert response.status_code == 201
    assert client.flush(timeout=0.1)
    assert ingest.received == []


async def streaming_app(scope: Scope, receive: Any, send: Any) -> None:
    """Three body chunks (sizes 100, 0, 250) after a start; ``/boom`` fails before answering."""
    if scope["path"] == "/boom":
        raise LookupError("missing")
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    for chunk, more in ((b"a" * 100, True), (b"", True), (b"b" * 250, False)):
        await send({"type": "http.response.body", "body": chunk, "more_body": more})


async def test_an_exception_is_recorded_and_raised_unchanged(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()
    with pytest.raises(LookupError, match="missing"):
        await call(SentinelMiddleware(streaming_app, client=client), "GET", "/boom")
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert (event.status, event.error) == (500, "LookupError")


async def test_streamed_bodies_are_counted_chunk_by_chunk(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()
    answer = await call(SentinelMiddleware(streaming_app, client=client), "GET", "/stream")
    assert len(answer.content) == 350
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert (event.response_size, event.aborted) == (350, False)
    assert event.ttfb_ms is not None
    assert event.ttfb_ms <= event.duration_ms


async def test_a_client_that_leaves_mid_body_is_an_abort(
    ingest: Any, make_client: Callable[..., Client], http_scope: Callable[[str], dict[str, Any]]
) -> None:
    client = make_client()
    sent: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            if sent:
                raise ConnectionResetError("client gone")  # how servers report a vanished client
            sent.append(len(message["body"]))

    with pytest.raises(ConnectionResetError):
        await SentinelMiddleware(streaming_app, client=client)(http_scope("/stream"), receive, send)
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert (event.aborted, event.status) == (True, 200)
    assert sent == [100]


async def test_a_disconnect_before_the_end_of_the_body_is_an_abort(
    ingest: Any, make_client: Callable[..., Client], http_scope: Callable[[str], dict[str, Any]]
) -> None:
    client = make_client()

    async def listening_app(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        assert (await receive())["type"] == "http.disconnect"  # the app notices and stops

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        pass

    await SentinelMiddleware(listening_app, client=client)(http_scope("/stream"), receive, send)
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert (event.aborted, event.response_size) == (True, 7)


async def test_content_encoded_bodies_are_not_captured(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client(capture_bodies=True)

    async def gzipped_app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        headers = [(b"content-type", b"application/json"), (b"content-encoding", b"gzip")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": gzip.compress(b'{"email": "jane@example.com"}')})

    compressed = gzip.compress(b'{"email": "jane@example.com"}')
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    await call(SentinelMiddleware(gzipped_app, client=client), "POST", "/in", content=compressed, headers=headers)
    await call(SentinelMiddleware(echo_app, client=client), "POST", "/plain", json={"email": "jane@example.com"})
    client.flush()
    encoded, plain = ingest.wait_for_events(2)
    assert (encoded.request_body, encoded.response_body) == (None, None)
    assert encoded.request_size == len(compressed)
    assert plain.request_body is not None
    assert json.loads(plain.request_body) == {"email": "[EMAIL]"}
