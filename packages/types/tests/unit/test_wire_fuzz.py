"""Bad input on the wire decoders, JSON and MessagePack, generated from the structure of a valid batch.

Valid batches are taken apart into a tree, mutated (wrong types and out-of-range numbers in every field, NaN and
Infinity, strings past every limit, invalid UTF-8 and surrogates, NUL bytes, duplicate and unknown keys at every
level, MessagePack ext types and headers declaring billions of elements) and written out byte by byte. Whatever the
bytes, ``decode_batch_lenient`` either returns a batch whose every kept event survives re-encoding in both formats
unchanged, or raises ``BatchDecodeError`` (``TooManyEventsError`` included) with a message and a field path; a
problem inside one event is a rejection naming its index and field while the others are kept. Nothing else is
ever raised, nesting 100,000 deep is refused without taking the process down, and millions of tiny elements cost
no memory.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tracemalloc
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentinel_types import (
    BatchDecodeError,
    DecodedBatch,
    Event,
    TooManyEventsError,
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
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Obj:
    """A JSON object / MessagePack map, as ordered pairs (so keys may repeat)."""

    pairs: tuple[tuple[str | Token, Node], ...]


@dataclass(frozen=True)
class Arr:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Token:
    """Bytes written as they are: what an encoder would refuse to produce."""

    json: bytes
    msgpack: bytes


Node: TypeAlias = Obj | Arr | Token | bool | int | float | str | bytes | None


def _header(kind: str, count: int) -> bytes:
    small, mid, big = (0x80, 0xDE, 0xDF) if kind == "map" else (0x90, 0xDC, 0xDD)
    if count < 16:
        return bytes([small | count])
    return bytes([mid]) + count.to_bytes(2, "big") if count < 65_536 else bytes([big]) + count.to_bytes(4, "big")


def emit(node: Node, fmt: str) -> bytes:
    """The bytes of ``node`` in ``fmt``."""
    if isinstance(node, Token):
        return node.json if fmt == "json" else node.msgpack
    if isinstance(node, Obj):
        parts = [(emit(key, fmt), emit(value, fmt)) for key, value in node.pairs]
        if fmt == "json":
            return b"{" + b",".join(key + b":" + value for key, value in parts) + b"}"
        return _header("map", len(parts)) + b"".join(key + value for key, value in parts)
    if isinstance(node, Arr):
        items = [emit(item, fmt) for item in node.items]
        return b"[" + b",".join(items) + b"]" if fmt == "json" else _header("array", len(items)) + b"".join(items)
    return msgspec.json.encode(node) if fmt == "json" else msgspec.msgpack.encode(node)


def tree(value: Any) -> Node:
    if isinstance(value, dict):
        return Obj(tuple((key, tree(item)) for key, item in value.items()))
    if isinstance(value, list):
        return Arr(tuple(tree(item) for item in value))
    result: Node = value
    return result


def event_dict(index: int, *, full: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {"event_id": str(uuid.UUID(int=index + 1)), "timestamp": NOW_MS, "method": "GET"}
    fields |= {"path": f"/items/{index}", "status": 200, "duration_ms": 1.5}
    if full:
        fields |= {"route": "/items/{id}", "ttfb_ms": 0.5, "request_size": 10, "response_size": 20}
        fields |= {"client_ip": "203.0.113.7", "user_agent": "curl/8", "error": "ValueError", "aborted": True}
        fields |= {"consumer": {"id": "acme", "name": "Acme", "group": "gold"}, "attributes": {"region": "eu"}}
        fields |= {"request_headers": {"accept": "*/*"}, "response_headers": {"x-id": "1"}, "request_body": "{}"}
        fields |= {"response_body": "[]", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}
    return fields


def batch_dict(events: int = 3) -> dict[str, Any]:
    return {
        "batch_id": str(uuid.UUID(int=99)),
        "sent_at": NOW_MS,
        "sdk": {"name": "sentinel-python", "version": "0.1.0", "runtime": "CPython"},
        "service": "billing",
        "environment": "staging",
        "sample_rate": 0.5,
        "dropped": {"queue_full": 1, "sampled_out": 2},
        "overhead": {"samples": 3, "mean_us": 1.0, "p50_us": 1.0, "p99_us": 2.0},
        "events": [event_dict(i, full=i % 2 == 0) for i in range(events)],
    }


def with_events(*events: Node) -> Node:
    """A valid envelope around these event nodes."""
    return Obj(tuple((k, Arr(events) if k == "events" else tree(v)) for k, v in batch_dict().items()))


def check(body: bytes, fmt: str) -> DecodedBatch | BatchDecodeError:
    """Decode and check every promise the decoder makes, whatever the outcome."""
    try:
        decoded = decode_batch_lenient(body, fmt)  # type: ignore[arg-type]
    except BatchDecodeError as exc:
        error = exc
    else:
        assert 1 <= decoded.received <= limits.MAX_EVENTS_PER_BATCH
        assert len(decoded.batch.events) == len(decoded.indexes)
        assert sorted({*decoded.indexes, *(r.index for r in decoded.rejected)}) == list(range(decoded.received))
        assert all(r.field and r.error.strip() for r in decoded.rejected), decoded.rejected
        for event in decoded.batch.events:
            assert math.isfinite(event.duration_ms), event
            for out in FORMATS:
                assert decode(encode(event, out), Event, out) == event  # type: ignore[arg-type]
        known = msgspec.structs.replace(decoded.batch, events=[msgspec.convert(event_dict(0, full=True), Event)])
        for out in FORMATS:
            assert decode_batch(encode(known, out), out) == known  # type: ignore[arg-type]
        return decoded
    assert error.message.strip(), error
    assert error.field.startswith("$"), error
    if isinstance(error, TooManyEventsError):
        assert (error.field, error.count > error.limit) == ("$.events", True), error
    return error


def expect_error(outcome: DecodedBatch | BatchDecodeError, field: str | None = None) -> BatchDecodeError:
    assert isinstance(outcome, BatchDecodeError), outcome
    assert field is None or outcome.field == field, outcome
    return outcome


def expect_batch(outcome: DecodedBatch | BatchDecodeError) -> DecodedBatch:
    assert isinstance(outcome, DecodedBatch), outcome
    return outcome


# --- what goes into a mutated batch -------------------------------------------------------------------------------

BAD_UTF8 = [
    Token(json=b'"\xff\xfe"', msgpack=b"\xa2\xff\xfe"),
    Token(json=b'"a\xc3"', msgpack=b"\xa2a\xc3"),
    Token(json=b'"\xed\xa0\x80"', msgpack=b"\xa3\xed\xa0\x80"),  # a surrogate, encoded as UTF-8 bytes
]
SURROGATE_ESCAPE = Token(json=b'"\\ud800x"', msgpack=b"\xa3\xed\xa0\x80")
HUGE_INTS = [Token(json=str(n).encode(), msgpack=b"\xcf" + b"\xff" * 8) for n in (2**63, 2**64, 10**30, -(2**64))]
NON_FINITE = [
    Token(json=spelled, msgpack=msgspec.msgpack.encode(value))
    for spelled, value in ((b"NaN", math.nan), (b"Infinity", math.inf), (b"-Infinity", -math.inf), (b"1e400", math.inf))
]
EXT = [
    Token(json=b'"ext"', msgpack=b"\xd4\x05\x01"),
    Token(json=b'"ts"', msgpack=b"\xd6\xff\x00\x00\x00\x01"),  # the timestamp extension
    Token(json=b'"big"', msgpack=b"\xc9\x00\x00\x00\x03\x07abc"),
]
LYING = [  # a header declaring about four billion elements or bytes, then almost nothing
    Token(json=b"[", msgpack=b"\xdd\xff\xff\xff\xff\xc0"),
    Token(json=b"{", msgpack=b"\xdf\xff\xff\xff\xff\xa1a"),
    Token(json=b'"', msgpack=b"\xdb\xff\xff\xff\xffab"),
    Token(json=b"1e", msgpack=b"\xc6\xff\xff\xff\xffab"),
]
STRING_LIMITS = sorted({v for k, v in vars(limits).items() if k.endswith("_LENGTH") and isinstance(v, int)})


def nested(levels: int) -> Token:
    """Objects and arrays in turn, ``2 * levels`` deep."""
    return Token(json=b'{"a":[' * levels + b"1" + b"]}" * levels, msgpack=b"\x81\xa1a\x91" * levels + b"\x01")


scalars: st.SearchStrategy[Node] = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([-1, 0, 99, 100, 599, 600, -(2**63), 2**63 - 1, 2**64 - 1]),
    st.integers(-(2**63), 2**64 - 1),
    st.sampled_from([-1.0, -0.0, 5e-324, 1e308, limits.MAX_DURATION_MS, limits.MAX_DURATION_MS * 2]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "a\x00b", "get", "GET", "\u00e9" * 3, "\U0001f600"]),
    st.sampled_from(STRING_LIMITS).flatmap(lambda n: st.sampled_from(["x" * (n + 1), "\u00e9" * n])),
    st.text(max_size=20),
    st.binary(max_size=8),
    st.sampled_from([*BAD_UTF8, *HUGE_INTS, *EXT]),
)


def _containers(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    pairs = st.lists(st.tuples(st.text(max_size=8), children), max_size=4)
    return st.one_of(st.lists(children, max_size=4).map(lambda v: Arr(tuple(v))), pairs.map(lambda p: Obj(tuple(p))))


well_formed: st.SearchStrategy[Node] = st.recursive(scalars, _containers, max_leaves=12)
"""Values that keep the document well formed in both formats (so a problem stays inside its event)."""
anything: st.SearchStrategy[Node] = st.one_of(
    well_formed, st.sampled_from([*NON_FINITE, *LYING, SURROGATE_ESCAPE, nested(100), nested(2_500)])
)


def paths(node: Node, prefix: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
    """Every position in the tree, as child indexes from the root."""
    children = [v for _, v in node.pairs] if isinstance(node, Obj) else node.items if isinstance(node, Arr) else ()
    return [prefix, *(p for i, child in enumerate(children) for p in paths(child, (*prefix, i)))]


def mutate(node: Node, path: tuple[int, ...], how: str, value: Node) -> Node:
    """``node`` with ``value`` put at ``path``: replacing it, added to it, as a repeat of its first key, or dropping
    its first member."""
    if path:
        head, rest = path[0], path[1:]
        if isinstance(node, Obj):
            key, child = node.pairs[head]
            return Obj((*node.pairs[:head], (key, mutate(child, rest, how, value)), *node.pairs[head + 1 :]))
        assert isinstance(node, Arr)
        return Arr((*node.items[:head], mutate(node.items[head], rest, how, value), *node.items[head + 1 :]))
    if how == "replace" or not isinstance(node, Obj | Arr):
        return value
    if isinstance(node, Arr):
        return Arr((*node.items, value)) if how == "add" else Arr(node.items[1:])
    if how == "add":
        return Obj((*node.pairs, ("x-future-field", value)))
    return Obj((*node.pairs, (node.pairs[0][0], value))) if how == "duplicate" and node.pairs else Obj(node.pairs[1:])


EVENTS = 8  # position of "events" in batch_dict
PLACES: dict[str, Callable[[Node, Node], Node]] = {
    "as the body": lambda root, value: value,
    "in an unknown field": lambda root, value: mutate(root, (), "add", value),
    "as the events": lambda root, value: mutate(root, (EVENTS,), "replace", value),
    "as an event": lambda root, value: mutate(root, (EVENTS,), "add", value),
    "in an event's field": lambda root, value: mutate(root, (EVENTS, 1, 3), "replace", value),
    "in an event's unknown field": lambda root, value: mutate(root, (EVENTS, 0), "add", value),
}


class TestMutatedBatches:
    @FUZZ
    @given(data=st.data(), fmt=st.sampled_from(FORMATS), how=st.sampled_from(["replace", "add", "duplicate", "drop"]))
    def test_any_mutation_anywhere_keeps_the_promises(self, data: st.DataObject, fmt: str, how: str) -> None:
        root = tree(batch_dict(data.draw(st.integers(1, 4))))
        path = data.draw(st.sampled_from(paths(root)))
        check(emit(mutate(root, path, how, data.draw(anything)), fmt), fmt)

    @FUZZ
    @given(data=st.data(), fmt=st.sampled_from(FORMATS), how=st.sampled_from(["replace", "add", "duplicate"]))
    def test_a_problem_inside_an_event_rejects_that_event_only(self, data: st.DataObject, fmt: str, how: str) -> None:
        count = data.draw(st.integers(2, 5))
        events = [tree(event_dict(i, full=i % 2 == 0)) for i in range(count)]
        victim = data.draw(st.integers(0, count - 1))
        event = events[victim]
        assert isinstance(event, Obj)
        index = data.draw(st.integers(0, len(event.pairs) - 1))
        field = {"replace": event.pairs[index][0], "duplicate": event.pairs[0][0]}.get(how, "x-future-field")
        events[victim] = mutate(event, (index,) if how == "replace" else (), how, data.draw(well_formed))

        decoded = expect_batch(check(emit(with_events(*events), fmt), fmt))

        assert decoded.received == count
        assert set(decoded.indexes) >= set(range(count)) - {victim}
        for rejection in decoded.rejected:
            assert rejection.index == victim
            assert rejection.field in ("$", field) or rejection.field.startswith((f"{field}.", f"{field}[")), rejection
        if how == "add":
            assert decoded.indexes == list(range(count)), "an unknown field must not cost the event"

    @pytest.mark.parametrize("fmt", FORMATS)
    @pytest.mark.parametrize("events", [{}, {"0": {}}, 1, "[]", None, True, 1.5, b"\x00"])
    def test_events_that_are_not_an_array_name_the_field(self, fmt: str, events: Any) -> None:
        expect_error(check(emit(tree({**batch_dict(), "events": events}), fmt), fmt), "$.events")

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_duplicate_keys_decode_as_the_last_one_in_both_passes(self, fmt: str) -> None:
        good = tree(batch_dict(2))
        assert isinstance(good, Obj)
        bad = {**event_dict(7, full=False), "status": 999}
        root = Obj((*good.pairs, ("events", Arr((tree(bad), tree(event_dict(0, full=True)))))))
        decoded = expect_batch(check(emit(root, fmt), fmt))
        assert ([(r.index, r.field) for r in decoded.rejected], decoded.indexes) == ([(0, "status")], [1])


def _max_length(kind: Any) -> int | None:
    """The ``max_length`` a field's type declares (a consumer's id for the consumer), if any."""
    if isinstance(kind, msgspec.inspect.UnionType):
        kind = next(t for t in kind.types if not isinstance(t, msgspec.inspect.NoneType))
    if isinstance(kind, msgspec.inspect.Metadata):
        kind = kind.type
    if isinstance(kind, msgspec.inspect.StructType):
        return _max_length(next(f.type for f in kind.fields if f.name == "id"))
    limit: int | None = getattr(kind, "max_length", None)
    return limit


EVENT_INFO = msgspec.inspect.type_info(Event)
assert isinstance(EVENT_INFO, msgspec.inspect.StructType)
EVENT_LIMITS = {f.name: _max_length(f.type) for f in EVENT_INFO.fields}


class TestLimits:
    @pytest.mark.parametrize("fmt", FORMATS)
    @pytest.mark.parametrize("field", [name for name, limit in EVENT_LIMITS.items() if limit is not None])
    def test_every_event_length_limit_is_exact_and_names_its_field(self, fmt: str, field: str) -> None:
        limit = EVENT_LIMITS[field]
        assert limit is not None
        at_limit: Any = "G" * limit if field == "method" else "\u00e9" * limit  # characters, not bytes
        over: Any = "x" * (limit + 1)
        huge: Any = "z" * 4_000_000
        if field == "consumer":
            at_limit, over, huge = {"id": "c" * limit}, {"id": over}, {"id": huge}
        elif field in ("attributes", "request_headers", "response_headers"):
            at_limit, over = ({f"k{i}": "v" for i in range(n)} for n in (limit, limit + 1))
            huge = {"k": huge}
        values = (at_limit, over, huge)
        events = [tree({**event_dict(i, full=False), field: value}) for i, value in enumerate(values)]
        decoded = expect_batch(check(emit(with_events(*events), fmt), fmt))
        assert decoded.indexes == [0]
        assert [r.index for r in decoded.rejected] == [1, 2]
        assert all(r.field.startswith(field) for r in decoded.rejected), decoded.rejected

    @pytest.mark.parametrize("fmt", FORMATS)
    @pytest.mark.parametrize(
        ("path", "value", "field"),
        [
            ("service", "s" * (limits.MAX_SERVICE_LENGTH + 1), None),
            ("environment", "", None),
            ("sdk.name", "n" * (limits.MAX_SDK_NAME_LENGTH + 1), None),
            ("sdk.version", "v" * 4_000_000, None),
            ("sdk.runtime", "r" * (limits.MAX_SDK_RUNTIME_LENGTH + 1), None),
            ("sent_at", -1, None),
            ("sent_at", HUGE_INTS[0], None),
            ("dropped.queue_full", HUGE_INTS[1], None),
            ("overhead.samples", -5, None),
            ("overhead.mean_us", NON_FINITE[3], None),
            ("sample_rate", 0, None),
            ("sample_rate", NON_FINITE[0], "json:$"),
            ("service", BAD_UTF8[0], "$"),
        ],
    )
    def test_envelope_violations_fail_the_batch_naming_the_field(
        self, fmt: str, path: str, value: Node, field: str | None
    ) -> None:
        root = tree(batch_dict())
        steps: list[int] = []
        node = root
        for name in path.split("."):
            assert isinstance(node, Obj)
            steps.append([key for key, _ in node.pairs].index(name))
            node = node.pairs[steps[-1]][1]
        expected = "$" if field in ("$", f"{fmt}:$") else f"$.{path}"
        expect_error(check(emit(mutate(root, tuple(steps), "replace", value), fmt), fmt), expected)

    @pytest.mark.parametrize("fmt", FORMATS)
    @pytest.mark.parametrize("field", ["timestamp", "request_size", "response_size", "status", "duration_ms"])
    @pytest.mark.parametrize("value", [-1, *HUGE_INTS, *NON_FINITE])
    def test_out_of_range_numbers_reject_the_event_at_its_field(self, fmt: str, field: str, value: Node) -> None:
        first = tree(event_dict(0, full=False))
        assert isinstance(first, Obj)
        outcome = check(
            emit(with_events(Obj((*first.pairs, (field, value))), tree(event_dict(1, full=True))), fmt), fmt
        )
        if fmt == "json" and value in NON_FINITE[:3]:  # not JSON at all
            expect_error(outcome, "$")
            return
        assert [(r.index, r.field) for r in expect_batch(outcome).rejected] == [(0, field)]

    @pytest.mark.parametrize("fmt", FORMATS)
    @pytest.mark.parametrize("token", [*BAD_UTF8, SURROGATE_ESCAPE])
    @pytest.mark.parametrize("where", ["value", "key", "unknown"])
    def test_strings_that_are_not_utf8_reject_their_event_only(self, fmt: str, token: Token, where: str) -> None:
        event = tree(event_dict(0, full=True))
        assert isinstance(event, Obj)
        pairs = event.pairs
        if where == "value":
            pairs = tuple((k, token if k == "path" else v) for k, v in pairs)
        elif where == "key":
            pairs = tuple((k, Obj(((token, "v"),)) if k == "attributes" else v) for k, v in pairs)
        else:
            pairs = (*pairs, ("x-future", token))
        outcome = check(emit(with_events(Obj(pairs), tree(event_dict(1, full=True))), fmt), fmt)
        if token is SURROGATE_ESCAPE and fmt == "json":  # a lone escaped surrogate is malformed JSON
            expect_error(outcome, "$")
            return
        decoded = expect_batch(outcome)
        assert decoded.indexes == ([0, 1] if where == "unknown" else [1])
        if where != "unknown":
            assert [(r.index, r.field, "UTF-8" in r.error) for r in decoded.rejected] == [(0, "$", True)]

    def test_json_in_another_charset_or_with_a_byte_order_mark_is_named(self) -> None:
        good = emit(tree(batch_dict()), "json")
        for body, hint in [(b"\xef\xbb\xbf" + good, "byte order mark"), (good.decode().encode("utf-16"), "UTF-16")]:
            assert hint in expect_error(check(body, "json"), "$").message
        assert format_for_content_type("application/json; charset=latin-1") is None
        assert format_for_content_type('application/json; charset="UTF-8"') == "json"


def with_peak(decode: Callable[[bytes, str], Any], body: bytes, fmt: str) -> tuple[Any, int]:
    """What ``decode`` returns, and the most memory it held at once (bytes)."""
    tracemalloc.start()
    try:
        return decode(body, fmt), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


class TestMalformedBytes:
    @pytest.mark.parametrize("fmt", FORMATS)
    def test_every_truncation_of_a_valid_batch_is_a_body_error(self, fmt: str) -> None:
        body = emit(tree(batch_dict(2)), fmt)
        expect_batch(check(body, fmt))
        for end in range(len(body)):
            expect_error(check(body[:end], fmt), "$")

    @pytest.mark.parametrize("token", LYING)
    @pytest.mark.parametrize("where", list(PLACES))
    def test_msgpack_headers_declaring_billions_fail_at_once(self, token: Token, where: str) -> None:
        body = emit(PLACES[where](tree(batch_dict(2)), token), "msgpack")
        outcome, peak = with_peak(check, body, "msgpack")
        expect_error(outcome)
        assert peak < 1_000_000, f"{peak} bytes allocated for a {len(body)}-byte body"

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_millions_of_tiny_elements_are_refused_without_holding_them(self, fmt: str) -> None:
        count = 10_000_000
        head = emit(tree({**batch_dict(), "events": []}), fmt)
        if fmt == "json":
            body = head[:-3] + b"[" + b"0," * (count - 1) + b"0]}"
        else:
            body = head[:-1] + b"\xdd" + count.to_bytes(4, "big") + b"\xc0" * count
        error, peak = with_peak(check, body, fmt)
        assert isinstance(error, TooManyEventsError), error
        assert peak < 5_000_000, f"{peak} bytes allocated to refuse {count} elements"
        assert (error.count, error.exact) == ((count, True) if fmt == "msgpack" else (1_001, False))

    @settings(max_examples=200, deadline=None)
    @given(st.sampled_from(FORMATS), st.integers(0, 2_000), st.binary(min_size=1, max_size=16))
    def test_bytes_spliced_into_a_valid_batch_keep_the_promises(self, fmt: str, at: int, junk: bytes) -> None:
        body = emit(tree(batch_dict(2)), fmt)
        at %= len(body)
        check(body[:at] + junk + body[at:], fmt)
        check(body[:at] + junk + body[at + len(junk) :], fmt)


DEEP = 100_000
DEEP_NODES = {
    "arrays": Token(json=b"[" * DEEP + b"]" * DEEP, msgpack=b"\x91" * DEEP + b"\xc0"),
    "objects": Token(json=b'{"a":' * DEEP + b"1" + b"}" * DEEP, msgpack=b"\x81\xa1a" * DEEP + b"\x01"),
}
DECODE_EACH = """
import json, sys, msgspec
from sentinel_types import BatchDecodeError, decode_batch_lenient
results = {}
for name, (fmt, body) in msgspec.msgpack.decode(open(sys.argv[1], "rb").read()).items():
    try:
        decoded = decode_batch_lenient(body, fmt)
        results[name] = ["ok", str(decoded.indexes), str(decoded.rejected)]
    except BatchDecodeError as exc:
        results[name] = ["error", exc.field, exc.message]
print(json.dumps(results))
"""


class TestDeepNesting:
    def test_nesting_100_000_deep_is_a_body_error_and_never_a_crash(self, tmp_path: Path) -> None:
        cases = {
            f"{fmt} {kind} {where}": (fmt, emit(place(tree(batch_dict(2)), node), fmt))
            for fmt in FORMATS
            for kind, node in DEEP_NODES.items()
            for where, place in PLACES.items()
        }
        bodies = tmp_path / "bodies.msgpack"
        bodies.write_bytes(msgspec.msgpack.encode(cases))
        # Another interpreter, with the default recursion limit as a server has: a crash fails this test, not pytest.
        done = subprocess.run(
            [sys.executable, "-c", DECODE_EACH, str(bodies)], capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr[-2_000:]
        results = json.loads(done.stdout)
        assert len(results) == len(cases) == 24
        for name, (kind, field, message) in results.items():
            assert (kind, field[:1], bool(message.strip())) == ("error", "$", True), (name, field, message)

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_nesting_the_decoder_follows_is_ignored_in_an_unknown_field(self, fmt: str) -> None:
        root = tree(batch_dict(2))
        body = emit(mutate(mutate(root, (), "add", nested(100)), (EVENTS, 1), "add", nested(100)), fmt)
        assert expect_batch(check(body, fmt)).indexes == [0, 1]


def test_a_batch_past_the_event_limit_is_counted_exactly_when_the_format_says_so() -> None:
    raw = {**batch_dict(), "events": [event_dict(i, full=False) for i in range(limits.MAX_EVENTS_PER_BATCH + 5)]}
    raw["events"][0]["status"] = 0
    for fmt, exact in (("msgpack", True), ("json", False)):
        error = check(emit(tree(raw), fmt), fmt)
        assert isinstance(error, TooManyEventsError), error
        assert error.count == (limits.MAX_EVENTS_PER_BATCH + 5 if exact else limits.MAX_EVENTS_PER_BATCH + 1)
        assert (error.exact, str(limits.MAX_EVENTS_PER_BATCH) in error.message) == (exact, True)
    with pytest.raises(TooManyEventsError) as info:
        decode_batch_lenient(emit(tree(batch_dict(3)), "json"), "json", max_events=2)
    assert (info.value.count, info.value.exact) == (3, True)
