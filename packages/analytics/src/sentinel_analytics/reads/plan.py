"""Split a window into whole days, hours and minutes (answered by rollups) and ragged edges (the raw table).

``split(start, end, (DAY, HOUR, MINUTE))`` takes the largest aligned stretch at the coarsest grain, then covers
what is left on each side with the next grain, and so on; what no grain covers comes from raw events. Each grain
gets at most two ranges (one when it is the coarsest), the raw table at most two, so the SQL has a fixed shape
with one pair of bound parameters per range; an unused range is ``[0, 0)``, which selects nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

MINUTE = 60_000
HOUR = 3_600_000
DAY = 86_400_000
WEEK = 7 * DAY  # aligned on the Unix epoch, like every grain: weeks start on Thursdays

Range = tuple[int, int]
EMPTY: Range = (0, 0)


class Plan:
    """Ranges per grain (``ranges[grain]``) and for the raw table (``raw``), each padded to two."""

    def __init__(self, ranges: dict[int, list[Range]], raw: list[Range]) -> None:
        self.ranges = ranges
        self.raw = raw

    def params(self, names: dict[int, str], raw_name: str = "r", unused: tuple[str, ...] = ()) -> dict[str, int]:
        """Bound parameters ``{name}0``, ``{name}1``... for each grain's ranges, in ms; the ``unused`` names get
        empty ranges."""
        out: dict[str, int] = {}
        for grain, name in names.items():
            _put(out, name, self.ranges.get(grain, []), 2)
        for name in unused:
            _put(out, name, [], 2)
        _put(out, raw_name, self.raw, 2)
        return out


def _put(out: dict[str, int], name: str, ranges: list[Range], slots: int) -> None:
    if len(ranges) > slots:  # the SQL has `slots` pairs of parameters: more ranges would be silently left out
        raise ValueError(f"{len(ranges)} ranges for {name!r}, at most {slots}")
    padded = [*ranges, *([EMPTY] * (slots - len(ranges)))]
    for i, (a, b) in enumerate(padded):
        out[f"{name}{2 * i}"] = a
        out[f"{name}{2 * i + 1}"] = b


def split(start: int, end: int, grains: Sequence[int]) -> Plan:
    """Cover ``[start, end)`` with aligned ranges of each grain (coarsest first) and raw edges."""
    ranges: dict[int, list[Range]] = {}
    pending: list[Range] = [(start, end)] if start < end else []
    for grain in grains:
        covered: list[Range] = []
        rest: list[Range] = []
        for s, e in pending:
            a = -(-s // grain) * grain
            b = e // grain * grain
            if a < b:
                covered.append((a, b))
                if s < a:
                    rest.append((s, a))
                if b < e:
                    rest.append((b, e))
            else:
                rest.append((s, e))
        ranges[grain] = _merge(covered)
        pending = rest
    return Plan(ranges, _merge(pending))


def _merge(ranges: list[Range]) -> list[Range]:
    ranges = sorted(ranges)
    out: list[Range] = []
    for a, b in ranges:
        if out and out[-1][1] == a:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def join(left: Plan, right: Plan) -> Plan:
    """One plan of two adjacent windows' plans (``left`` ends where ``right`` starts)."""
    grains = {*left.ranges, *right.ranges}
    ranges = {grain: _merge([*left.ranges.get(grain, []), *right.ranges.get(grain, [])]) for grain in grains}
    return Plan(ranges, _merge([*left.raw, *right.raw]))
