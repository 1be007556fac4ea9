"""Metrics and request-log routes over HTTP on the real ClickHouse engine: a known distribution written through the
store's write path, every figure compared with Python's own count; pagination, tenant isolation, bad parameters."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from sentinel_analytics import ClickHouseStore
from sentinel_analytics.fixtures import ch_settings
from sentinel_analytics.reads.plan import DAY, HOUR, MINUTE
from sentinel_analytics.reads.testing import (
    KnownData,
    by_consumer,
    by_endpoint,
    by_status,
    figures,
    ragged_window,
    within_rank,
)
from sentinel_config import ClickHouseSettings, ControlSettings, LogSettings, RedisSettings
from sentinel_control import open_control_store
from sentinel_dashboard.app import create_app
from sentinel_dashboard.settings import Settings
from sentinel_dashboard.tokens.service import create_tenant
from sentinel_local import RedisEngine

__all__ = ["ch_settings"]

Client = AsyncTestClient  # type: ignore[type-arg]
NOW = int(time.time() * 1000)
DAY0 = (NOW // DAY - 3) * DAY
WINDOW = ragged_window(DAY0)
SECRET = "metrics-test-secret-0123456789-abcdefghijkl"


class Caller(msgspec.Struct):
    tenant_id: str
    headers: dict[str, str]


class World(msgspec.Struct):
    client: Any
    a: Caller
    b: Caller
    project: str
    other_project: str
    data: Any


def settings_for(tmp_path: Path, redis: RedisEngine, clickhouse: ClickHouseSettings) -> Settings:
    return Settings(
        redis=RedisSettings(url=redis.url),
        control=ControlSettings(backend="sqlite", sqlite_path=str(tmp_path / "control.db"), hash_secret=SECRET),
        clickhouse=clickhouse,
        log=LogSettings(format="json"),
    )


async def _caller(settings: Settings, name: str) -> Caller:
    store = open_control_store(settings.control, settings.aws)
    await store.setup()
    try:
        tenant, token = await create_tenant(store, create_app(settings).state.hasher, name)
    finally:
        await store.close()
    return Caller(tenant_id=tenant.id, headers={"Authorization": f"Bearer {token.token}"})


async def _project(client: Client, caller: Caller, name: str) -> str:
    response = await client.post("/api/projects", json={"name": name}, headers=caller.headers)
    assert response.status_code == 201, response.text
    project_id: str = response.json()["id"]
    return project_id


@pytest.fixture
async def world(tmp_path: Path, redis_server: RedisEngine, ch_settings: ClickHouseSettings) -> AsyncIterator[World]:
    settings = settings_for(tmp_path, redis_server, ch_settings)
    a = await _caller(settings, "A")
    b = await _caller(settings, "B")
    async with AsyncTestClient(create_app(settings)) as client:
        project = await _project(client, a, "shop")
        other = await _project(client, b, "elsewhere")
        data = KnownData(project, a.tenant_id, DAY0 - 3 * HOUR, count=6_000, step_ms=18_000)
        other_data = KnownData(other, b.tenant_id, DAY0 - 3 * HOUR, count=500, step_ms=180_000)
        store = await ClickHouseStore.open(ch_settings)
        try:
            await store.write("metrics-a", data.stored())
            await store.write("metrics-b", other_data.stored())
        finally:
            await store.close()
        yield World(client=client, a=a, b=b, project=project, other_project=other, data=data)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def get(world: World, path: str, caller: Caller | None = None, **params: Any) -> Any:
    response = await world.client.get(path, params=params, headers=(caller or world.a).headers)
    assert response.status_code == 200, response.text
    return response.json()


def assert_figures(item: dict[str, Any], events: list[Any]) -> None:
    want = figures(events)
    n = want["requests"]
    assert (item["requests"], item["errors_4xx"], item["errors_5xx"]) == (n, want["errors_4xx"], want["errors_5xx"])
    assert item["error_rate"] == pytest.approx((want["errors_4xx"] + want["errors_5xx"]) / n, rel=1e-12)
    for q, name in ((0.5, "p50_ms"), (0.95, "p95_ms"), (0.99, "p99_ms")):
        assert within_rank(want["durations"], q, item[name]), (name, item[name])


async def test_overview_matches_the_known_distribution(world: World) -> None:
    base = f"/api/projects/{world.project}/metrics/overview"
    inside = world.data.select(*WINDOW)
    by_ms = await get(world, base, **{"from": str(WINDOW[0]), "to": str(WINDOW[1])})
    by_iso = await get(world, base, **{"from": iso(WINDOW[0]), "to": iso(WINDOW[1])})
    # The same window either way. Percentiles come from merged t-digest sketches, whose last digits depend on the
    # order ClickHouse merges them in (parts merged in the background between the two calls change it).
    percentiles = ("p50_ms", "p95_ms", "p99_ms")
    assert {k: v for k, v in by_ms.items() if k not in percentiles} == {
        k: v for k, v in by_iso.items() if k not in percentiles
    }
    assert [by_iso[k] for k in percentiles] == pytest.approx([by_ms[k] for k in percentiles], rel=1e-3)
    assert by_ms["window"] == {"from_ms": WINDOW[0], "to_ms": WINDOW[1]}
    assert_figures(by_ms, [k.event for k in inside])
    want = figures([k.event for k in inside])
    assert by_ms["avg_duration_ms"] == pytest.approx(want["duration_sum"] / want["requests"], rel=1e-9)
    assert by_ms["requests_per_minute"] == pytest.approx(len(inside) / ((WINDOW[1] - WINDOW[0]) / MINUTE))
    assert by_ms["consumers"] == len(by_consumer(inside))
    loss = world.data.loss(*WINDOW)
    lost = loss["queue_full"] + loss["send_failed"]
    assert by_ms["events_lost"] == lost
    assert by_ms["completeness"] == pytest.approx(loss["events"] / (loss["events"] + lost))

    staging = await get(world, base, **{"from": str(WINDOW[0]), "to": str(WINDOW[1]), "environment": "staging"})
    assert_figures(staging, [k.event for k in world.data.select(*WINDOW, environment="staging")])
    billing = await get(world, base, **{"from": str(WINDOW[0]), "to": str(WINDOW[1]), "service": "billing"})
    assert_figures(billing, [k.event for k in world.data.select(*WINDOW, service="billing")])


async def test_an_empty_window_has_zero_counts_and_null_percentiles(world: World) -> None:
    body = await get(world, f"/api/projects/{world.project}/metrics/overview", to=str(DAY0 - 4 * HOUR))
    assert (body["requests"], body["consumers"], body["error_rate"]) == (0, 0, 0.0)
    assert (body["p50_ms"], body["p95_ms"], body["completeness"]) == (None, None, None)


@pytest.mark.parametrize("metric", ["requests", "errors", "p95"])
async def test_timeseries_is_zero_filled_and_exact_per_bucket(world: World, metric: str) -> None:
    start, end = DAY0 - 5 * HOUR - 17_000, DAY0 + 6 * HOUR + 5 * MINUTE
    body = await get(
        world,
        f"/api/projects/{world.project}/metrics/timeseries",
        metric=metric,
        interval="1h",
        **{"from": str(start), "to": str(end)},
    )
    assert body["interval"] == "1h"
    assert [p["t"] for p in body["points"]] == list(range(start // HOUR * HOUR, end, HOUR))
    per_bucket: dict[int, list[Any]] = {}
    for k in world.data.select(start, end):
        per_bucket.setdefault(k.event.timestamp // HOUR * HOUR, []).append(k.event)
    assert len(per_bucket) < len(body["points"]), "some buckets must be empty"
    for point in body["points"]:
        events = per_bucket.get(point["t"], [])
        want = figures(events)
        assert point["requests"] == want["requests"]
        if metric == "requests":
            assert point["value"] == want["requests"]
        elif metric == "errors":
            assert point["value"] == want["errors_4xx"] + want["errors_5xx"]
        elif events:
            assert within_rank(want["durations"], 0.95, point["value"])
        else:
            assert point["value"] is None


async def test_auto_interval_picks_minutes_for_an_hour_and_days_for_a_month(world: World) -> None:
    path = f"/api/projects/{world.project}/metrics/timeseries"
    hour = await get(world, path, **{"from": str(DAY0), "to": str(DAY0 + HOUR)})
    assert (hour["interval"], len(hour["points"])) == ("1m", 60)
    assert sum(p["value"] for p in hour["points"]) == len(world.data.select(DAY0, DAY0 + HOUR))
    month = await get(world, path, **{"from": str(DAY0 - 27 * DAY), "to": str(DAY0 + 3 * DAY)})
    assert (month["interval"], len(month["points"])) == ("1d", 30)
    assert sum(p["value"] for p in month["points"]) == len(world.data.known)


@pytest.mark.parametrize(
    ("sort", "order"), [("requests", "desc"), ("p95_ms", "asc"), ("error_rate", "desc"), ("avg_response_size", "asc")]
)
async def test_endpoint_pages_walk_every_endpoint_once_in_order(world: World, sort: str, order: str) -> None:
    path = f"/api/projects/{world.project}/metrics/endpoints"
    groups = by_endpoint(world.data.select(*WINDOW))
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"sort": sort, "order": order, "limit": 2, "from": str(WINDOW[0]), "to": str(WINDOW[1])}
    pages = 0
    while True:
        body = await get(world, path, **params)
        items.extend(body["items"])
        pages += 1
        if body["next"] is None:
            break
        params = {"sort": sort, "order": order, "limit": 2, "cursor": body["next"]}
    assert pages == 3
    assert sorted((i["method"], i["route"] or "") for i in items) == sorted(groups)
    for item in items:
        events = groups[(item["method"], item["route"] or "")]
        assert_figures(item, events)
        want = figures(events)
        assert item["avg_request_size"] == pytest.approx(want["request_size_sum"] / want["requests"])
        assert item["avg_response_size"] == pytest.approx(want["response_size_sum"] / want["requests"])
    keys = [i[sort] for i in items]
    assert keys == sorted(keys, reverse=order == "desc")
    assert any(i["route"] is None for i in items), "requests matched to no route are their own row"


async def test_status_codes_count_every_status(world: World) -> None:
    body = await get(
        world, f"/api/projects/{world.project}/metrics/status-codes", **{"from": str(WINDOW[0]), "to": str(WINDOW[1])}
    )
    want = by_status(world.data.select(*WINDOW))
    assert {i["status"]: i["requests"] for i in body["items"]} == want
    assert body["requests"] == sum(want.values())
    assert [i["status"] for i in body["items"]] == sorted(want)
    assert sum(i["share"] for i in body["items"]) == pytest.approx(1.0)


async def test_consumer_pages_hold_exact_figures(world: World) -> None:
    path = f"/api/projects/{world.project}/metrics/consumers"
    groups = by_consumer(world.data.select(*WINDOW))
    first = await get(world, path, limit=4, **{"from": str(WINDOW[0]), "to": str(WINDOW[1])})
    second = await get(world, path, limit=4, cursor=first["next"])
    assert second["next"] is None
    items = first["items"] + second["items"]
    assert [i["consumer_id"] for i in items] == sorted(groups, key=lambda c: (-len(groups[c]), c))
    for item in items:
        want = figures(groups[item["consumer_id"]])
        assert (item["requests"], item["errors_4xx"], item["errors_5xx"]) == (
            want["requests"],
            want["errors_4xx"],
            want["errors_5xx"],
        )
        assert item["error_rate"] == pytest.approx((want["errors_4xx"] + want["errors_5xx"]) / want["requests"])
        assert within_rank(want["durations"], 0.95, item["p95_ms"])
        assert item["name"] == f"Consumer {item['consumer_id'][-1]}"


async def test_request_log_filters_newest_first_in_keyset_pages(world: World) -> None:
    path = f"/api/projects/{world.project}/requests"
    window = (DAY0 - HOUR, DAY0 + 5 * HOUR)
    filters = {"status": "5xx", "consumer": "consumer-3", "min_duration_ms": "30"}
    want = [
        k.event
        for k in world.data.select(*window)
        if k.event.status >= 500
        and k.event.consumer is not None
        and k.event.consumer.id == "consumer-3"
        and k.event.duration_ms >= 30
    ]
    assert len(want) > 10
    seen: list[str] = []
    params: dict[str, Any] = {**filters, "limit": 4, "from": iso(window[0]), "to": iso(window[1])}
    while True:
        body = await get(world, path, **params)
        seen.extend(i["event_id"] for i in body["items"])
        if body["next"] is None:
            break
        params = {**filters, "limit": 4, "cursor": body["next"]}
    assert seen == [str(e.event_id) for e in sorted(want, key=lambda e: e.timestamp, reverse=True)]

    by_route = await get(
        world, path, route="/orders", method="post", limit=500, **{"from": str(window[0]), "to": str(window[1])}
    )
    assert {(i["method"], i["route"]) for i in by_route["items"]} == {("POST", "/orders")}
    assert len(by_route["items"]) == sum(1 for k in world.data.select(*window) if k.event.route == "/orders")
    exact = await get(world, path, status="404", limit=500, **{"from": str(window[0]), "to": str(window[1])})
    assert {i["status"] for i in exact["items"]} == {404}


async def test_request_detail_has_everything_captured(world: World) -> None:
    event = next(k.event for k in world.data.known if k.event.request_headers and k.event.status >= 500)
    body = await get(world, f"/api/projects/{world.project}/requests/{event.event_id}")
    assert body["event_id"] == str(event.event_id)
    assert (body["timestamp"], body["status"], body["route"], body["duration_ms"]) == (
        event.timestamp,
        event.status,
        event.route,
        event.duration_ms,
    )
    assert (body["request_headers"], body["response_headers"]) == (event.request_headers, {})
    assert (body["request_body"], body["error"], body["trace_id"]) == (event.request_body, "boom", event.trace_id)
    assert body["consumer_id"] == (event.consumer.id if event.consumer else None)
    no_headers = next(k.event for k in world.data.known if k.event.request_headers is None)
    body = await get(world, f"/api/projects/{world.project}/requests/{no_headers.event_id}")
    assert (body["request_headers"], body["response_headers"], body["request_body"]) == (None, None, None)


ROUTES = [
    "metrics/overview",
    "metrics/timeseries",
    "metrics/endpoints",
    "metrics/status-codes",
    "metrics/consumers",
    "requests",
]


async def test_another_tenants_project_and_events_are_404_everywhere(world: World) -> None:
    for route in ROUTES:
        response = await world.client.get(f"/api/projects/{world.project}/{route}", headers=world.b.headers)
        assert response.status_code == 404, route
        assert response.json()["field"] == "project_id"
        own = await world.client.get(f"/api/projects/{world.other_project}/{route}", headers=world.b.headers)
        assert own.status_code == 200, route
    event_id = world.data.known[0].event.event_id
    response = await world.client.get(f"/api/projects/{world.project}/requests/{event_id}", headers=world.b.headers)
    assert response.status_code == 404
    # B's own project does not hold A's event either.
    response = await world.client.get(
        f"/api/projects/{world.other_project}/requests/{event_id}", headers=world.b.headers
    )
    assert response.status_code == 404
    assert response.json()["field"] == "event_id"
    response = await world.client.get(f"/api/projects/{world.project}/metrics/overview")
    assert response.status_code == 401


BAD = [
    ("metrics/overview", {"from": "yesterday"}, "from"),
    ("metrics/overview", {"to": "2026-13-01T00:00:00Z"}, "to"),
    ("metrics/overview", {"from": "1700000000000", "to": "1600000000000"}, "from"),
    ("metrics/overview", {"from": "0", "to": "1700000000000"}, "from"),
    ("metrics/timeseries", {"metric": "p42"}, "metric"),
    ("metrics/timeseries", {"interval": "2m"}, "interval"),
    ("metrics/timeseries", {"interval": "1m", "from": str(DAY0 - 30 * DAY), "to": str(DAY0)}, "interval"),
    ("metrics/endpoints", {"sort": "duration"}, "sort"),
    ("metrics/endpoints", {"order": "up"}, "order"),
    ("metrics/endpoints", {"limit": "0"}, "limit"),
    ("metrics/endpoints", {"limit": "501"}, "limit"),
    ("metrics/endpoints", {"cursor": "not-a-cursor"}, "cursor"),
    ("metrics/consumers", {"sort": "name"}, "sort"),
    ("requests", {"status": "6xx"}, "status"),
    ("requests", {"status": "20"}, "status"),
    ("requests", {"min_duration_ms": "-1"}, "min_duration_ms"),
    ("requests", {"method": "G3T"}, "method"),
    ("requests/not-a-uuid", {}, "event_id"),
]


@pytest.mark.parametrize(("route", "params", "field"), BAD, ids=[f"{r}:{f}" for r, _, f in BAD])
async def test_bad_parameters_are_400_naming_the_parameter(
    world: World, route: str, params: dict[str, str], field: str
) -> None:
    response = await world.client.get(f"/api/projects/{world.project}/{route}", params=params, headers=world.a.headers)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["field"] == field, body
    assert body["message"]


async def test_a_cursor_only_continues_its_own_query(world: World) -> None:
    path = f"/api/projects/{world.project}/metrics/endpoints"
    first = await get(world, path, limit=2)
    for params in ({"sort": "p95_ms"}, {"environment": "staging"}, {"from": str(DAY0)}):
        response = await world.client.get(
            path, params={"limit": 2, "cursor": first["next"], **params}, headers=world.a.headers
        )
        assert response.status_code == 400
        assert response.json()["field"] == "cursor"
    response = await world.client.get(
        f"/api/projects/{world.project}/metrics/consumers", params={"cursor": first["next"]}, headers=world.a.headers
    )
    assert response.status_code == 400


async def test_store_failures_are_json_503_and_504(
    tmp_path: Path, redis_server: RedisEngine, ch_settings: ClickHouseSettings
) -> None:
    unreachable = ClickHouseSettings(url="http://127.0.0.1:9", database="x", connect_timeout_s=0.5)
    too_slow = ClickHouseSettings(url=ch_settings.url, database=ch_settings.database, query_timeout_s=0.000001)
    for clickhouse, status, error in ((unreachable, 503, "unavailable"), (too_slow, 504, "query_timeout")):
        settings = settings_for(tmp_path / uuid.uuid4().hex, redis_server, clickhouse)
        caller = await _caller(settings, "C")
        async with AsyncTestClient(create_app(settings)) as client:
            project = await _project(client, caller, "p")
            response = await client.get(f"/api/projects/{project}/metrics/overview", headers=caller.headers)
            assert response.status_code == status, response.text
            body = response.json()
            assert (body["status"], body["error"]) == (status, error)
            assert body["request_id"]
            ready = await client.get("/readyz")
            assert ready.status_code == (503 if status == 503 else 200)
