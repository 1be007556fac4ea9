"""Litestar through its test client, sending to a real local ingest server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import pytest

pytest.importorskip("litestar")

from litestar import Litestar, Request, Router, asgi, get, post
from litestar.datastructures import State
from litestar.params import PathParameter
from litestar.response import Stream
from litestar.testing import AsyncTestClient, TestClient
from litestar.types import Receive, Scope, Send

from sentinel_sdk import Client, Consumer, set_consumer
from sentinel_sdk.litestar import SentinelPlugin

pytestmark = pytest.mark.integration


@get("/users/{user_id:int}")
async def user(user_id: Annotated[int, PathParameter()]) -> dict[str, int]:
    return {"id": user_id}


@get("/boom")
async def boom() -> None:
    raise KeyError("missing")


@get("/stream")
async def stream() -> Stream:
    async def body() -> AsyncIterator[bytes]:
        for size in (10, 20, 30):
            yield b"y" * size

    return Stream(body())


@post("/login")
async def login() -> dict[str, str]:
    set_consumer("acct_1", group="free")
    return {"ok": "yes"}


def make_app(client: Client, **options: Any) -> Litestar:
    return Litestar(route_handlers=[user, boom, stream, login], plugins=[SentinelPlugin(client=client, **options)])


def test_route_handler_paths_are_reported_as_templates(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()
    with TestClient(make_app(client)) as http:
        assert http.get("/users/42").status_code == 200
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert (event.route, event.path, event.status) == ("/users/{user_id}", "/users/42", 200)


def test_not_found_answers_are_captured_too(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()
    with TestClient(make_app(client)) as http:
        assert http.get("/nothing/here").status_code == 404
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert (event.route, event.status, event.error) == (None, 404, None)


def test_an_unhandled_exception_is_recorded_with_its_type(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()
    with TestClient(make_app(client)) as http:
        assert http.get("/boom").status_code == 500
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert (event.status, event.error, event.route) == (500, "KeyError", "/boom")


def test_streamed_responses_are_counted(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()
    with TestClient(make_app(client)) as http:
        assert len(http.get("/stream").content) == 60
    client.flush()
    assert ingest.wait_for_events(1)[0].response_size == 60


def test_consumers_come_from_set_consumer_or_identify(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()

    def identify(request: Request[Any, Any, Any]) -> Consumer | None:
        return Consumer(id=request.headers.get("x-account", "anonymous"))

    with TestClient(make_app(client, identify=identify)) as http:
        http.post("/login")
        http.get("/users/1", headers={"x-account": "acct_2"})
    client.flush()
    consumers = [event.consumer for event in ingest.wait_for_events(2)]
    assert consumers == [Consumer(id="acct_1", group="free"), Consumer(id="acct_2")]


@asgi("/files", is_mount=True, copy_scope=True)
async def files(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"file"})


def test_a_mounted_asgi_app_is_reported_under_its_mount_point(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()
    app = Litestar(
        route_handlers=[Router("/static", route_handlers=[files]), user],
        plugins=[SentinelPlugin(client=client)],
    )
    with TestClient(app) as http:
        assert http.get("/static/files/css/site.css").text == "file"
        assert http.get("/users/5").status_code == 200
    client.flush()
    mounted, routed = ingest.wait_for_events(2)
    assert (mounted.route, mounted.path, mounted.response_size) == (
        "/static/files/{path}",
        "/static/files/css/site.css",
        4,
    )
    assert routed.route == "/users/{user_id}"


@get("/ticks")
async def ticks(state: State) -> Stream:
    async def body() -> AsyncIterator[bytes]:
        while True:
            yield b"tick"
            state.ticked.set()
            await asyncio.sleep(0.01)

    return Stream(body())


async def test_a_client_disconnect_is_recorded_as_an_abort(
    ingest: Any,
    make_client: Callable[..., Client],
    http_scope: Callable[[str], dict[str, Any]],
    leaving_client: Callable[[Any], tuple[Any, Any]],
) -> None:
    client = make_client()
    ticked = asyncio.Event()
    app = Litestar(route_handlers=[ticks], plugins=[SentinelPlugin(client=client)], state=State({"ticked": ticked}))
    receive, send = leaving_client(ticked)

    scope = http_scope("/ticks")
    async with AsyncTestClient(app):  # runs the start-up hook that installs the middleware
        await asyncio.wait_for(app(scope, receive, send), timeout=10)  # type: ignore[arg-type]
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert event.aborted
    assert (event.status, event.route) == (200, "/ticks")
    assert event.response_size >= 4


@asgi(["/one", "/two/more"], is_mount=True, copy_scope=True)
async def twice(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


@asgi("/", is_mount=True, copy_scope=True)
async def everything_else(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"fallback"})


def test_an_app_mounted_twice_is_reported_under_the_mount_point_used(
    ingest: Any, make_client: Callable[..., Client]
) -> None:
    client = make_client()
    app = Litestar(route_handlers=[twice], plugins=[SentinelPlugin(client=client)])
    with TestClient(app) as http:
        http.get("/one/a")
        http.get("/two/more/b/c")
    client.flush()
    assert [event.route for event in ingest.wait_for_events(2)] == ["/one/{path}", "/two/more/{path}"]


def test_an_app_mounted_at_the_root_is_reported_as_every_path(ingest: Any, make_client: Callable[..., Client]) -> None:
    client = make_client()
    app = Litestar(route_handlers=[everything_else], plugins=[SentinelPlugin(client=client)])
    with TestClient(app) as http:
        assert http.get("/anything/else").text == "fallback"
    client.flush()
    assert ingest.wait_for_events(1)[0].route == "/{path}"
