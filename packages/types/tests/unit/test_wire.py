"""Round trips, constraints and forward compatibility of the wire types."""

import gzip
import uuid

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel_types import (
    BatchDecodeError,
    CaptureOverhead,
    Consumer,
    ErrorResponse,
    Event,
    EventBatch,
    EventRejection,
    IngestResponse,
    LossCounters,
    SdkInfo,
    TooManyEventsError,
    content_type_for,
    decode,
    decode_batch,
    decode_batch_lenient,
    encode,
    format_for_content_type,
    limits,
)

pytestmark = pytest.mark.unit

FORMATS = ["json", "msgpack"]
NOW_MS = 1_790_000_000_000


def full_event(**overrides: object) -> Event:
    fields: dict[str, object] = {
        "event_id": uuid.UUID("5b0d7e1c-0c1f-4a43-9a8e-5c39b1d3f001"),
        "timestamp": NOW_MS,
        "method": "POST",
        "route": "/users/{user_id}",
        "path": "/users/42",
        "status": 201,
        "duration_ms": 12.5,
        "ttfb_ms": 3.25,
        "request_size": 120,
        "response_size": 4096,
        "client_ip": "203.0.113.7",
        "user_agent": "curl/8.5",
        "consumer": Consumer(id="acme", name="Acme Corp", group="enterprise"),
        "attributes": {"region": "eu-west-1"},
        "request_headers": {"content-type": "application/json"},
        "response_headers": {"x-request-id": "abc"},
        "request_body": '{"name": "Ada"}',
        "response_body": '{"id": 42}',
        "error": None,
        "aborted": False,
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    }
    fields.update(overrides)
    return Event(**fields)  # type: ignore[arg-type]


def minimal_event(**overrides: object) -> Event:
    fields: dict[str, object] = {
        "event_id": uuid.uuid4(),
        "timestamp": NOW_MS,
        "method": "GET",
        "path": "/health",
        "status": 200,
        "duration_ms": 0.4,
    }
    fields.update(overrides)
    return Event(**fields)  # type: ignore[arg-type]


def batch_of(*events: Event, **overrides: object) -> EventBatch:
    fields: dict[str, object] = {
        "batch_id": uuid.UUID("0d1d2c3b-4a59-4687-9a8b-7c6d5e4f3a21"),
        "sent_at": NOW_MS + 2_000,
        "sdk": SdkInfo(name="sentinel-python", version="0.1.0", runtime="CPython 3.11"),
        "service": "billing",
        "environment": "staging",
        "sample_rate": 0.5,
        "dropped": LossCounters(queue_full=3, sampled_out=7, send_failed=1),
        "overhead": CaptureOverhead(samples=64, mean_us=2.1, p50_us=1.9, p99_us=6.0),
        "events": list(events),
    }
    fields.update(overrides)
    return EventBatch(**fields)  # type: ignore[arg-type]


def as_builtins(batch: EventBatch) -> dict[str, object]:
    result: dict[str, object] = msgspec.to_builtins(batch)
    return result


class TestRoundTrip:
    @pytest.mark.parametrize("fmt", FORMATS)
    def test_full_batch_round_trips_unchanged(self, fmt: str) -> None:
        batch = batch_of(full_event(), minimal_event(), full_event(aborted=True, error="TimeoutError", status=500))
        assert decode_batch(encode(batch, fmt), fmt) == batch  # type: ignore[arg-type]

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_gzip_wrapped_body_round_trips(self, fmt: str) -> None:
        batch = batch_of(full_event())
        body = gzip.compress(encode(batch, fmt))  # type: ignore[arg-type]
        assert decode_batch(gzip.decompress(body), fmt) == batch  # type: ignore[arg-type]

    def test_msgpack_is_smaller_than_json(self) -> None:
        batch = batch_of(*(minimal_event() for _ in range(50)))
        assert len(encode(batch, "msgpack")) < len(encode(batch, "json"))

    def test_defaults_are_omitted_on_the_wire(self) -> None:
        wire = msgspec.json.decode(encode(minimal_event(), "json"))
        assert set(wire) == {"event_id", "timestamp", "method", "path", "status", "duration_ms"}

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_responses_round_trip(self, fmt: str) -> None:
        answer = IngestResponse(
            batch_id=uuid.uuid4(), accepted=2, rejected=[EventRejection(index=1, field="status", error="too big")]
        )
        assert decode(encode(answer, fmt), IngestResponse, fmt) == answer  # type: ignore[arg-type]
        error = ErrorResponse(status=413, error="too_many_events", message="at most 1000", field="$.events")
        assert decode(encode(error, fmt), ErrorResponse, fmt) == error  # type: ignore[arg-type]

    @settings(max_examples=200)
    @given(
        status=st.integers(100, 599),
        duration=st.floats(0, limits.MAX_DURATION_MS, allow_nan=False),
        path=st.text(min_size=1, max_size=200),
        attributes=st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=50), max_size=5),
        fmt=st.sampled_from(FORMATS),
    )
    def test_any_valid_event_round_trips(
        self, status: int, duration: float, path: str, attributes: dict[str, str], fmt: str
    ) -> None:
        event = minimal_event(status=status, duration_ms=duration, path=path, attributes=attributes)
        assert decode(encode(event, fmt), Event, fmt) == event  # type: ignore[arg-type]


def violate(fmt: str, **event_fields: object) -> BatchDecodeError:
    """Encode a batch whose single event has the given (invalid) fields and return the strict decode error."""
    raw = as_builtins(batch_of(minimal_event()))
    events = raw["events"]
    assert isinstance(events, list)
    events[0].update(event_fields)
    body = msgspec.json.encode(raw) if fmt == "json" else msgspec.msgpack.encode(raw)
    with pytest.raises(BatchDecodeError) as info:
        decode_batch(body, fmt)  # type: ignore[arg-type]
    return info.value


class TestConstraints:
    @pytest.mark.parametrize("fmt", FORMATS)
    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("status", 99),
            ("status", 600),
            ("status", "200"),
            ("duration_ms", -1.0),
            ("duration_ms", limits.MAX_DURATION_MS * 2),
            ("ttfb_ms", -0.5),
            ("request_size", -1),
            ("response_size", -10),
            ("timestamp", -5),
            ("timestamp", 1.5),
            ("method", "get"),
            ("method", "G" * (limits.MAX_METHOD_LENGTH + 1)),
            ("path", ""),
            ("path", "/" * (limits.MAX_PATH_LENGTH + 1)),
            ("route", "r" * (limits.MAX_ROUTE_LENGTH + 1)),
            ("event_id", "not-a-uuid"),
            ("user_agent", "u" * (limits.MAX_USER_AGENT_LENGTH + 1)),
            ("client_ip", "1" * (limits.MAX_CLIENT_IP_LENGTH + 1)),
            ("error", "E" * (limits.MAX_ERROR_LENGTH + 1)),
            ("trace_id", "t" * (limits.MAX_TRACE_ID_LENGTH + 1)),
            ("request_body", "b" * (limits.MAX_CAPTURED_BODY_LENGTH + 1)),
            ("aborted", "yes"),
        ],
    )
    def test_violation_names_the_field(self, fmt: str, field: str, value: object) -> None:
        error = violate(fmt, **{field: value})
        assert error.field == f"$.events[0].{field}"
        assert error.message

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_consumer_without_id_names_the_nested_field(self, fmt: str) -> None:
        error = violate(fmt, consumer={"id": "", "name": "x"})
        assert error.field == "$.events[0].consumer.id"

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_too_many_attributes_is_rejected(self, fmt: str) -> None:
        error = violate(fmt, attributes={f"k{i}": "v" for i in range(limits.MAX_ATTRIBUTES + 1)})
        assert error.field == "$.events[0].attributes"

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_too_many_headers_is_rejected(self, fmt: str) -> None:
        error = violate(fmt, request_headers={f"h{i}": "v" for i in range(limits.MAX_HEADERS + 1)})
        assert error.field == "$.events[0].request_headers"

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_attribute_value_length_is_bounded(self, fmt: str) -> None:
        error = violate(fmt, attributes={"k": "v" * (limits.MAX_ATTRIBUTE_VALUE_LENGTH + 1)})
        assert error.field.startswith("$.events[0].attributes")

    @pytest.mark.parametrize("fmt", FORMATS)
    @pytest.mark.parametrize(
        ("field", "value"),
        [("sample_rate", 0), ("sample_rate", 1.5), ("service", ""), ("environment", "e" * 65), ("sent_at", -1)],
    )
    def test_envelope_violation_names_the_field(self, fmt: str, field: str, value: object) -> None:
        raw = as_builtins(batch_of(minimal_event()))
        raw[field] = value
        body = msgspec.json.encode(raw) if fmt == "json" else msgspec.msgpack.encode(raw)
        with pytest.raises(BatchDecodeError) as info:
            decode_batch(body, fmt)  # type: ignore[arg-type]
        assert info.value.field == f"$.{field}"

    def test_negative_loss_counter_is_rejected(self) -> None:
        raw = as_builtins(batch_of(minimal_event()))
        raw["dropped"] = {"queue_full": -1}
        with pytest.raises(BatchDecodeError) as info:
            decode_batch(msgspec.json.encode(raw), "json")
        assert info.value.field == "$.dropped.queue_full"

    def test_empty_batch_is_rejected(self) -> None:
        raw = as_builtins(batch_of(minimal_event()))
        raw["events"] = []
        with pytest.raises(BatchDecodeError) as info:
            decode_batch(msgspec.json.encode(raw), "json")
        assert info.value.field == "$.events"

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_garbage_body_is_a_body_error(self, fmt: str) -> None:
        with pytest.raises(BatchDecodeError) as info:
            decode_batch(b"\xc1{not a batch", fmt)  # type: ignore[arg-type]
        assert info.value.field == "$"

    def test_body_that_is_not_an_object_names_the_root(self) -> None:
        with pytest.raises(BatchDecodeError) as info:
            decode_batch(b"[1, 2, 3]", "json")
        assert info.value.field == "$"
        assert "object" in info.value.message


class TestForwardCompatibility:
    @pytest.mark.parametrize("fmt", FORMATS)
    def test_unknown_fields_are_ignored_everywhere(self, fmt: str) -> None:
        raw = as_builtins(batch_of(full_event()))
        raw["future_envelope_field"] = {"nested": [1, 2]}
        raw["sdk"]["future_sdk_field"] = "x"  # type: ignore[index]
        raw["events"][0]["future_event_field"] = 3.14  # type: ignore[index]
        raw["events"][0]["consumer"]["future_consumer_field"] = True  # type: ignore[index]
        body = msgspec.json.encode(raw) if fmt == "json" else msgspec.msgpack.encode(raw)
        assert decode_batch(body, fmt) == batch_of(full_event())  # type: ignore[arg-type]

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_batch_from_an_older_sdk_without_newer_fields_decodes(self, fmt: str) -> None:
        # What the first SDK release sends: only the required fields, no loss counters, no overhead.
        old = {
            "batch_id": str(uuid.uuid4()),
            "sent_at": NOW_MS,
            "sdk": {"name": "sentinel-python", "version": "0.0.1"},
            "events": [
                {
                    "event_id": str(uuid.uuid4()),
                    "timestamp": NOW_MS,
                    "method": "GET",
                    "path": "/",
                    "status": 200,
                    "duration_ms": 1,
                }
            ],
        }
        body = msgspec.json.encode(old) if fmt == "json" else msgspec.msgpack.encode(old)
        batch = decode_batch(body, fmt)  # type: ignore[arg-type]
        assert batch.service == "default"
        assert batch.environment == "production"
        assert batch.sample_rate == 1.0
        assert batch.dropped == LossCounters()
        assert batch.overhead is None
        event = batch.events[0]
        assert (event.route, event.ttfb_ms, event.consumer, event.attributes, event.aborted) == (
            None,
            None,
            None,
            {},
            False,
        )

    def test_uuid_as_canonical_string_is_accepted_in_msgpack(self) -> None:
        batch = batch_of(minimal_event())
        raw = as_builtins(batch)  # to_builtins renders UUIDs as canonical strings
        assert isinstance(raw["batch_id"], str)
        assert decode_batch(msgspec.msgpack.encode(raw), "msgpack") == batch


class TestLenientDecode:
    @pytest.mark.parametrize("fmt", FORMATS)
    def test_bad_events_are_rejected_by_index_and_field_and_good_ones_kept(self, fmt: str) -> None:
        good = [minimal_event(path=f"/ok/{i}") for i in range(3)]
        raw = as_builtins(batch_of(*good))
        events = raw["events"]
        assert isinstance(events, list)
        events.insert(1, {**events[0], "status": 700})
        events.append({"event_id": str(uuid.uuid4())})
        body = msgspec.json.encode(raw) if fmt == "json" else msgspec.msgpack.encode(raw)

        decoded = decode_batch_lenient(body, fmt)  # type: ignore[arg-type]

        assert decoded.received == 5
        assert decoded.batch.events == good
        assert decoded.indexes == [0, 2, 3]
        assert [(r.index, r.field) for r in decoded.rejected] == [(1, "status"), (4, "$")]
        assert "599" in decoded.rejected[0].error
        assert "timestamp" in decoded.rejected[1].error
        assert decoded.batch.batch_id == batch_of().batch_id
        assert decoded.batch.dropped == LossCounters(queue_full=3, sampled_out=7, send_failed=1)

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_all_valid_takes_the_fast_path_and_keeps_everything(self, fmt: str) -> None:
        batch = batch_of(full_event(), minimal_event())
        decoded = decode_batch_lenient(encode(batch, fmt), fmt)  # type: ignore[arg-type]
        assert decoded.batch == batch
        assert decoded.rejected == []
        assert decoded.received == 2

    def test_every_event_invalid_leaves_no_accepted_event(self) -> None:
        raw = as_builtins(batch_of(minimal_event(), minimal_event()))
        for event in raw["events"]:  # type: ignore[attr-defined]
            event["status"] = 42
        decoded = decode_batch_lenient(msgspec.json.encode(raw), "json")
        assert decoded.batch.events == []
        assert [r.index for r in decoded.rejected] == [0, 1]

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_too_many_events_names_the_limit(self, fmt: str) -> None:
        batch = batch_of(*(minimal_event() for _ in range(limits.MAX_EVENTS_PER_BATCH + 1)))
        with pytest.raises(TooManyEventsError) as info:
            decode_batch_lenient(encode(batch, fmt), fmt)  # type: ignore[arg-type]
        assert info.value.limit == limits.MAX_EVENTS_PER_BATCH
        assert info.value.count == limits.MAX_EVENTS_PER_BATCH + 1
        assert str(limits.MAX_EVENTS_PER_BATCH) in info.value.message

    def test_custom_event_limit_applies_to_valid_batches(self) -> None:
        batch = batch_of(minimal_event(), minimal_event(), minimal_event())
        with pytest.raises(TooManyEventsError):
            decode_batch_lenient(encode(batch, "json"), "json", max_events=2)

    def test_invalid_envelope_fails_the_whole_batch(self) -> None:
        raw = as_builtins(batch_of(minimal_event()))
        raw["batch_id"] = "nope"
        with pytest.raises(BatchDecodeError) as info:
            decode_batch_lenient(msgspec.json.encode(raw), "json")
        assert info.value.field == "$.batch_id"

    def test_missing_events_list_fails_the_whole_batch(self) -> None:
        raw = as_builtins(batch_of(minimal_event()))
        del raw["events"]
        with pytest.raises(BatchDecodeError) as info:
            decode_batch_lenient(msgspec.json.encode(raw), "json")
        assert "events" in info.value.message

    def test_empty_events_list_fails_the_whole_batch(self) -> None:
        raw = as_builtins(batch_of(minimal_event()))
        raw["events"] = []
        with pytest.raises(BatchDecodeError) as info:
            decode_batch_lenient(msgspec.json.encode(raw), "json")
        assert info.value.field == "$.events"

    @settings(max_examples=300)
    @given(st.binary(max_size=300), st.sampled_from(FORMATS))
    def test_arbitrary_bytes_never_raise_anything_but_batch_errors(self, body: bytes, fmt: str) -> None:
        field = "$"
        try:
            decode_batch_lenient(body, fmt)  # type: ignore[arg-type]
        except BatchDecodeError as exc:
            field = exc.field
        assert field.startswith("$")


class TestContentTypes:
    @pytest.mark.parametrize(
        ("header", "expected"),
        [
            ("application/json", "json"),
            ("application/json; charset=utf-8", "json"),
            ("Application/JSON", "json"),
            ("application/msgpack", "msgpack"),
            ("application/x-msgpack", "msgpack"),
            ("application/vnd.msgpack", "msgpack"),
            ("text/plain", None),
            ("", None),
            (None, None),
        ],
    )
    def test_content_type_maps_to_format(self, header: str | None, expected: str | None) -> None:
        assert format_for_content_type(header) == expected

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_content_type_for_round_trips(self, fmt: str) -> None:
        assert format_for_content_type(content_type_for(fmt)) == fmt  # type: ignore[arg-type]

    def test_unknown_format_is_refused(self) -> None:
        with pytest.raises(ValueError, match="wire format"):
            encode(minimal_event(), "xml")  # type: ignore[arg-type]


def test_loss_counters_total_sums_every_reason() -> None:
    counters = LossCounters(queue_full=1, sampled_out=2, oversize=3, send_failed=4, shutdown=5)
    assert counters.total() == 15
