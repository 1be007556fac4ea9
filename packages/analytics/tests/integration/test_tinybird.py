"""The Tinybird backend: its wire format against a recording HTTP server, and its pipes' SQL run on the local
ClickHouse engine giving the same figures as the ClickHouse backend."""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from sentinel_analytics import ClickHouseStore, StoreError, decode_stored, default_migrations_dir, landing_line
from sentinel_analytics.queries import overview
from sentinel_analytics.testing import make_batch, window_around
from sentinel_analytics.tinybird import TinybirdStore, pipe_nodes, to_clickhouse
from sentinel_config import TinybirdSettings
from sentinel_queue import encode_entry

TINYBIRD = default_migrations_dir().parent / "tinybird"
NOW = int(time.time() * 1000)
TOKEN = "p.tinybird-test-token"


def datasource_columns(name: str) -> list[tuple[str, str]]:
    text = (TINYBIRD / "datasources" / f"{name}.datasource").read_text()
    schema = text.split("SCHEMA >", 1)[1].split("\n\n", 1)[0]
    return [(m[1], m[2].strip()) for m in re.finditer(r"`(\w+)` ([^`\n]+?)(?: `json:[^`]+`)?,?$", schema, re.M)]


class Recorder(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []
    answers: list[tuple[int, dict[str, str]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        url = urlsplit(self.path)
        Recorder.requests.append(
            {"path": url.path, "query": parse_qs(url.query), "auth": self.headers["Authorization"], "body": body}
        )
        status, headers = Recorder.answers.pop(0) if Recorder.answers else (202, {})
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[str]:
    Recorder.requests, Recorder.answers = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def batches(n: int, project_id: str = "tb") -> list[Any]:
    rng = random.Random(21)
    return [
        decode_stored(encode_entry(make_batch(rng, project_id=project_id, events=30, now_ms=NOW, full=True)), 30)
        for _ in range(n)
    ]


async def test_rows_go_to_the_events_api_as_ndjson_with_the_bearer_token(recorder: str) -> None:
    store = TinybirdStore(TinybirdSettings(api_url=recorder, token=TOKEN))
    sent = batches(2)
    await store.write("token-ignored", sent)
    await store.close()
    events, batch_rows = Recorder.requests
    for request, datasource in ((events, "events"), (batch_rows, "batches")):
        assert request["path"] == "/v0/events"
        assert request["query"] == {"name": [datasource], "wait": ["true"]}
        assert request["auth"] == f"Bearer {TOKEN}"
    rows = [json.loads(line) for line in events["body"].splitlines()]
    assert len(rows) == 60
    assert set(rows[0]) == {name for name, _ in datasource_columns("events")}
    first = sent[0].events[0]
    assert rows[0]["event_id"] == str(first.event_id)
    assert rows[0]["duration_ms"] == first.duration_ms
    assert json.loads(rows[0]["request_headers"]) == first.request_headers
    assert rows[0]["timestamp"] == time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(first.timestamp / 1000)) + (
        f".{first.timestamp % 1000:03d}"
    )
    batch_lines = [json.loads(line) for line in batch_rows["body"].splitlines()]
    assert [b["batch_id"] for b in batch_lines] == [str(b.batch_id) for b in sent]
    assert set(batch_lines[0]) == {name for name, _ in datasource_columns("batches")}


async def test_landing_rows_are_sent_as_the_batches_they_encode(recorder: str) -> None:
    store = TinybirdStore(TinybirdSettings(api_url=recorder, token=TOKEN))
    sent = batches(2)
    await store.write("t", sent)
    await store.write_rows("t", [landing_line(batch) for batch in sent])
    with pytest.raises(StoreError, match="not a landing row") as refused:
        await store.write_rows("t", [b'["only one column"]'])
    await store.close()
    assert not refused.value.retryable
    by_batches, by_rows = Recorder.requests[:2], Recorder.requests[2:]
    assert [r["body"] for r in by_rows] == [r["body"] for r in by_batches]
    assert len(Recorder.requests) == 4  # nothing sent for what is not a row


async def test_429_and_5xx_are_retried_honouring_retry_after(recorder: str) -> None:
    Recorder.answers = [(429, {"Retry-After": "0"}), (503, {}), (202, {}), (202, {})]
    store = TinybirdStore(TinybirdSettings(api_url=recorder, token=TOKEN), backoff_s=0.01)
    await store.write("t", batches(1))
    await store.close()
    assert [r["query"]["name"][0] for r in Recorder.requests] == ["events", "events", "events", "batches"]


@pytest.mark.parametrize("status", [408, 501, 507, 520, 524])
async def test_every_server_error_and_timeout_is_retried(recorder: str, status: int) -> None:
    Recorder.answers = [(status, {}), (202, {}), (202, {})]
    store = TinybirdStore(TinybirdSettings(api_url=recorder, token=TOKEN), backoff_s=0.01)
    await store.write("t", batches(1))
    await store.close()
    assert [r["query"]["name"][0] for r in Recorder.requests] == ["events", "events", "batches"]


async def test_a_retried_write_does_not_send_the_events_again(recorder: str) -> None:
    Recorder.answers = [(202, {}), (503, {}), (202, {})]  # events in; batches fail for this attempt
    store = TinybirdStore(TinybirdSettings(api_url=recorder, token=TOKEN), attempts=1, backoff_s=0.01)
    sent = batches(1)
    with pytest.raises(StoreError) as failed:
        await store.write("t", sent)
    assert failed.value.retryable
    await store.write("t", sent)  # the worker retries the group under the same token
    await store.write("t", sent)  # a later, separate write of the same token sends everything again
    await store.close()
    names = [r["query"]["name"][0] for r in Recorder.requests]
    assert names == ["events", "batches", "batches", "events", "batches"]


async def test_a_rejected_body_is_not_retried(recorder: str) -> None:
    Recorder.answers = [(400, {})]
    store = TinybirdStore(TinybirdSettings(api_url=recorder, token=TOKEN), backoff_s=0.01)
    with pytest.raises(StoreError) as raised:
        await store.write("t", batches(1))
    await store.close()
    assert raised.value.retryable is False
    assert len(Recorder.requests) == 1


async def test_an_unreachable_tinybird_is_a_retryable_error() -> None:
    store = TinybirdStore(TinybirdSettings(api_url="http://127.0.0.1:9", token=TOKEN), attempts=2, backoff_s=0.01)
    with pytest.raises(StoreError) as raised:
        await store.write("t", batches(1))
    await store.close()
    assert raised.value.retryable is True


async def test_datasources_mirror_the_clickhouse_tables(ch_client: Any) -> None:
    for name in (
        *("events", "batches", "dead_letters", "requests_1m", "requests_1h", "sdk_loss_1m"),
        *("project_1m", "project_1h", "endpoints_1h", "endpoints_1d", "consumers_1h", "consumers_1d"),
        *("consumers_all_1d", "consumers_all_1w"),
    ):
        result = await ch_client.query(
            "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = {t:String} "
            "AND name != 'inserted_at' ORDER BY position",
            parameters={"t": name},
        )
        assert datasource_columns(name) == [(n, t) for n, t in result.result_rows], name


async def test_each_pipe_gives_the_clickhouse_backends_figures(ch_store: ClickHouseStore, ch_client: Any) -> None:
    await ch_store.write("tb-1", batches(8, project_id="tb-pipes"))
    window = window_around(NOW)

    # The endpoint pipe, with its template parameters bound server-side.
    sql = to_clickhouse(pipe_nodes(TINYBIRD / "pipes" / "overview.pipe")["overview_node"])
    result = await ch_client.query(
        sql, parameters={"project_id": "tb-pipes", "start": window[0] / 1000, "end": window[1] / 1000}
    )
    [row] = result.named_results()
    expected = await overview(ch_client, "tb-pipes", *window, source="requests_1m")
    assert row["requests"] == expected.requests == 240
    assert (row["errors_4xx"], row["errors_5xx"], row["consumers"]) == (
        expected.errors_4xx,
        expected.errors_5xx,
        expected.consumers,
    )
    assert (row["request_size_sum"], row["response_size_sum"]) == (
        expected.request_size_sum,
        expected.response_size_sum,
    )
    assert list(row["latency_quantiles"]) == pytest.approx([expected.p50_ms, expected.p95_ms, expected.p99_ms])

    # The materializing pipes: their SELECT over the raw tables equals what the ClickHouse views stored.
    finals = {
        "requests_1m": "sum(requests), sum(errors_5xx), sum(response_size_sum), uniqMerge(consumers)",
        "requests_1h": "sum(requests), sum(errors_4xx), sum(request_size_sum), uniqMerge(consumers)",
        "sdk_loss_1m": "sum(batches), sum(events), sum(queue_full), sum(send_failed)",
        "project_1m": "sum(requests), sum(errors_5xx), round(sum(duration_sum), 6), uniqMerge(consumers)",
        "project_1h": "sum(requests), sum(errors_4xx), sum(response_size_sum), uniqMerge(consumers)",
        "endpoints_1h": "sum(requests), sum(errors_4xx), sum(request_size_sum), uniqExact(method, route)",
        "endpoints_1d": "sum(requests), sum(errors_5xx), sum(response_size_sum), uniqExact(method, route)",
        "consumers_1h": "sum(requests), sum(errors_4xx), uniqExact(consumer_id), any(consumer_group)",
        "consumers_1d": "sum(requests), sum(errors_5xx), uniqExact(consumer_id), max(consumer_name)",
        "consumers_all_1d": "sum(requests), sum(errors_4xx), uniqExact(consumer_id), uniqExact(day)",
        "consumers_all_1w": "sum(requests), sum(errors_5xx), uniqExact(consumer_id), min(week)",
    }
    for target, final in finals.items():
        node = pipe_nodes(TINYBIRD / "pipes" / f"{target}_mv.pipe")[f"{target}_mv_node"]
        from_pipe = await ch_client.query(f"SELECT {final} FROM ({to_clickhouse(node)})")  # noqa: S608
        from_view = await ch_client.query(f"SELECT {final} FROM {target} WHERE project_id = 'tb-pipes'")  # noqa: S608
        assert from_pipe.result_rows == from_view.result_rows, target
