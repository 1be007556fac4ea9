"""Connector parameters, the ALB and NDJSON line parsers, deterministic import ids and archive objects."""

from __future__ import annotations

import gzip
import random
import uuid
from datetime import UTC, datetime

import msgspec
import pytest

from sentinel_analytics import archive_text, decode_stored, landing_line
from sentinel_analytics.testing import make_batch
from sentinel_analytics.wire import StoredConsumer
from sentinel_connectors import ArchiveReplayParams, ParamsError, S3AccessLogsParams, parse_params
from sentinel_connectors.access_logs import LineRejected, alb_fields, parse_alb_line, parse_ndjson_line
from sentinel_connectors.archive_replay import date_prefixes, hour_of, read_object
from sentinel_connectors.requeue import entry_blob
from sentinel_connectors.s3_access_logs import batch_id_of, event_id_of
from sentinel_queue import encode_entry

pytestmark = pytest.mark.unit

EVENT_ID = uuid.UUID(int=1)
ALB = (
    "https 2026-01-02T22:24:00.1Z app/lb/1 [2001:db8::1]:4000 10.0.0.2:80 0.002 0.150 0.001 404 404 120 50 "
    '"POST https://api.example.com:443/orders?id=7 HTTP/2.0" "Mozilla/5.0 \\"quoted\\"" - - - '
    '"Root=1-2" "api.example.com" "-" 1 2026-01-02T22:23:59.900000Z "forward"'
)


class TestParams:
    def test_archive_replay_params_are_normalised_to_utc(self) -> None:
        params = parse_params("archive-replay", {"from": "2026-01-01T02:00:00+02:00", "to": "2026-01-01T01:00:00Z"})
        assert isinstance(params, ArchiveReplayParams)
        assert params.start == datetime(2026, 1, 1, tzinfo=UTC)
        assert (params.start_ms, params.end_ms) == (1767225600000, 1767229200000)

    @pytest.mark.parametrize(
        ("connector", "params", "field", "words"),
        [
            ("ftp", {}, "connector", "unknown connector"),
            ("archive-replay", [], "params", "JSON object"),
            ("archive-replay", {"to": "2026-01-01T00:00:00Z"}, "params.from", "from"),
            ("archive-replay", {"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "params.to", "after"),
            ("archive-replay", {"from": "2026-01-01T00:00:00Z", "to": "2026-02-02T00:00:01Z"}, "params.to", "31 days"),
            ("archive-replay", {"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T00:00:00"}, "params.to", "zone"),
            ("s3-access-logs", {"bucket": "b-1", "format": "alb", "max_objects": 0}, "params.max_objects", ">= 1"),
            ("s3-access-logs", {"bucket": "b-1", "format": "alb", "prefix": "/x"}, "params.prefix", "relative"),
            ("s3-access-logs", {"bucket": "b-1", "format": "alb", "zone": "x"}, "params.zone", "unknown field"),
        ],
    )
    def test_bad_params_name_the_field(self, connector: str, params: object, field: str, words: str) -> None:
        with pytest.raises(ParamsError) as caught:
            parse_params(connector, params)
        assert caught.value.field == field
        assert words in caught.value.message

    def test_s3_params_defaults(self) -> None:
        params = parse_params("s3-access-logs", {"bucket": "logs", "format": "ndjson"})
        assert params == S3AccessLogsParams(bucket="logs", format="ndjson")
        assert (params.prefix, params.service, params.environment) == ("", "default", "production")


class TestAlb:
    def test_quoted_fields_keep_their_spaces_and_escaped_quotes(self) -> None:
        fields = alb_fields(ALB)
        assert fields[12] == "POST https://api.example.com:443/orders?id=7 HTTP/2.0"
        assert fields[13] == 'Mozilla/5.0 "quoted"'

    def test_a_line_becomes_an_event(self) -> None:
        event = parse_alb_line(ALB, EVENT_ID)
        assert event.event_id == EVENT_ID
        assert event.timestamp == int(datetime(2026, 1, 2, 22, 23, 59, 900000, tzinfo=UTC).timestamp() * 1000)
        assert (event.method, event.path, event.status) == ("POST", "/orders", 404)
        assert event.duration_ms == 153.0
        assert (event.request_size, event.response_size) == (120, 50)
        assert event.client_ip == "2001:db8::1"
        assert event.trace_id == "Root=1-2"
        assert event.attributes == {"source": "alb", "domain": "api.example.com", "target_status": "404"}

    @pytest.mark.parametrize(
        ("line", "reason"),
        [
            ("", "at least 14 fields"),
            (ALB.replace("https ", "smtp ", 1), "unknown request type"),
            (ALB.replace(" 404 404 ", " - - ", 1), "no status code"),
            (ALB.replace("2026-01-02T22:23:59.900000Z", "yesterday"), "not an ISO 8601 time"),
            (ALB.replace('"POST https://api.example.com:443/orders?id=7 HTTP/2.0"', '"- - - "'), "request line"),
            (ALB.replace(" 120 50 ", " 120 lots ", 1), "sent_bytes"),
            (ALB.replace(" 404 404 ", " 700 404 ", 1), "invalid event"),
        ],
    )
    def test_bad_lines_are_rejected_with_a_reason(self, line: str, reason: str) -> None:
        with pytest.raises(LineRejected, match=reason):
            parse_alb_line(line, EVENT_ID)


class TestNdjson:
    def test_a_record_becomes_an_event(self) -> None:
        line = (
            b'{"timestamp": "2026-01-02T10:00:00Z", "method": "get", "url": "https://x/a/b?q=1", "status": 200,'
            b' "duration_ms": 1.5, "consumer_id": "acme", "attributes": {"k": "v"}, "other": 1}'
        )
        event = parse_ndjson_line(line, EVENT_ID)
        assert (event.method, event.path, event.status, event.duration_ms) == ("GET", "/a/b", 200, 1.5)
        assert event.consumer is not None
        assert event.consumer.id == "acme"
        assert event.attributes == {"source": "ndjson", "k": "v"}

    @pytest.mark.parametrize(
        ("line", "reason"),
        [
            (b"{oops", "not a JSON object"),
            (b'{"method": "GET", "path": "/", "status": 200, "duration_ms": 1}', "invalid request record"),
            (b'{"timestamp": 1, "method": "GET", "status": 200, "duration_ms": 1}', "neither path nor url"),
            (
                b'{"timestamp": "2026-01-02T10:00:00", "method": "GET", "path": "/", "status": 200, "duration_ms": 1}',
                "time zone",
            ),
            (b'{"timestamp": 1, "method": "GET", "path": "/", "status": 200, "duration_ms": -1}', "invalid event"),
        ],
    )
    def test_bad_records_are_rejected_with_a_reason(self, line: bytes, reason: str) -> None:
        with pytest.raises(LineRejected, match=reason):
            parse_ndjson_line(line, EVENT_ID)


class TestIds:
    def test_import_ids_are_stable_and_distinct(self) -> None:
        assert batch_id_of("p", "b", "k", 0) == batch_id_of("p", "b", "k", 0)
        ids = {batch_id_of("p", "b", "k", 0), batch_id_of("p", "b", "k", 1), batch_id_of("q", "b", "k", 0)}
        ids |= {batch_id_of("p", "b", "k2", 0), event_id_of("p", "b", "k", 1), event_id_of("p", "b", "k", 2)}
        assert len(ids) == 6


class TestArchiveObjects:
    def test_objects_of_the_earlier_format_read_back_and_requeue_as_the_same_entry(self) -> None:
        batch = make_batch(random.Random(1), project_id="p", events=3, now_ms=1_767_225_600_000)
        stored = decode_stored(encode_entry(batch), 30)
        body = gzip.compress(msgspec.json.encode(stored) + b"\n{broken\n\n")
        batches, bad = read_object(body)
        assert (len(batches), bad) == (1, 1)
        assert batches[0] == stored
        assert decode_stored(entry_blob(batches[0]), 30) == stored
        assert read_object(b"not gzip") == ([], 1)

    def test_objects_of_inserted_rows_read_back(self) -> None:
        batches = [
            decode_stored(encode_entry(make_batch(random.Random(seed), project_id="p", events=3, now_ms=0)), 30)
            for seed in (1, 2)
        ]
        batches[1].events[0].consumer = StoredConsumer(id="acct_1", name="One")
        batches[1].events[1].attributes = {"k": "v"}
        lines = [landing_line(batch) for batch in batches]
        assert read_object(gzip.compress(archive_text([lines[0], b"[1,2]", b"{broken", lines[1]]))) == (batches, 2)

    def test_an_unknown_archive_format_is_not_guessed_at(self) -> None:
        batch = decode_stored(encode_entry(make_batch(random.Random(1), project_id="p", events=1, now_ms=0)), 30)
        text = archive_text([landing_line(batch)]).replace(b"landing-rows/1", b"landing-rows/2")
        assert read_object(gzip.compress(text)) == ([], 1)

    def test_date_prefixes_and_hours(self) -> None:
        start = datetime(2026, 1, 1, 23, tzinfo=UTC)
        end = datetime(2026, 1, 3, 0, tzinfo=UTC)
        assert date_prefixes("p", start, end) == [
            "bronze/project=p/date=2026-01-01/",
            "bronze/project=p/date=2026-01-02/",
        ]
        assert hour_of("bronze/project=p/date=2026-01-02/hour=07/p001-x.ndjson.gz") == datetime(
            2026, 1, 2, 7, tzinfo=UTC
        )
        assert hour_of("bronze/elsewhere.ndjson.gz") is None
