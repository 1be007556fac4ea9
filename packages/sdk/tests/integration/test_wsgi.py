"""The generic WSGI middleware through werkzeug's test client, sending to a real local ingest server."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from werkzeug.test import Client as WerkzeugClient

from sentinel_sdk import Client
from sentinel_sdk.wsgi import SentinelMiddleware
from sentinel_types import Consumer

pytestmark = pytest.mark.integration


class Boom(RuntimeError):
    pass


def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes] | list[bytes]:
    """A few endpoints: JSON echo, a streamed body, a body written through ``write``, gzipped JSON, a failure."""
    path = environ["PATH_INFO"]
    if path == "/boom":
        raise Boom("no")
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([b"a" * 100, b"", b"b" * 250, b"c" * 50])
    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"x" * 30)
        return [b"y" * 12]
    if path == "/gzipped":
        start_response("200 OK", [("Content-Encoding", "gzip"), ("Content-Type", "application/json")])
        return [gzip.compress(b'{"email": "jane@example.com"}')]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b"{}"
    start_response("201 Created", [("Content-Type", "application/json")])
    return [body]


def served(client: Client, **options: Any) -> WerkzeugClient:
    """A test client that reads and closes every response, as a WSGI server does (unless ``buffered=False``)."""
    http = WerkzeugClient(SentinelMiddleware(app, client=client, **options))
    open_ = http.open
    http.open = lambda *args, **kwargs: open_(*args, **{"buffered": True, **kwargs})  # type: ignore[method-assign]
    return http


def test_a_route_resolver_names_the_route(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()
    http = served(client, route_resolver=lambda environ: "/things/{id}" if environ["PATH_INFO"] != "/" else None)
    answer = http.post(
        "/things/1", data=b'{"a": 1}', headers={"User-Agent": "probe/1"}, environ_base={"REMOTE_ADDR": "198.51.100.9"}
    )
    assert answer.status_code == 201
    http.get("/")
    client.flush()
    thing, root = ingest.wait_for_events(2)
    assert (thing.method, thing.route, thing.status, thing.request_size, thing.response_size) == (
        "POST",
        "/things/{id}",
        201,
        8,
        8,
    )
    assert (thing.client_ip, thing.user_agent) == ("198.51.100.9", "probe/1")
    assert root.route is None


def test_an_exception_is_recorded_as_a_500_and_raised_unchanged(
    ingest: Any, make_client: Callable[..., Client]
) -> None:
    client = make_client()
    with pytest.raises(Boom, match="no"):
        served(client).get("/boom")
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert (event.status, event.error) == (500, "Boom")


def test_streamed_and_written_bodies_are_counted_as_they_go(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()
    http = served(client)
    assert http.get("/stream").data == b"a" * 100 + b"b" * 250 + b"c" * 50
    http.get("/write")  # 30 bytes through write(), then 12 returned
    client.flush()
    stream, written = ingest.wait_for_events(2)
    assert (stream.response_size, stream.aborted) == (400, False)
    assert written.response_size == 42
    assert stream.ttfb_ms is not None
    assert stream.ttfb_ms <= stream.duration_ms


def test_a_body_closed_before_its_end_is_a_client_abort(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()
    response = served(client).get("/stream", buffered=False)
    chunks = iter(response.response)
    assert next(chunks) == b"a" * 100
    response.close()  # the client went away: the server closes the iterable
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert (event.aborted, event.response_size, event.status) == (True, 100, 200)


def test_identify_names_the_consumer(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()
    http = served(client, identify=lambda environ: Consumer(id=environ.get("HTTP_X_ACCOUNT", "anonymous")))
    http.get("/", headers={"X-Account": "acct_7"})
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert event.consumer == Consumer(id="acct_7")


def test_content_encoded_bodies_are_not_captured(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client(capture_bodies=True)
    http = served(client)
    compressed = gzip.compress(b'{"email": "jane@example.com"}')
    http.post("/echo", data=compressed, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    http.get("/gzipped")
    http.post("/echo", data=b'{"email": "jane@example.com"}', headers={"Content-Type": "application/json"})
    client.flush()
    encoded_request, encoded_response, plain = ingest.wait_for_events(3)
    assert (encoded_request.request_body, encoded_request.request_size) == (None, len(compressed))
    assert encoded_response.response_body is None
    assert encoded_response.response_size > 0
    assert plain.request_body is not None
    assert json.loads(plain.request_body) == {"email": "[EMAIL]"}
