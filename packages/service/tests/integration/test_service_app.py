"""Every service's shared behaviour: health routes against a real Redis, JSON errors, request ids."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
import pytest
from litestar import get, post
from litestar.params import JSONBody
from litestar.testing import AsyncTestClient

from sentinel_config import LogSettings, RedisSettings
from sentinel_local import RedisEngine, free_port
from sentinel_service import ApiError, create_service_app, redis_lifespan, redis_ready


class Payload(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    size: int


@get("/boom", sync_to_thread=False)
def boom() -> None:
    raise RuntimeError("secret internal detail")


@get("/teapot", sync_to_thread=False)
def teapot() -> None:
    raise ApiError(429, "slow down", field="$.events", headers={"Retry-After": "3"})


@post("/payload", sync_to_thread=False)
def payload(data: JSONBody[Payload]) -> Payload:
    return data


def app_for(redis_url: str):  # type: ignore[no-untyped-def]
    return create_service_app(
        service="test",
        version="9.9.9",
        title="Test",
        log=LogSettings(format="json"),
        route_handlers=[boom, teapot, payload],
        lifespans=[redis_lifespan(RedisSettings(url=redis_url, socket_timeout_s=0.5))],
        readiness={"redis": redis_ready},
    )


@pytest.fixture
async def client(redis_server: RedisEngine) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    async with AsyncTestClient(app_for(redis_server.url)) as test_client:
        yield test_client


async def test_healthz_answers_with_service_and_version(client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "test", "version": "9.9.9"}


async def test_readyz_is_ready_when_redis_answers(client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["redis"]["ok"] is True


async def test_readyz_is_503_naming_redis_when_redis_is_down() -> None:
    async with AsyncTestClient(app_for(f"redis://127.0.0.1:{free_port()}/0")) as down:
        response = await down.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["ready"] is False
    assert "ConnectionError" in body["checks"]["redis"]["error"]


async def test_unknown_route_is_a_json_404_with_request_id(client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    response = await client.get("/nowhere", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"status": 404, "error": "not_found", "message": "Not Found", "request_id": "req-42"}
    assert response.headers["x-request-id"] == "req-42"


async def test_unhandled_exception_is_a_json_500_without_internals(client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    response = await client.get("/boom")
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "internal_error"
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text
    assert body["request_id"] == response.headers["x-request-id"]


async def test_api_error_keeps_status_field_and_headers(client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    response = await client.get("/teapot")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    body = response.json()
    assert (body["error"], body["message"], body["field"]) == ("rate_limited", "slow down", "$.events")


@pytest.mark.parametrize(
    ("body", "field"),
    [({"name": "x", "size": "big"}, "size"), ({"name": "x", "size": 1, "extra": True}, None)],
)
async def test_invalid_body_is_a_400_naming_the_field(
    client: AsyncTestClient,
    body: dict[str, object],
    field: str | None,  # type: ignore[type-arg]
) -> None:
    response = await client.post("/payload", json=body)
    assert response.status_code == 400
    answer = response.json()
    assert answer["error"] == "invalid_request"
    if field:
        assert field in (answer.get("field") or "") or field in answer["message"]
    else:
        assert "extra" in answer["message"]


async def test_openapi_schema_is_served(client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    assert "/healthz" in response.json()["paths"]


async def test_a_missing_body_is_named_as_such(client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    response = await client.post("/payload", content=b"", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    answer = response.json()
    assert (answer["error"], answer["field"]) == ("invalid_request", "body")
    assert answer["message"] == "the request body is missing: send it as JSON"
