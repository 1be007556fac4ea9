"""Schemathesis against the ingest API's own OpenAPI schema, on a real server process: never a 5xx."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from ingest_helpers import ingest_process, seed_key

from sentinel_local import RedisEngine


@schemathesis.serializer("application/msgpack")
def _msgpack(context: Any, value: Any) -> dict[str, Any]:
    try:
        return {"data": msgspec.msgpack.encode(value)}
    except OverflowError:  # integers MessagePack cannot carry: send what such a client would, broken bytes
        return {"data": b"\xc1"}


@pytest.fixture(scope="module")
def ingest_server(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisEngine) -> Iterator[tuple[str, str]]:
    db = tmp_path_factory.mktemp("fuzz") / "control.db"
    key = asyncio.run(seed_key(db, rate_limit_eps=1_000_000, rate_limit_burst=10_000_000))
    with ingest_process(f"{redis_server.url.rsplit('/', 1)[0]}/4", db) as (url, _):
        yield url, key


def test_no_input_makes_the_ingest_api_fail(ingest_server: tuple[str, str]) -> None:
    url, key = ingest_server
    schema = schemathesis.openapi.from_url(url + "/schema/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {"POST /v1/events/batch", "GET /healthz", "GET /readyz"}
    calls = 0

    for operation in operations:
        examples = 1_500 if operation.label == "POST /v1/events/batch" else 100

        @given(case=operation.as_strategy())
        @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            nonlocal calls
            for headers in ({"Authorization": f"Bearer {key}"}, {}):
                response = case.call(base_url=url, headers=headers)
                calls += 1
                # 503 is the documented answer to back-pressure; anything else 5xx is a failure.
                assert response.status_code < 500 or response.status_code == 503, response.text
                content_type = response.headers.get("content-type", [""])[0]
                assert content_type.startswith("application/json"), response.text

        check()
    assert calls >= 3_000
