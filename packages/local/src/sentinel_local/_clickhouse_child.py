"""Serve ClickHouse over HTTP from the embedded engine: ``python -m sentinel_local._clickhouse_child DATA_DIR``.

The engine reads ``config.xml`` (listen host and ports) from the working directory. One call starts the HTTP and
TCP listeners and then runs a query that sleeps for ~30 years, which keeps the process serving until it is
signalled. Data in DATA_DIR survives SIGTERM and SIGKILL.
"""

from __future__ import annotations

import sys

SERVE_FOREVER = (
    "SYSTEM START LISTEN HTTP; SYSTEM START LISTEN TCP; "
    "SELECT sleepEachRow(1) FROM numbers(1000000000) "
    "SETTINGS function_sleep_max_microseconds_per_block = 0, max_block_size = 1 FORMAT Null"
)


def main() -> None:
    from chdb import _chdb  # private entry point of the pinned chdb-core; the public API cannot listen

    # The output format must be TabSeparated: with CSV the HTTP interface answers in CSV and clients break.
    _chdb.query(SERVE_FOREVER, "TabSeparated", path=sys.argv[1])  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
