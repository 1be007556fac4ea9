"""Flask through its test client, sending to a real local ingest server."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

flask = pytest.importorskip("flask")

from sentinel_sdk import Client, Consumer, set_consumer  # noqa: E402
from sentinel_sdk.flask import Sentinel  # noqa: E402

pytestmark = pytest.mark.integration


def make_app(client: Client, *, propagate: bool = False, **options: Any) -> Any:
    app = flask.Flask("sentinel-test")
    app.config["PROPAGATE_EXCEPTIONS"] = propagate
    api = flask.Blueprint("api", __name__, url_prefix="/api")

    @api.get("/users/<int:user_id>/posts/<slug>")
    def post(user_id: int, slug: str) -> dict[str, Any]:
        return {"user": user_id, "slug": slug}

    @api.get("/fail")
    def fail() -> str:
        raise ZeroDivisionError("no")

    @api.get("/stream")
    def stream() -> Any:
        def body() -> Iterator[bytes]:
            yield b"a" * 1_000
            yield b"b" * 2_000

        return flask.Response(body(), mimetype="text/plain")

    @api.get("/text-stream")
    def text_stream() -> Any:
        def body() -> Iterator[str]:
            yield "héllo "  # 7 bytes in UTF-8
            yield "wörld"  # 6

        return flask.Response(body(), mimetype="text/plain")

    @api.get("/empty")
    def empty() -> Any:
        return "", 204

    @api.get("/file")
    def file() -> Any:
        return flask.send_file(io.BytesIO(b"f" * 5_000), mimetype="application/octet-stream")

    @api.get("/nested")
    def nested() -> Any:
        with flask.current_app.test_request_context("/inner"):  # a request made inside a view
            inner = flask.current_app.full_dispatch_request()
        return flask.Response(f"inner {inner.status_code}", status=207)

    @api.get("/rewrapped")
    def rewrapped() -> Any:
        from werkzeug.wrappers import Request

        return f"{Request(flask.request.environ).path}"  # a second request object on the same environ

    @api.get("/pieces")
    def pieces() -> Any:
        return flask.Response((b"ab", b"cd"), mimetype="text/plain")

    @api.post("/echo")
    def echo() -> Any:
        flask.g.account = flask.request.headers.get("x-account")
        return flask.request.get_data()

    @api.get("/me")
    def me() -> str:
        set_consumer(Consumer(id="acct_5", name="Five"))
        return "me"

    app.register_blueprint(api)
    Sentinel(app, client=client, **options)
    return app


def wsgi_environ(method: str, path: str, body: Any = b"", **extra: Any) -> dict[str, Any]:
    """A WSGI environ as a server gives it, for calling the app directly."""
    stream = io.BytesIO(body) if isinstance(body, bytes) else body
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_NAME": "test",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": stream,
        **extra,
    }


def served(app: Any) -> Any:
    """A test client that reads and closes every response, as a WSGI server does."""
    http = app.test_client()
    open_ = http.open
    http.open = lambda *args, **kwargs: open_(*args, buffered=True, **kwargs)
    return http


def test_url_rules_with_blueprint_prefixes_become_templates(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()
    assert served(make_app(client)).get("/api/users/3/posts/hello").status_code == 200
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert (event.route, event.path, event.status) == (
        "/api/users/{user_id}/posts/{slug}",
        "/api/users/3/posts/hello",
        200,
    )


def test_an_exception_turned_into_a_500_by_flask_is_recorded(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()
    assert served(make_app(client)).get("/api/fail").status_code == 500
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert (event.status, event.error, event.route) == (500, "ZeroDivisionError", "/api/fail")


def test_a_propagated_exception_is_re_raised_unchanged(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()
    app = make_app(client, propagate=True, identify=lambda request: Consumer(id="acct_9"))
    with pytest.raises(ZeroDivisionError, match="no"):
        served(app).get("/api/fail")
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert (event.status, event.error, event.route, event.consumer) == (
        500,
        "ZeroDivisionError",
        "/api/fail",
        Consumer(id="acct_9"),
    )


def test_streamed_responses_are_counted(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()
    response = served(make_app(client)).get("/api/stream")
    assert len(response.data) == 3_000
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert event.response_size == 3_000
    assert event.ttfb_ms is not None


def test_request_sizes_and_unknown_routes(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()
    http = served(make_app(client))
    http.post("/api/echo", data=b"x" * 123)
    http.get("/missing")
    client.flush()
    echo, missing = ingest.wait_for_events(2)
    assert (echo.request_size, echo.response_size, echo.route) == (123, 123, "/api/echo")
    assert (missing.status, missing.route) == (404, None)


def test_allowlisted_headers_are_captured_with_secrets_redacted(
    ingest: Any, make_client: Callable[..., Client]
) -> None:
    client = make_client(capture_headers=["x-tenant", "authorization", "content-type", "x-missing"])
    headers = {"X-Tenant": "acme", "Authorization": "Basic dXNlcjpwYXNz", "X-Other": "no"}
    served(make_app(client)).post("/api/echo", data=b"{}", headers=headers, content_type="application/json")
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert event.request_headers == {
        "x-tenant": "acme",
        "authorization": "[REDACTED]",
        "content-type": "application/json",
    }
    assert event.response_headers == {"content-type": "text/html; charset=utf-8"}


def test_consumers_come_from_set_consumer_or_identify(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()

    def identify(request: Any) -> Consumer | None:
        account = getattr(flask.g, "account", None)
        return Consumer(id=account) if account else None

    http = served(make_app(client, identify=identify))
    http.get("/api/me")
    http.post("/api/echo", data=b"{}", headers={"x-account": "acct_6"})
    client.flush()
    me, echo = ingest.wait_for_events(2)
    assert me.consumer == Consumer(id="acct_5", name="Five")
    assert echo.consumer == Consumer(id="acct_6")


def test_text_streams_are_counted_in_bytes_as_sent(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()
    response = served(make_app(client)).get("/api/text-stream")
    assert response.data == "héllo wörld".encode()
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert (event.status, event.response_size, event.aborted) == (200, 13, False)


def test_a_stream_closed_before_its_end_is_an_abort(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()
    app = make_app(client)
    environ = wsgi_environ("GET", "/api/stream")
    result = app(environ, lambda status, headers, exc_info=None: None)
    chunks = iter(result)
    assert next(chunks) == b"a" * 1_000  # the client goes away after the first chunk
    result.close()
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert (event.status, event.response_size, event.aborted, event.route) == (200, 1_000, True, "/api/stream")


def test_bodiless_answers_and_files(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()
    http = served(make_app(client))
    assert http.head("/api/users/3/posts/x").status_code == 200
    assert http.get("/api/empty").status_code == 204
    assert len(http.get("/api/file").data) == 5_000
    client.flush()
    head, empty, file = ingest.wait_for_events(3)
    assert (head.method, head.status, head.response_size, head.aborted) == ("HEAD", 200, 0, False)
    assert (empty.status, empty.response_size) == (204, 0)
    assert (file.status, file.response_size, file.route, file.aborted) == (200, 5_000, "/api/file", False)
    assert all(event.ttfb_ms is not None and event.ttfb_ms <= event.duration_ms for event in (head, empty, file))


def test_bodies_are_captured_when_asked(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client(capture_bodies=True)
    http = served(make_app(client))
    http.post("/api/echo", data=b'{"a": 1}', content_type="application/json")
    http.get("/api/text-stream")
    client.flush()
    echo, stream = ingest.wait_for_events(2)
    assert (echo.request_body, echo.response_body) == ('{"a":1}', '{"a": 1}')  # JSON is re-encoded once redacted
    assert stream.response_body == "héllo wörld"


def test_requests_dispatched_to_another_app_are_not_captured_and_say_so(
    ingest: Any, make_client: Callable[..., Client], caplog: pytest.LogCaptureFixture
) -> None:
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    def other(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"other"]

    client = make_client()
    app = flask.Flask("sentinel-dispatch")
    app.add_url_rule("/own", "own", lambda: "own")
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/other": other})  # type: ignore[method-assign]
    Sentinel(app, client=client)
    http = served(app)
    assert http.get("/other/x").data == b"other"
    assert http.get("/own").data == b"own"
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert event.route == "/own"
    assert "not made by the Flask app" in caplog.text


def test_chunked_uploads_and_non_ascii_paths(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()
    app = make_app(client)
    # The server de-chunked the body and marks its end.
    environ = wsgi_environ(
        "POST", "/api/echo", b"z" * 777, HTTP_TRANSFER_ENCODING="chunked", **{"wsgi.input_terminated": True}
    )
    body = b"".join(app(environ, lambda status, headers, exc_info=None: None))
    assert body == b"z" * 777
    served(app).get("/api/users/3/posts/caf%C3%A9")
    client.flush()
    upload, unicode_path = ingest.wait_for_events(2)
    assert (upload.request_size, upload.response_size, upload.route) == (777, 777, "/api/echo")
    assert (unicode_path.path, unicode_path.route) == ("/api/users/3/posts/café", "/api/users/{user_id}/posts/{slug}")


def test_a_request_made_inside_a_view_does_not_stand_for_it(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()
    http = served(make_app(client))
    assert http.get("/api/nested").status_code == 207
    response = http.get("/api/pieces")
    assert (response.data, response.headers["Content-Length"]) == (b"abcd", "4")  # werkzeug still sets it
    client.flush()
    nested, pieces = ingest.wait_for_events(2)
    assert (nested.status, nested.route, nested.response_size) == (207, "/api/nested", len("inner 404"))
    assert (pieces.status, pieces.response_size) == (200, 4)


class ReadOnlyInput:
    """A server's ``wsgi.input`` with ``read`` but no ``readinto`` (gunicorn, mod_wsgi)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._data.read(size)

    def readline(self, size: int = -1) -> bytes:
        return self._data.readline(size)


def test_bodies_are_read_from_servers_without_readinto(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client(capture_bodies=True)
    app = make_app(client)
    environ = wsgi_environ(
        "POST", "/api/echo", ReadOnlyInput(b"hello world"), CONTENT_TYPE="text/plain", CONTENT_LENGTH="11"
    )
    statuses: list[str] = []
    body = b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    assert (statuses, body) == (["200 OK"], b"hello world")
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert (event.request_size, event.request_body) == (11, "hello world")


def test_identify_runs_once_even_when_a_request_fails(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()
    calls: list[str] = []

    def identify(request: Any) -> Consumer | None:
        calls.append(request.path)
        return None  # an anonymous caller

    http = served(make_app(client, identify=identify))
    assert http.get("/api/fail").status_code == 500
    assert http.get("/api/rewrapped").data == b"/api/rewrapped"
    client.flush()
    failed, rewrapped = ingest.wait_for_events(2)
    assert calls == ["/api/fail", "/api/rewrapped"]
    assert (failed.status, failed.route, failed.error) == (500, "/api/fail", "ZeroDivisionError")
    assert (rewrapped.status, rewrapped.route) == (200, "/api/rewrapped")


def test_the_sdk_reports_its_own_capture_cost(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()
    http = served(make_app(client))
    for _ in range(130):
        assert http.get("/api/users/1/posts/a").status_code == 200
    client.flush()
    ingest.wait_for_events(130)
    overheads = [batch.overhead for batch in ingest.accepted() if batch.overhead is not None]
    assert sum(overhead.samples for overhead in overheads) == 2  # one request in 64
    assert all(0 < overhead.p50_us <= overhead.p99_us for overhead in overheads)


def test_set_consumer_reaches_the_flask_capture_inside_generic_middleware(
    ingest: Any, make_client: Callable[..., Client]
) -> None:
    # The same request captured twice (the Flask extension inside the generic WSGI middleware): the innermost
    # capture, Flask's, gets what the view sets, as it did when both kept their capture in a context variable.
    from sentinel_sdk.wsgi import SentinelMiddleware

    inner, outer = make_client(), make_client()
    app = make_app(inner)
    app.wsgi_app = SentinelMiddleware(app.wsgi_app, client=outer)
    assert served(app).get("/api/me").data == b"me"
    inner.flush()
    outer.flush()
    events = {event.route: event for event in ingest.wait_for_events(2)}
    assert events["/api/me"].consumer == Consumer(id="acct_5", name="Five")
    assert events[None].consumer is None


def test_set_consumer_inside_a_request_context_pushed_by_the_view_reaches_the_request(
    ingest: Any, make_client: Callable[..., Client]
) -> None:
    client = make_client()
    app = make_app(client)

    @app.get("/nested")
    def nested() -> str:
        with app.test_request_context("/elsewhere"):  # e.g. to build a URL for another host
            set_consumer("acct_nested")
        return "ok"

    assert served(app).get("/nested").data == b"ok"
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert (event.route, event.consumer) == ("/nested", Consumer(id="acct_nested"))


def test_the_common_case_and_the_careful_path_record_the_same(ingest: Any, make_client: Callable[..., Client]) -> None:
    # Most responses are recorded in one pass (a rule at the app's root, one chunk held in memory, a status with a
    # body); a measured request takes the careful path for everything. Both must describe requests alike.
    def events_of(measure_every_request: bool) -> list[tuple[Any, ...]]:
        client = make_client()
        app = make_app(client)
        if measure_every_request:
            app.extensions["sentinel.middleware"]._measure = itertools.repeat(True)
        http = served(app)
        for _ in range(2):  # the second time, every route is known
            ingest.received.clear()
            http.get("/api/users/3/posts/x?page=2")
            http.head("/api/users/3/posts/x")
            http.get("/api/empty")
            http.get("/api/pieces")
            http.get("/api/file")
            http.get("/api/nope")
            http.get("/api/users/4/posts/y", environ_overrides={"SCRIPT_NAME": "/mount"})
            assert client.flush(timeout=5)
        events = ingest.wait_for_events(7)
        assert len(events) == 7
        ingest.received.clear()
        return sorted(
            (e.method, e.path, e.status, e.route, e.response_size, e.ttfb_ms is not None, e.error) for e in events
        )

    common, careful = events_of(False), events_of(True)
    assert common == careful
    assert ("GET", "/mount/api/users/4/posts/y", 200, "/mount/api/users/{user_id}/posts/{slug}") in [
        row[:4] for row in common
    ]
    assert ("HEAD", "/api/users/3/posts/x", 200, "/api/users/{user_id}/posts/{slug}", 0, True, None) in common
