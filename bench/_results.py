"""The figures a benchmark reports for ``bench/RESULTS.md``.

Each benchmark prints its own tables; it also calls ``record`` for the figures that have a target or stand for a
peer. When ``SENTINEL_BENCH_RESULTS`` names a file (``bench/report.py`` sets it), each figure is appended to it as
one JSON line; otherwise ``record`` does nothing.
"""

from __future__ import annotations

import json
import os
from typing import Literal

Bound = Literal["<=", ">="]

RESULTS_ENV = "SENTINEL_BENCH_RESULTS"


def record(
    bench: str,
    figure: str,
    value: float,
    unit: str,
    *,
    target: tuple[Bound, float] | None = None,
    note: str = "",
) -> None:
    """Report one figure of ``bench``; ``target`` is ``("<=", 5.0)`` or ``(">=", 300_000)``, None for a figure
    shown for comparison (a peer, a ceiling)."""
    path = os.environ.get(RESULTS_ENV)
    if not path:
        return
    line = {"bench": bench, "figure": figure, "value": value, "unit": unit, "note": note}
    if target is not None:
        bound, limit = target
        line.update(bound=bound, limit=limit, met=value <= limit if bound == "<=" else value >= limit)
    with open(path, "a", encoding="utf-8") as results:
        results.write(json.dumps(line) + "\n")
