"""Flask through its test client, sending to a real local ingest server."""

from __future__ import annotations

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
    with pytest.raises(ZeroDivisionError, match="no"):
        served(make_app(client, propagate=True)).get("/api/fail")
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert (event.status, event.error) == (500, "ZeroDivisionError")


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
