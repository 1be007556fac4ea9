"""The readers against the real engine: a known distribution written through the write path, every figure compared
with Python's own count of it, for a window that needs days, hours, minutes and raw edges; the Tinybird reader
running the generated pipes' SQL gives the same answers."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import msgspec
import pytest

from sentinel_analytics import ClickHouseStore
from sentinel_analytics.reads import ClickHouseReader, ConsumerCursor, ReadError, RequestFilter, Scope, TinybirdReader
from sentinel_analytics.reads.pipes import pipes_dir
from sentinel_analytics.reads.plan import DAY, HOUR, MINUTE, WEEK
from sentinel_analytics.reads.sql import QUERIES
from sentinel_analytics.reads.testing import (
    CONSUMERS,
    KnownData,
    assert_consumer_rows,
    by_consumer,
    by_endpoint,
    by_status,
    figures,
    ragged_window,
    within_rank,
)
from sentinel_analytics.tinybird import pipe_nodes, to_clickhouse
from sentinel_config import ClickHouseSettings, TinybirdSettings

NOW = int(time.time() * 1000)
DAY0 = (NOW // DAY - 3) * DAY
PROJECT = "prj-known"


@pytest.fixture
async def known(ch_settings: ClickHouseSettings) -> KnownData:
    data = KnownData(PROJECT, "tenant-known", DAY0 - 3 * HOUR, count=6_000, step_ms=18_000)
    store = await ClickHouseStore.open(ch_settings)
    try:
        await store.write("known-1", data.stored())
    finally:
        await store.close()
    return data


@pytest.fixture
async def reader(ch_settings: ClickHouseSettings) -> AsyncIterator[ClickHouseReader]:
    handle = ClickHouseReader(ch_settings)
    yield handle
    await handle.close()


def assert_figures(got: Any, events: list[Any]) -> None:
    want = figures(events)
    assert (got.requests, got.errors_4xx, got.errors_5xx) == (want["requests"], want["errors_4xx"], want["errors_5xx"])
    assert (got.request_size_sum, got.response_size_sum) == (want["request_size_sum"], want["response_size_sum"])
    assert got.duration_sum == pytest.approx(want["duration_sum"], rel=1e-9)
    for q, value in ((0.5, got.p50_ms), (0.95, got.p95_ms), (0.99, got.p99_ms)):
        assert within_rank(want["durations"], q, value), (q, value)


WINDOWS = {
    "ragged": ragged_window(DAY0),
    "day aligned": (DAY0, DAY0 + DAY),
    "minutes": (DAY0 + 5 * MINUTE + 3_000, DAY0 + 47 * MINUTE),
    "sub-minute": (DAY0 + 10_000, DAY0 + 50_000),
}


@pytest.mark.parametrize("window", WINDOWS.values(), ids=WINDOWS.keys())
async def test_overview_status_and_loss_match_the_known_distribution(
    known: KnownData, reader: ClickHouseReader, window: tuple[int, int]
) -> None:
    scope = Scope(project_id=PROJECT, start_ms=window[0], end_ms=window[1])
    inside = known.select(*window)
    assert inside, "the window must hold events"
    overview = await reader.overview(scope)
    assert_figures(overview, [k.event for k in inside])
    assert overview.consumers == len(by_consumer(inside))

    assert {s.status: s.requests for s in await reader.status_codes(scope)} == by_status(inside)

    loss = await reader.loss(scope)
    want = known.loss(*window)
    assert (loss.events, loss.queue_full, loss.send_failed, loss.sampled_out) == (
        want["events"],
        want["queue_full"],
        want["send_failed"],
        want["sampled_out"],
    )


async def test_endpoints_match_per_method_and_route(known: KnownData, reader: ClickHouseReader) -> None:
    window = ragged_window(DAY0)
    scope = Scope(project_id=PROJECT, start_ms=window[0], end_ms=window[1])
    groups = by_endpoint(known.select(*window))
    rows = await reader.endpoints(scope, sort="requests", order="desc", limit=100, after=None)
    assert {(r.method, r.route) for r in rows} == set(groups)
    for row in rows:
        assert_figures(row, groups[(row.method, row.route)])
    assert [r.requests for r in rows] == sorted((len(v) for v in groups.values()), reverse=True)


async def test_consumers_match_per_consumer_id(known: KnownData, reader: ClickHouseReader) -> None:
    window = ragged_window(DAY0)
    scope = Scope(project_id=PROJECT, start_ms=window[0], end_ms=window[1])
    groups = by_consumer(known.select(*window))
    rows = await reader.consumers(scope, sort="p95_ms", order="asc", limit=100, after=None)
    assert_consumer_rows(rows, groups)
    for row in rows:
        assert (row.name, row.group) == (
            f"Consumer {row.consumer_id[-1]}",
            "pro" if int(row.consumer_id[-1]) % 2 else "free",
        )
    assert [r.p95_ms for r in rows] == sorted(r.p95_ms for r in rows)
    # sorted by a count, a page is chosen from sums and its p95 merged apart: the same figures, one page at a time
    by_p95 = {r.consumer_id: r for r in rows}
    pages, after = [], None
    while True:
        page = await reader.consumers(scope, sort="requests", order="desc", limit=2, after=after)
        if not page:
            break
        pages.extend(page)
        after = ConsumerCursor(key=page[-1].sort_key, consumer_id=page[-1].consumer_id)
    assert [r.requests for r in pages] == sorted((len(v) for v in groups.values()), reverse=True)
    assert len({r.consumer_id for r in pages}) == len(groups)
    for row in pages:
        same = by_p95[row.consumer_id]
        assert (row.requests, row.errors_4xx, row.errors_5xx, row.name, row.group) == (
            same.requests,
            same.errors_4xx,
            same.errors_5xx,
            same.name,
            same.group,
        )
        assert within_rank(figures(groups[row.consumer_id])["durations"], 0.95, row.p95_ms)


WEEK0 = (NOW // WEEK - 3) * WEEK  # an epoch-aligned week start, weeks before now
WEEKS_PROJECT = "prj-known-weeks"


@pytest.fixture
async def weeks(ch_settings: ClickHouseSettings) -> KnownData:
    """17 days of events around two whole weeks: a 16-day window needs weeks, days, hours and raw edges."""
    data = KnownData(WEEKS_PROJECT, "tenant-known", WEEK0 - 2 * DAY, count=3_060, step_ms=480_000 + 7)
    store = await ClickHouseStore.open(ch_settings)
    try:
        await store.write("known-weeks-1", data.stored())
    finally:
        await store.close()
    return data


@pytest.mark.parametrize(("environment", "service"), [("", ""), ("", "billing"), ("staging", "")])
async def test_consumers_over_weeks_with_and_without_filters(
    weeks: KnownData, reader: ClickHouseReader, environment: str, service: str
) -> None:
    # Unfiltered reads take whole weeks and days from the consumer tables without sources, filtered ones from the
    # per-source days: both must give every figure of every consumer exactly.
    window = (WEEK0 - DAY - 5 * HOUR - 17_000, WEEK0 + 2 * WEEK + DAY + 3 * HOUR + 41_000)
    scope = Scope(
        project_id=WEEKS_PROJECT, start_ms=window[0], end_ms=window[1], environment=environment, service=service
    )
    groups = by_consumer(weeks.select(*window, environment=environment, service=service))
    assert len(groups) == CONSUMERS - 1
    for sort in ("p95_ms", "requests"):
        rows = await reader.consumers(scope, sort=sort, order="desc", limit=100, after=None)  # type: ignore[arg-type]
        assert_consumer_rows(rows, groups)


@pytest.mark.parametrize(("interval", "step"), [("1h", HOUR), ("5m", 5 * MINUTE)])
async def test_timeseries_buckets_hold_the_events_of_their_interval(
    known: KnownData, reader: ClickHouseReader, interval: str, step: int
) -> None:
    window = ragged_window(DAY0) if interval == "1h" else (DAY0 - 47 * MINUTE - 5_000, DAY0 + 2 * HOUR + 7_000)
    scope = Scope(project_id=PROJECT, start_ms=window[0], end_ms=window[1])
    expected: dict[int, list[Any]] = {}
    for k in known.select(*window):
        expected.setdefault(k.event.timestamp // step * step, []).append(k.event)
    buckets = await reader.timeseries(scope, interval)  # type: ignore[arg-type]
    assert [b.start_ms for b in buckets] == sorted(expected)
    for bucket in buckets:
        want = figures(expected[bucket.start_ms])
        assert (bucket.requests, bucket.errors) == (want["requests"], want["errors_4xx"] + want["errors_5xx"])
        assert within_rank(want["durations"], 0.95, bucket.p95_ms)


async def test_environment_and_service_filters(known: KnownData, reader: ClickHouseReader) -> None:
    window = ragged_window(DAY0)
    for environment, service in (("staging", ""), ("", "billing"), ("production", "api")):
        scope = Scope(
            project_id=PROJECT, start_ms=window[0], end_ms=window[1], environment=environment, service=service
        )
        inside = known.select(*window, environment=environment, service=service)
        assert inside
        assert_figures(await reader.overview(scope), [k.event for k in inside])


async def test_request_log_filters_and_keyset_pages(known: KnownData, reader: ClickHouseReader) -> None:
    window = (DAY0, DAY0 + 6 * HOUR)
    scope = Scope(project_id=PROJECT, start_ms=window[0], end_ms=window[1])
    filters = RequestFilter(status_min=500, status_max=599, min_duration_ms=40.0)
    want = [k.event for k in known.select(*window) if k.event.status >= 500 and k.event.duration_ms >= 40.0]
    seen: list[str] = []
    before = None
    while True:
        page = await reader.requests(scope, filters, limit=37, before=before)
        seen.extend(r.event_id for r in page)
        if len(page) < 37:
            break
        from sentinel_analytics.reads import RequestCursor

        before = RequestCursor(timestamp_ms=page[-1].timestamp_ms, event_id=page[-1].event_id)
    by_newest = sorted(want, key=lambda e: e.timestamp, reverse=True)
    assert seen == [str(e.event_id) for e in by_newest]

    record = await reader.request(PROJECT, seen[0])
    assert record is not None
    event = by_newest[0]
    assert (record.status, record.duration_ms, record.route, record.error) == (
        event.status,
        event.duration_ms,
        event.route,
        event.error,
    )
    assert (record.request_headers, record.request_body) == (event.request_headers, event.request_body)
    assert await reader.request("another-project", seen[0]) is None


async def test_a_query_over_its_time_limit_is_a_timeout(ch_settings: ClickHouseSettings) -> None:
    slow = ClickHouseReader(ClickHouseSettings(url=ch_settings.url, database=ch_settings.database, query_timeout_s=0.2))
    try:
        with pytest.raises(ReadError) as raised:
            await slow.run("SELECT count() FROM numbers(1000000000000) WHERE sipHash64(number) = 1", {})
        assert raised.value.timeout is True
    finally:
        await slow.close()


async def test_an_unreachable_store_is_an_error_not_a_timeout() -> None:
    gone = ClickHouseReader(ClickHouseSettings(url="http://127.0.0.1:9", connect_timeout_s=0.5))
    assert await gone.ping() is False
    with pytest.raises(ReadError) as raised:
        await gone.overview(Scope(project_id="p", start_ms=0, end_ms=1))
    assert raised.value.timeout is False


# --- Tinybird: the generated pipes, served by a stand-in of the pipes API that runs their SQL on ClickHouse ---


class PipeServer(BaseHTTPRequestHandler):
    clickhouse: ClickHouseSettings
    token = "p.read-token"

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        name = url.path.removeprefix("/v0/pipes/").removesuffix(".json")
        if self.headers["Authorization"] != f"Bearer {self.token}" or name not in QUERIES:
            self._answer(403 if name in QUERIES else 404, {"error": "no"})
            return
        sql = to_clickhouse(pipe_nodes(pipes_dir() / f"{name}.pipe")[f"{name}_node"])
        params = {f"param_{k}": v[0] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        query = urllib.parse.urlencode({"database": self.clickhouse.database, **params})
        request = urllib.request.Request(f"{self.clickhouse.url}/?{query}", data=(sql + " FORMAT JSON").encode())
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:  # relayed like Tinybird does: status and ClickHouse's message
            self._answer(400, {"error": exc.read().decode(errors="replace")})
            return
        self._answer(200, {"data": body["data"], "meta": body["meta"]})

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def pipe_server(ch_settings: ClickHouseSettings) -> Iterator[str]:
    PipeServer.clickhouse = ch_settings
    server = ThreadingHTTPServer(("127.0.0.1", 0), PipeServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


#: Figures read from merged t-digest sketches: their last digits depend on the order ClickHouse merges the sketches
#: in (background merges of parts between two reads change it), so they are compared to 1 part in 1,000.
SKETCHED = frozenset({"p50_ms", "p95_ms", "p99_ms", "sort_key"})


def assert_same(got: Any, want: Any) -> None:
    """The same rows with the same figures, sketched ones to within their merge order."""
    got_rows, want_rows = (x if isinstance(x, list) else [x] for x in (got, want))
    assert len(got_rows) == len(want_rows)
    for a, b in zip(got_rows, want_rows, strict=True):
        left, right = msgspec.structs.asdict(a), msgspec.structs.asdict(b)
        assert {k: v for k, v in left.items() if k not in SKETCHED} == {
            k: v for k, v in right.items() if k not in SKETCHED
        }
        sketched = sorted(SKETCHED & left.keys())
        assert [left[k] for k in sketched] == pytest.approx([right[k] for k in sketched], rel=1e-3)


async def test_tinybird_pipes_give_the_clickhouse_readers_answers(
    known: KnownData, reader: ClickHouseReader, pipe_server: str
) -> None:
    tinybird = TinybirdReader(TinybirdSettings(api_url=pipe_server, token=PipeServer.token))
    tinybird.sketch_keys_per_call, tinybird.sketch_chars_per_call = 3, 60  # a page's sketches in several calls
    try:
        for window in WINDOWS.values():
            scope = Scope(project_id=PROJECT, start_ms=window[0], end_ms=window[1])
            assert_same(await tinybird.overview(scope), await reader.overview(scope))
            assert await tinybird.loss(scope) == await reader.loss(scope)
            assert await tinybird.status_codes(scope) == await reader.status_codes(scope)
            assert_same(await tinybird.timeseries(scope, "1h"), await reader.timeseries(scope, "1h"))
            for sort in ("requests", "p95_ms", "error_rate"):
                assert_same(
                    await tinybird.endpoints(scope, sort=sort, order="desc", limit=50, after=None),  # type: ignore[arg-type]
                    await reader.endpoints(scope, sort=sort, order="desc", limit=50, after=None),  # type: ignore[arg-type]
                )
            # The Tinybird reader takes consumer days from consumers_1d, this store's reader from the per-consumer
            # tables (a fresh store: complete from the start): the same figures either way.
            for sort in ("requests", "p95_ms"):  # a percentile sort reads metrics_consumers.pipe
                assert_same(
                    await tinybird.consumers(scope, sort=sort, order="asc", limit=50, after=None),  # type: ignore[arg-type]
                    await reader.consumers(scope, sort=sort, order="asc", limit=50, after=None),  # type: ignore[arg-type]
                )
            filters = RequestFilter(status_min=400, status_max=499)
            rows = await tinybird.requests(scope, filters, limit=20, before=None)
            assert rows == await reader.requests(scope, filters, limit=20, before=None)
        scope = Scope(project_id=PROJECT, start_ms=DAY0, end_ms=DAY0 + HOUR)
        rows = await tinybird.requests(scope, RequestFilter(), limit=5, before=None)
        assert len(rows) == 5
        assert await tinybird.request(PROJECT, rows[0].event_id) == await reader.request(PROJECT, rows[0].event_id)
        assert await tinybird.overview(scope) != await reader.overview(
            Scope(project_id=PROJECT, start_ms=DAY0, end_ms=DAY0 + DAY)
        )
    finally:
        await tinybird.close()
