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


async def export_events(client: Any, project_id: str, start_ms: int, end_ms: int) -> tuple[bytes, int]:
    """``(ndjson, rows)`` of the project's events in ``[start_ms, end_ms)``, oldest first."""
    body: bytes = await client.raw_query(
        EXPORT_SQL,
        parameters={"project_id": project_id, "start": start_ms / 1000, "end": end_ms / 1000},
        settings={"output_format_json_quote_64bit_integers": 0},
        fmt="JSONEachRow",
    )
    return body, body.count(b"\n")
