"""Route template normalisation and the conversion of captures into wire events."""

from __future__ import annotations

import time
import uuid

import msgspec
import pytest

from sentinel_sdk._capture import Capture
from sentinel_sdk._events import EventBuilder, event_ids
from sentinel_sdk._options import parse_options
from sentinel_sdk._routes import from_angles, from_braces, from_django
from sentinel_types import Consumer, Event, decode, encode, limits

pytestmark = pytest.mark.unit


class TestRouteTemplates:
    def test_brace_convertors_are_dropped(self) -> None:
        assert from_braces("/users/{user_id:int}/files/{path:path}") == "/users/{user_id}/files/{path}"

    def test_flask_rules_become_brace_templates(self) -> None:
        assert from_angles("/users/<int:user_id>/<name>") == "/users/{user_id}/{name}"

    def test_django_path_routes_become_brace_templates(self) -> None:
        assert from_django("api/users/<int:pk>/") == "/api/users/{pk}/"

    def test_django_regex_routes_become_brace_templates(self) -> None:
        assert from_django("^articles/(?P<year>[0-9]{4})/$") == "/articles/{year}/"


def capture(**fields: object) -> Capture:
    start = time.perf_counter_ns()
    cap = Capture(time.time_ns(), start, "GET", "/users/42", b"", "203.0.113.7")
    cap.status = 200
    cap.end_ns = start + 2_500_000
    for name, value in fields.items():
        setattr(cap, name, value)
    return cap


def build(cap: Capture, **options: object) -> Event:
    event = EventBuilder(parse_options({"api_key": "k", "endpoint": "http://x", **options})).build(cap, uuid.uuid4())
    # Every built event must survive the strict wire decoder (the ingest API runs the same one).
    return decode(encode(event, "msgpack"), Event, "msgpack")


class TestEvents:
    def test_times_become_milliseconds(self) -> None:
        cap = capture()
        cap.ttfb_ns = cap.start_ns + 1_000_000
        event = build(cap)
        assert event.duration_ms == 2.5
        assert event.ttfb_ms == 1.0
        assert event.timestamp == cap.wall_ns // 1_000_000

    def test_a_request_without_a_response_is_a_500(self) -> None:
        assert build(capture(status=0)).status == 500

    def test_a_client_gone_before_the_response_is_a_499(self) -> None:
        event = build(capture(status=0, aborted=True))
        assert (event.status, event.aborted) == (499, True)

    def test_the_query_is_kept_after_redaction(self) -> None:
        assert build(capture(query=b"page=2&token=abc")).path == "/users/42?page=2&token=[REDACTED]"

    def test_the_query_can_be_left_out(self) -> None:
        assert build(capture(query=b"page=2"), capture_query=False).path == "/users/42"

    def test_trace_ids_come_from_traceparent(self) -> None:
        traceparent = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        assert build(capture(traceparent=traceparent)).trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
        assert build(capture(traceparent=b"garbage")).trace_id is None

    @pytest.mark.parametrize("as_text", [False, True], ids=["asgi-bytes", "wsgi-str"])
    @pytest.mark.parametrize(
        ("traceparent", "trace_id"),
        [
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "4bf92f3577b34da6a3ce929d0e0e4736"),
            ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", None),  # W3C: all zeros is "no trace"
            ("00-4bf92f3577b34da6a3ce929d0e0e47-3600f067aa0ba902b7-01", None),  # a dash in the wrong place
            ("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", None),
            ("00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01", None),
            ("00-4bf92f3577b34da6a3ce929d0e0e47 6-00f067aa0ba902b7-01", None),  # not alphanumeric
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", None),  # too short
            ("00-" + "\u00e9" * 32 + "-00f067aa0ba902b7-01", None),  # Latin-1 letters are not hex digits
        ],
    )
    def test_trace_ids_are_the_same_from_bytes_and_text(
        self, traceparent: str, trace_id: str | None, as_text: bool
    ) -> None:
        value = traceparent if as_text else traceparent.encode("latin-1")  # as ASGI and WSGI hand it over
        assert build(capture(traceparent=value)).trace_id == trace_id

    def test_unusual_methods_are_normalised(self) -> None:
        assert build(capture(method="propfind")).method == "PROPFIND"
        assert build(capture(method="GET /")).method == "UNKNOWN"

    def test_overlong_values_are_cut_to_the_wire_limits(self) -> None:
        event = build(
            capture(
                path="/" + "a" * 5_000,
                route="/" + "r" * 1_000,
                user_agent=b"u" * 1_000,
                error="E" * 1_000,
                consumer=Consumer(id="c" * 500, name="n" * 500, group="g" * 500),
            )
        )
        assert len(event.path) == limits.MAX_PATH_LENGTH
        assert event.route is not None
        assert len(event.route) == limits.MAX_ROUTE_LENGTH
        assert event.consumer is not None
        assert len(event.consumer.id) == limits.MAX_CONSUMER_ID_LENGTH

    def test_a_consumer_without_an_id_is_left_out(self) -> None:
        assert build(capture(consumer=Consumer(id=""))).consumer is None

    def test_an_out_of_range_status_becomes_500(self) -> None:
        assert build(capture(status=999)).status == 500


def test_event_ids_are_distinct_version_4_uuids() -> None:
    ids = event_ids(2_000)
    assert len(set(ids)) == 2_000
    assert all(isinstance(i, uuid.UUID) and i.version == 4 and i.variant == uuid.RFC_4122 for i in ids)
    # They encode like any UUID.
    assert msgspec.json.decode(msgspec.json.encode(ids[:1])) == [str(ids[0])]
