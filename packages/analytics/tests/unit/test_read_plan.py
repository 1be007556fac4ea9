"""Windows split into rollup ranges and raw edges; the Tinybird read pipes are what the SQL module renders."""

from __future__ import annotations

import itertools
import random

import pytest

from sentinel_analytics.reads.pipes import pipes_dir, render
from sentinel_analytics.reads.plan import DAY, HOUR, MINUTE, split
from sentinel_analytics.reads.sql import QUERIES
from sentinel_analytics.tinybird import pipe_nodes, to_clickhouse


@pytest.mark.parametrize("grains", [(DAY, HOUR, MINUTE), (HOUR, MINUTE), (DAY, HOUR), (MINUTE,)])
def test_ranges_cover_the_window_exactly_once_aligned_and_at_most_two_per_source(grains: tuple[int, ...]) -> None:
    rng = random.Random(7)
    base = 1_790_000_000_000 // DAY * DAY
    for _ in range(2_000):
        start = base + rng.randint(-3 * DAY, 3 * DAY)
        end = start + rng.choice([1, 999, MINUTE, 61_000, HOUR + 1, DAY, 3 * DAY + 7, 40 * DAY + 12_345])
        plan = split(start, end, grains)
        pieces = [(a, b) for g in grains for a, b in plan.ranges[g]] + plan.raw
        for grain in grains:
            assert len(plan.ranges[grain]) <= 2
            assert all(a % grain == 0 and b % grain == 0 and a < b for a, b in plan.ranges[grain])
        assert len(plan.raw) <= 2
        pieces.sort()
        assert pieces[0][0] == start
        assert pieces[-1][1] == end
        assert all(prev[1] == nxt[0] for prev, nxt in itertools.pairwise(pieces))


def test_a_sub_minute_window_is_raw_only_and_unused_ranges_are_empty() -> None:
    plan = split(90_000, 100_000, (DAY, HOUR, MINUTE))
    assert plan.raw == [(90_000, 100_000)]
    params = plan.params({DAY: "d", HOUR: "h", MINUTE: "m"})
    assert (params["r0"], params["r1"], params["r2"], params["r3"]) == (90_000, 100_000, 0, 0)
    assert all(params[f"{p}{i}"] == 0 for p in "dhm" for i in range(4))


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_each_read_pipe_is_generated_from_the_readers_sql(name: str) -> None:
    path = pipes_dir() / f"{name}.pipe"
    assert path.read_text() == render(name), f"run: uv run python -m sentinel_analytics.reads.pipes ({name})"
    assert to_clickhouse(pipe_nodes(path)[f"{name}_node"]).split() == QUERIES[name].split()


@pytest.mark.parametrize("filtered", [False, True])
def test_consumer_windows_cover_each_moment_once_on_either_side_of_since(filtered: bool) -> None:
    from sentinel_analytics.reads.base import NEVER, _consumer_window
    from sentinel_analytics.reads.plan import WEEK
    from sentinel_analytics.reads.types import Scope

    # Parameter prefix -> grain: weeks and days of the per-consumer tables, days of the per-source one, hours, raw.
    grains = {"w": WEEK, "a": DAY, "d": DAY, "h": HOUR, "r": 1}
    rng = random.Random(11)
    base = 1_790_000_000_000 // WEEK * WEEK
    for _ in range(3_000):
        start = base + rng.randint(-20 * DAY, 20 * DAY)
        end = start + rng.choice([1, HOUR + 1, DAY + 5, 9 * DAY + 7, 30 * DAY + 12_345, 61 * DAY])
        since = rng.choice([0, NEVER, base + rng.randint(-30, 30) * DAY])
        scope = Scope(project_id="p", start_ms=start, end_ms=end, service="api" if filtered else "")
        params = _consumer_window(scope, since)
        pieces = []
        for name, grain in grains.items():
            for i in (0, 2):
                a, b = params[f"{name}{i}"], params[f"{name}{i + 1}"]
                if a < b:
                    assert a % grain == 0, (name, a, b)
                    assert b % grain == 0, (name, a, b)
                    pieces.append((a, b, name))
        pieces.sort()
        assert pieces[0][0] == start
        assert pieces[-1][1] == end
        assert all(x[1] == y[0] for x, y in itertools.pairwise(pieces)), pieces
        for a, b, name in pieces:  # per-consumer tables only when unfiltered, and only from `since` on
            if name in ("w", "a"):
                assert not filtered
                assert a >= since
            if name == "d" and not filtered:
                assert b <= since
