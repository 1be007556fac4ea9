"""`make bench`'s report: figures recorded by the benchmarks become bench/RESULTS.md, each against its target."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def bench_modules(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ModuleType, ModuleType]]:
    """``bench/_results.py`` and ``bench/report.py``, imported as the benchmarks import them (from ``bench/``)."""
    monkeypatch.syspath_prepend(str(BENCH))
    results, report = importlib.import_module("_results"), importlib.import_module("report")
    yield results, report
    sys.modules.pop("_results", None)
    sys.modules.pop("report", None)


def test_record_writes_nothing_unless_asked(
    bench_modules: tuple[ModuleType, ModuleType], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results, _ = bench_modules
    monkeypatch.delenv(results.RESULTS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    results.record("SDK overhead", "anything", 1.0, "µs", target=("<=", 5.0))
    assert list(tmp_path.iterdir()) == []


def test_each_figure_is_judged_against_its_bound(
    bench_modules: tuple[ModuleType, ModuleType], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results, _ = bench_modules
    lines = tmp_path / "results.jsonl"
    monkeypatch.setenv(results.RESULTS_ENV, str(lines))
    results.record("SDK overhead", "at the bound", 5.0, "µs", target=("<=", 5.0))
    results.record("SDK overhead", "over", 5.01, "µs", target=("<=", 5.0))
    results.record("Ingest", "fast enough", 350_000, "events/s", target=(">=", 350_000))
    results.record("Ingest", "too slow", 349_999, "events/s", target=(">=", 350_000))
    results.record("Ingest", "a peer", 2_000_000, "events/s", note="raw ceiling")
    recorded = [json.loads(line) for line in lines.read_text().splitlines()]
    assert [figure.get("met") for figure in recorded] == [True, False, True, False, None]
    assert recorded[4] == {
        "bench": "Ingest",
        "figure": "a peer",
        "value": 2_000_000,
        "unit": "events/s",
        "note": "raw ceiling",
    }


def test_the_report_counts_misses_and_names_failed_benchmarks(bench_modules: tuple[ModuleType, ModuleType]) -> None:
    _, report = bench_modules
    figures = [
        {"bench": "SDK overhead", "figure": "Flask, defaults", "value": 3.7, "unit": "µs", "note": "paired +3.5",
         "bound": "<=", "limit": 5.0, "met": True},
        {"bench": "Worker", "figure": "drain", "value": 199_646, "unit": "events/s", "note": "",
         "bound": ">=", "limit": 300_000, "met": False},
        {"bench": "Worker", "figure": "peer", "value": 12.5, "unit": "ms", "note": ""},
    ]  # fmt: skip
    runs = {"sdk_overhead": (True, 240.0), "worker_throughput": (True, 95.0), "query_latency": (False, 3.0)}
    text = report.render(figures, runs)
    assert "**1 of 2 figures with a target meet it.** Missed: drain." in text
    assert "**Failed to run: query_latency.**" in text
    assert "| `query_latency.py` | 3 | **failed** |" in text
    assert "| Flask, defaults | 3.70 µs | <= 5.00 µs | met | paired +3.5 |" in text
    assert "| drain | 199,646 events/s | >= 300,000 events/s | **missed** |  |" in text
    assert "| peer | 12.50 ms | — | for comparison |  |" in text
    assert text.index("## SDK overhead") < text.index("## Worker")
    assert "quick look" not in text
    assert "quick look" in report.render(figures, runs, quick=True)
