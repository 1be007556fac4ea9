"""FastAPI and Starlette through their test clients, sending to a real local ingest server."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

pytest.importorskip("starlette")
fastapi = pytest.importorskip("fastapi")

from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse  # noqa: E402
from starlette.routing import Mount, Route  # noqa: E402

with warnings.catch_warnings():  # Starlette's test client warns that it wants httpx2
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from sentinel_sdk import Client, Consumer, set_consumer  # noqa: E402
from sentinel_sdk.starlette import SentinelMiddleware  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


async def item(request: Request) -> JSONResponse:
    return JSONResponse({"item": request.path_params["item_id"]})


async def chunks(request: Request) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        for size in (100, 200, 300):
            yield b"x" * size

    return StreamingResponse(body(), media_type="text/plain")


async def fail(request: Request) -> PlainTextResponse:
    raise LookupError("no such thing")


def starlette_app(client: Client, **options: Any) -> Starlette:
    v2 = Starlette(routes=[Route("/items/{item_id:int}", item)])
    app = Starlette(
        routes=[
            Route("/items/{item_id}", item),
            Route("/stream", chunks),
            Route("/fail", fail),
            Mount("/tenants/{tenant}/v2", app=v2),
        ]
    )
    app.add_middleware(SentinelMiddleware, client=client, **options)
    return app


class TestStarletteRoutes:
    def test_path_parameters_are_reported_as_a_template(self, ingest: Any, make_client: Callable[..., Client]) -> None:
        client = make_client()
        with TestClient(starlette_app(client)) as http:
            assert http.get("/items/42?color=red").status_code == 200
        client.flush()
        (event,) = ingest.wait_for_events(1)
        assert (event.method, event.route, event.path, event.status) == (
            "GET",
            "/items/{item_id}",
            "/items/42?color=red",
            200,
        )
        assert event.response_size == len(b'{"item":"42"}')
        assert event.ttfb_ms is not None
        assert event.duration_ms >= event.ttfb_ms

    def test_mounted_apps_report_the_full_template(self, ingest: Any, make_client: Callable[..., Client]) -> None:
        client = make_client()
        with TestClient(starlette_app(client)) as http:
            assert http.get("/tenants/acme/v2/items/7").status_code == 200
        client.flush()
        (event,) = ingest.wait_for_events(1)
        assert event.route == "/tenants/{tenant}/v2/items/{item_id}"

    def test_unmatched_paths_have_no_route(self, ingest: Any, make_client: Callable[..., Client]) -> None:
        client = make_client()
        with TestClient(starlette_app(client)) as http:
            assert http.get("/nowhere").status_code == 404
        client.flush()
        (event,) = ingest.wait_for_events(1)
        assert (event.route, event.status) == (None, 404)

    def test_streamed_responses_are_counted_chunk_by_chunk(
        self, ingest: Any, make_client: Callable[..., Client]
    ) -> None:
        client = make_client()
        with TestClient(starlette_app(client)) as http:
            assert len(http.get("/stream").content) == 600
        client.flush()
        (event,) = ingest.wait_for_events(1)
        assert event.response_size == 600
        assert event.ttfb_ms is not None

    def test_an_unhandled_exception_is_recorded_and_re_raised(
        self, ingest: Any, make_client: Callable[..., Client]
    ) -> None:
        client = make_client()
        with TestClient(starlette_app(client)) as http, pytest.raises(LookupError, match="no such thing"):
            http.get("/fail")
        client.flush()
        (event,) = ingest.wait_for_events(1)
        assert (event.status, event.error, event.route) == (500, "LookupError", "/fail")

    def test_excluded_paths_are_not_captured(self, ingest: Any, make_client: Callable[..., Client]) -> None:
        client = make_client(exclude_paths=["/items/.*"])
        with TestClient(starlette_app(client)) as http:
            http.get("/items/1")
            http.get("/stream")
        client.flush()
        assert [event.route for event in ingest.wait_for_events(1)] == ["/stream"]


class TestFastAPI:
    def make_app(self, client: Client, **options: Any) -> Any:
        api = fastapi.FastAPI()
        router = fastapi.APIRouter(prefix="/v1")

        def current_account(request: Request) -> str:
            account = request.headers.get("x-account", "anonymous")
            request.state.account = account
            return account

        @router.get("/accounts/{account_id}/orders/{order_id}")
        def order(account_id: str, order_id: int, account: str = fastapi.Depends(current_account)) -> dict[str, Any]:
            return {"order": order_id}

        @router.post("/login")
        def login() -> dict[str, str]:
            set_consumer("acct_42", name="Acme", group="enterprise")  # in FastAPI's thread pool
            return {"ok": "yes"}

        api.include_router(router)
        api.add_middleware(SentinelMiddleware, client=client, **options)
        return api

    def test_router_prefixes_are_part_of_the_template(self, ingest: Any, make_client: Callable[..., Client]) -> None:
        client = make_client()
        with TestClient(self.make_app(client)) as http:
            assert http.get("/v1/accounts/a1/orders/9").status_code == 200
        client.flush()
        (event,) = ingest.wait_for_events(1)
        assert event.route == "/v1/accounts/{account_id}/orders/{order_id}"

    def test_set_consumer_from_a_sync_endpoint_is_recorded(
        self, ingest: Any, make_client: Callable[..., Client]
    ) -> None:
        client = make_client()
        with TestClient(self.make_app(client)) as http:
            http.post("/v1/login")
        client.flush()
        (event,) = ingest.wait_for_events(1)
        assert event.consumer == Consumer(id="acct_42", name="Acme", group="enterprise")

    def test_identify_sees_request_state_set_by_dependencies(
        self, ingest: Any, make_client: Callable[..., Client]
    ) -> None:
        client = make_client()

        def identify(request: Request) -> Consumer | None:
            account = getattr(request.state, "account", None)
            return Consumer(id=account) if account else None

        with TestClient(self.make_app(client, identify=identify)) as http:
            http.get("/v1/accounts/a1/orders/9", headers={"x-account": "acct_7"})
        client.flush()
        (event,) = ingest.wait_for_events(1)
        assert event.consumer == Consumer(id="acct_7")

    def test_a_failing_identify_callback_does_not_break_the_request(
        self, ingest: Any, make_client: Callable[..., Client]
    ) -> None:
        client = make_client()

        def identify(request: Request) -> Consumer | None:
            raise RuntimeError("bug in the app's callback")

        with TestClient(self.make_app(client, identify=identify)) as http:
            assert http.get("/v1/accounts/a1/orders/9").status_code == 200
        client.flush()
        (event,) = ingest.wait_for_events(1)
        assert event.consumer is None


async def test_a_client_disconnect_is_recorded_as_an_abort(
    ingest: Any,
    make_client: Callable[..., Client],
    http_scope: Callable[[str], dict[str, Any]],
    leaving_client: Callable[[Any], tuple[Any, Any]],
) -> None:
    """A raw ASGI call whose client leaves (``http.disconnect``) in the middle of a streamed response."""
    client = make_client()
    gone = asyncio.Event()

    async def endless(request: Request) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            while True:
                yield b"tick"
                gone.set()
                await asyncio.sleep(0.01)

        return StreamingResponse(body())

    app = Starlette(routes=[Route("/ticks", endless)])
    app.add_middleware(SentinelMiddleware, client=client)
    receive, send = leaving_client(gone)

    scope = http_scope("/ticks")
    await asyncio.wait_for(app(scope, receive, send), timeout=10)
    client.flush()
    (event,) = ingest.wait_for_events(1)
    assert event.aborted
    assert (event.status, event.route, event.client_ip) == (200, "/ticks", "198.51.100.9")
    assert event.response_size >= 4
