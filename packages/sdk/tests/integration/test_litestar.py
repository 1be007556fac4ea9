"""Litestar through its test client, sending to a real local ingest server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import pytest

pytest.importorskip("litestar")

from litestar import Litestar, Request, get, post
from litestar.params import PathParameter
from litestar.response import Stream
from litestar.testing import TestClient

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
