"""A project's events over a window, from the analytics store as NDJSON (one event per line).

The columns are the request's shape as the SDK captured it, without bodies, headers and client addresses (a
script gets what it needs for latency, error and consumer analyses, not personal data).
"""

from __future__ import annotations

from typing import Any

EXPORT_SQL = """
SELECT
    toString(event_id) AS event_id,
    toUnixTimestamp64Milli(timestamp) AS timestamp,
    service, environment, method, path, route, status, duration_ms, ttfb_ms, request_size, response_size,
    consumer_id, consumer_name, consumer_group, attributes, error, aborted, trace_id
FROM (
    -- Filtered inside, so the output's aliases (timestamp as epoch ms) never shadow the columns compared here.
    SELECT * FROM events
    WHERE project_id = {project_id:String}
      AND timestamp >= {start:DateTime64(3)}
      AND timestamp < {end:DateTime64(3)}
)
ORDER BY timestamp, event_id
"""


class ExportTooLarge(Exception):
    """The window holds more events than one export may carry."""


_TOO_LARGE_MARKS = ("TOO_MANY_ROWS_OR_BYTES", "Code: 396.")


async def export_events(
    client: Any, project_id: str, start_ms: int, end_ms: int, *, max_rows: int, max_bytes: int
) -> tuple[bytes, int]:
    """``(ndjson, rows)`` of the project's events in ``[start_ms, end_ms)``, oldest first.

    The export is held in memory before it is stored, so the server refuses a result over ``max_rows`` rows or
    ``max_bytes`` bytes (``ExportTooLarge``) rather than letting a wide window exhaust the process.
    """
    try:
        body: bytes = await client.raw_query(
            EXPORT_SQL,
            parameters={"project_id": project_id, "start": start_ms / 1000, "end": end_ms / 1000},
            settings={
                "output_format_json_quote_64bit_integers": 0,
                "max_result_rows": max_rows,
                "max_result_bytes": max_bytes,
                "result_overflow_mode": "throw",
            },
            fmt="JSONEachRow",
        )
    except Exception as exc:
        if any(mark in str(exc) for mark in _TOO_LARGE_MARKS):
            raise ExportTooLarge(
                f"the window holds more than {max_rows:,} events or {max_bytes // 1_000_000:,} MB to export;"
                " choose a shorter window"
            ) from None
        raise
    if len(body) > max_bytes:  # the limit above counts the server's columns, this the NDJSON text
        raise ExportTooLarge(
            f"the window's export is {len(body) // 1_000_000:,} MB, over {max_bytes // 1_000_000:,} MB;"
            " choose a shorter window"
        )
    return body, body.count(b"\n")
