"""Route template normalisation and the conversion of captures into wire events."""

from __future__ import annotations

import os
import time
import uuid

import msgspec
import pytest

from sentinel_sdk._capture import Capture
from sentinel_sdk._events import EventBuilder, EventIds, WireEvent
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
    cap = Capture(start, "GET", "/users/42", b"", "203.0.113.7")
    cap.status = 200
    cap.end_ns = start + 2_500_000
    for name, value in fields.items():
        setattr(cap, name, value)
    return cap


def build(cap: Capture, **options: object) -> Event:
    builder = EventBuilder(parse_options({"api_key": "k", "endpoint": "http://x", **options}))
    event = builder.build(cap, uuid.uuid4(), time.time_ns() - time.perf_counter_ns())
    # Every built event must survive the strict wire decoder (the ingest API runs the same one).
    return decode(encode(event, "msgpack"), Event, "msgpack")


class TestEvents:
    def test_times_become_milliseconds(self) -> None:
        cap = capture()
        cap.ttfb_ns = cap.start_ns + 1_000_000
        event = build(cap)
        assert event.duration_ms == 2.5
        assert event.ttfb_ms == 1.0
        assert abs(event.timestamp - time.time_ns() // 1_000_000) < 1_000

    def test_the_timestamp_is_the_monotonic_start_on_the_wall_clock(self) -> None:
        cap = capture()
        builder = EventBuilder(parse_options({"api_key": "k", "endpoint": "http://x"}))
        offset = 1_700_000_000_000_000_000 - cap.start_ns
        assert builder.build(cap, uuid.uuid4(), offset).timestamp == 1_700_000_000_000
        assert builder.build(cap, uuid.uuid4(), offset + 5_000_000).timestamp == 1_700_000_000_005

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


class TestEventIds:
    def test_ids_are_distinct_version_8_uuids_as_bytes_and_as_uuids(self) -> None:
        ids = EventIds()
        raw = ids.raw(2_000)
        assert len(set(raw)) == 2_000
        assert all(len(value) == 16 for value in raw)
        parsed = [uuid.UUID(bytes=value) for value in raw]
        assert all(i.version == 8 and i.variant == uuid.RFC_4122 for i in parsed)
        made = ids.uuids(2_000)
        assert len(set(made) | set(parsed)) == 4_000
        assert all(isinstance(i, uuid.UUID) and i.version == 8 and i.variant == uuid.RFC_4122 for i in made)

    def test_a_batch_of_ids_shares_a_random_prefix_and_counts_from_a_random_start(self) -> None:
        ids = EventIds()
        batches = [ids.raw(1_000) for _ in range(50)]
        for batch in batches:
            assert {value[:12] for value in batch} == {batch[0][:12]}
            first = int.from_bytes(batch[0][12:], "big")
            assert [int.from_bytes(value[12:], "big") for value in batch] == list(range(first, first + 1_000))
        prefixes = {batch[0][:12] for batch in batches}
        starts = {batch[0][12:] for batch in batches}
        assert len(prefixes) == 50  # a fresh prefix per batch
        assert len(starts) == 50  # and a fresh start (two equal of 50 has a chance of about 3e-7)
        # the prefixes are random: each of their bits but the version's and the variant's is seen set and clear
        ones = zeros = 0
        for prefix in prefixes:
            value = int.from_bytes(prefix, "big")
            ones |= value
            zeros |= ~value & ((1 << 96) - 1)
        version_and_variant = (0xF << 44) | (0x3 << 30)
        assert ones | version_and_variant == zeros | version_and_variant == (1 << 96) - 1

    def test_a_batch_of_ids_never_wraps_its_counter(self) -> None:
        ids = EventIds()
        for count in (1, 2, 1_000):
            for _ in range(200):
                batch = ids.raw(count)
                assert int.from_bytes(batch[-1][12:], "big") - int.from_bytes(batch[0][12:], "big") == count - 1

    def test_an_id_as_bytes_is_a_uuid_on_the_wire(self) -> None:
        value = EventIds().raw(1)[0]
        event = WireEvent(value, 1, "GET", "/", 200, 1.0)
        assert decode(encode(event, "msgpack"), Event, "msgpack").event_id == uuid.UUID(bytes=value)

    @pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
    def test_a_forked_child_makes_other_ids_than_its_parent(self) -> None:
        ids = EventIds()
        ids.raw(1)  # seeded in the parent before the fork
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            os.write(write, b"".join(ids.raw(8)))
            os._exit(0)
        os.close(write)
        os.waitpid(pid, 0)
        child = os.read(read, 1_000)
        os.close(read)
        assert len(child) == 128
        assert child != b"".join(ids.raw(8))


def test_wire_events_have_the_names_and_defaults_of_events() -> None:
    # The sender encodes WireEvent; the ingest API decodes Event: same names, same defaults (so that omitting a
    # default means the same on both sides), every field of Event but the attributes the SDK never sets.
    wire = {field.encode_name: _default(field) for field in msgspec.structs.fields(WireEvent)}
    event = {field.encode_name: _default(field) for field in msgspec.structs.fields(Event)}
    assert set(event) - set(wire) == {"attributes"}
    assert wire == {name: event[name] for name in wire}


def _default(field: msgspec.structs.FieldInfo) -> object:
    return "<required>" if field.required else field.default


def test_the_path_cache_is_bounded_and_keeps_answering_right() -> None:
    builder = EventBuilder(parse_options({"api_key": "k", "endpoint": "http://x"}))
    offset = time.time_ns() - time.perf_counter_ns()
    for index in range(10_000):
        cap = capture(path=f"/users/{index}", query=f"token=t{index}&page={index % 3}")
        assert builder.build(cap, uuid.uuid4(), offset).path == f"/users/{index}?token=[REDACTED]&page={index % 3}"
        assert builder._cached <= 4_096
    assert sum(len(queries) for queries in builder._paths.values()) == builder._cached
