"""The Tinybird endpoint pipes of the read queries, generated from ``sql.QUERIES``.

``python -m sentinel_analytics.reads.pipes`` rewrites ``infra/tinybird/pipes/<query>.pipe``; a test fails when a
file differs from what this renders, so the pipes cannot drift from the ClickHouse reader's SQL. Server-side
parameters ``{name:Type}`` become template parameters ``{{ Type(name) }}`` (``tinybird.to_clickhouse`` is the
inverse).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from sentinel_analytics.migrations import default_migrations_dir
from sentinel_analytics.reads.sql import QUERIES

_PARAM = re.compile(r"\{(?P<name>\w+):(?P<type>\w+)\}")

DESCRIPTIONS = {
    "metrics_overview": "Headline figures of a project over a window (rollup ranges plus raw edges).",
    "metrics_loss": "What the SDKs delivered and report having lost, over the minutes of a window.",
    "metrics_timeseries": "Requests, errors and latency percentiles per time bucket.",
    "metrics_endpoints": "Figures per method and route, in a requested order, after a keyset cursor.",
    "metrics_endpoints_page": "Counts per method and route in a count order, after a keyset cursor (no sketches).",
    "metrics_endpoint_sketches": "Latency percentiles of the methods and routes listed in keys (JSON pairs).",
    "metrics_consumers_page": "Counts per consumer in a count order, after a keyset cursor (no sketches).",
    "metrics_consumer_sketches": "p95 of the consumers listed in keys (a JSON array of ids).",
    "metrics_status_codes": "Requests per status code.",
    "metrics_consumers": "Requests, errors and p95 per consumer, in a requested order, after a keyset cursor.",
    "request_log": "The request log, newest first, with filters and a keyset cursor.",
    "request_detail": "One request with everything captured.",
}


def pipes_dir() -> Path:
    return default_migrations_dir().parent / "tinybird" / "pipes"


def to_template(sql: str) -> str:
    """``{name:Type}`` -> ``{{ Type(name, default) }}``; the default keeps an empty value from being "missing"."""

    def param(m: re.Match[str]) -> str:
        default = "''" if m["type"] == "String" else "0"
        return "{{ " + m["type"] + "(" + m["name"] + ", " + default + ") }}"

    return _PARAM.sub(param, sql)


def render(name: str) -> str:
    body = "\n".join(
        f"    {line}" if line.strip() else "" for line in ["%", *to_template(QUERIES[name]).strip().splitlines()]
    )
    return (
        f"DESCRIPTION >\n    {DESCRIPTIONS[name]}\n    Generated from sentinel_analytics.reads.sql: do not edit.\n\n"
        f"NODE {name}_node\nSQL >\n{body}\n\nTYPE endpoint\n"
    )


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else pipes_dir()
    for name in QUERIES:
        (target / f"{name}.pipe").write_text(render(name))
        sys.stdout.write(f"wrote {target / name}.pipe\n")


if __name__ == "__main__":
    main()
