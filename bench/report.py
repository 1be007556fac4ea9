"""Run every benchmark and write ``bench/RESULTS.md``: each figure against its target, and the peers measured in
the same run.

    uv run python bench/report.py                    # what `make bench` runs
    uv run python bench/report.py --only sdk_overhead --output /tmp/RESULTS.md

The benchmarks run one after the other (each prints its own tables as it goes, with its progress); each reports
its key figures through ``_results.record`` into a JSON-lines file, from which the report is written. A benchmark
that fails is named in the report and makes the command exit 1; a missed target does not (it is in the report).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _results import RESULTS_ENV

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SCRIPTS = ("sdk_overhead", "ingest_throughput", "worker_throughput", "query_latency")
"""In this order: the SDK first, on a machine nothing else of the run has loaded yet."""
QUICK = {
    "sdk_overhead": ["--requests", "4000", "--runs", "1"],
    "ingest_throughput": ["--seconds", "2", "--servers", "granian", "--formats", "json,msgpack"],
    "worker_throughput": ["--events", "200000", "--lag-seconds", "3"],
    "query_latency": ["--events", "200000", "--repeat", "3"],
}
"""Options of a quick look (``--quick``): checks that everything runs; its figures mean little."""


def run(script: str, results: Path, options: list[str]) -> tuple[bool, float]:
    """Run one benchmark, its output shown as it comes; (succeeded, seconds)."""
    print(f"\n==> bench/{script}.py {' '.join(options)}", flush=True)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(BENCH / f"{script}.py"), *options],
        cwd=ROOT,
        env={**os.environ, RESULTS_ENV: str(results)},
    )
    seconds = time.monotonic() - started
    print(f"==> bench/{script}.py {'done' if done.returncode == 0 else 'FAILED'} in {seconds:.0f} s", flush=True)
    return done.returncode == 0, seconds


def commit() -> str:
    found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return found.stdout.strip() or "unknown"


def number(value: float, unit: str) -> str:
    return f"{value:,.0f} {unit}" if abs(value) >= 1_000 else f"{value:,.2f} {unit}"


def render(figures: list[dict[str, Any]], runs: dict[str, tuple[bool, float]], quick: bool = False) -> str:
    """The report: a summary line, then one table per benchmark."""
    with_target = [f for f in figures if "met" in f]
    missed = [f for f in with_target if not f["met"]]
    failed = [name for name, (ok, _) in runs.items() if not ok]
    load = os.getloadavg()[0]
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` (`bench/report.py`) on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC at commit "
        f"`{commit()}`: {os.cpu_count()} CPUs, Python {platform.python_version()}, load average {load:.2f} at the end. "
        "How each figure is measured, and earlier runs: [`README.md`](README.md).",
        "",
        *(
            ["**A quick look (`--quick`): small runs that check everything works; the figures mean little.**", ""]
            if quick
            else []
        ),
        f"**{len(with_target) - len(missed)} of {len(with_target)} figures with a target meet it.**"
        + (f" Missed: {'; '.join(f['figure'] for f in missed)}." if missed else "")
        + (f" **Failed to run: {', '.join(failed)}.**" if failed else ""),
        "",
        "| benchmark | seconds | ran |",
        "|---|---:|---|",
        *(f"| `{name}.py` | {seconds:.0f} | {'yes' if ok else '**failed**'} |" for name, (ok, seconds) in runs.items()),
    ]
    for bench in dict.fromkeys(f["bench"] for f in figures):
        lines += ["", f"## {bench}", "", "| figure | measured | target | | note |", "|---|---:|---:|---|---|"]
        for f in (f for f in figures if f["bench"] == bench):
            target = f"{f['bound']} {number(f['limit'], f['unit'])}" if "met" in f else "—"
            verdict = ("met" if f["met"] else "**missed**") if "met" in f else "for comparison"
            lines.append(f"| {f['figure']} | {number(f['value'], f['unit'])} | {target} | {verdict} | {f['note']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=SCRIPTS, help="run only this benchmark (repeatable)")
    parser.add_argument("--output", type=Path, default=BENCH / "RESULTS.md")
    parser.add_argument("--quick", action="store_true", help="small runs: check that every benchmark works")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sentinel-bench-") as tmp:
        results = Path(tmp) / "results.jsonl"
        results.touch()
        runs = {script: run(script, results, QUICK[script] if args.quick else []) for script in (args.only or SCRIPTS)}
        figures = [json.loads(line) for line in results.read_text().splitlines() if line]
    args.output.write_text(render(figures, runs, args.quick), encoding="utf-8")
    print(f"\nwrote {args.output}", flush=True)
    if not all(ok for ok, _ in runs.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
