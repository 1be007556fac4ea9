"""A project's events over a window, from the analytics store as NDJSON (one event per line).

The columns are the request's shape as the SDK captured it, without bodies, headers and client addresses (a
script gets what it needs for latency, error and consumer analyses, not personal data).
"""

from __future__ import annotations

from typing import Any

import msgspec

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


COUNT_SQL = """
SELECT count() FROM events
WHERE project_id = {project_id:String} AND timestamp >= {start:DateTime64(3)} AND timestamp < {end:DateTime64(3)}
"""


class ExportTooLarge(Exception):
    """The window holds more events than one export may carry."""


class ExportFailed(Exception):
    """The store failed part-way through the export (its answer ended in an error, not in rows)."""


_TOO_LARGE_MARKS = (b"TOO_MANY_ROWS_OR_BYTES", b"Code: 396.")


async def export_events(
    client: Any, project_id: str, start_ms: int, end_ms: int, *, max_rows: int, max_bytes: int
) -> tuple[bytes, int]:
    """``(ndjson, rows)`` of the project's events in ``[start_ms, end_ms)``, oldest first.

    The export is held in memory before it is stored, so it is bounded: the window's events are counted first
    (``ExportTooLarge`` over ``max_rows``, before anything is read); the export itself reads at most one row more
    than that (events that arrive in between) and the server stops past ``max_bytes`` of result. A server error
    after the answer has started streaming arrives inside the body as text: it is detected (``ExportFailed``, or
    ``ExportTooLarge`` for the size limit), never stored as data.
    """
    parameters = {"project_id": project_id, "start": start_ms / 1000, "end": end_ms / 1000}
    counted = await client.query(COUNT_SQL, parameters=parameters)
    total = int(counted.result_rows[0][0])
    if total > max_rows:
        raise ExportTooLarge(
            f"the window holds {total:,} events, over the {max_rows:,} one export may carry; choose a shorter window"
        )
    if total == 0:
        return b"", 0
    too_large = ExportTooLarge(
        f"the window's export is over {max_rows:,} events or {max_bytes // 1_000_000:,} MB; choose a shorter window"
    )
    try:
        body: bytes = await client.raw_query(
            EXPORT_SQL + "LIMIT {limit:UInt64}",
            parameters={**parameters, "limit": max_rows + 1},
            settings={
                "output_format_json_quote_64bit_integers": 0,
                "max_result_bytes": max_bytes,
                "result_overflow_mode": "throw",
                # an error after rows were sent comes as plain text, never as a JSON row that would pass for data
                "http_write_exception_in_output_format": 0,
            },
            fmt="JSONEachRow",
        )
    except Exception as exc:
        if any(mark.decode() in str(exc) for mark in _TOO_LARGE_MARKS):
            raise too_large from None
        raise
    if len(body) > max_bytes:
        raise too_large
    if not _ends_in_a_row(body):
        if any(mark in body[-4096:] for mark in _TOO_LARGE_MARKS):
            raise too_large
        raise ExportFailed("the analytics store's answer ended in an error part-way through the export")
    rows = body.count(b"\n")
    if rows > max_rows:  # events arrived in the window since it was counted
        raise too_large
    return body, rows


def _ends_in_a_row(body: bytes) -> bool:
    """True when the answer ends with a whole event row (an error or a cut stream leaves something else)."""
    if not body.endswith(b"}\n"):
        return False
    last = body[body.rfind(b"\n", 0, len(body) - 1) + 1 :]
    try:
        row = msgspec.json.decode(last)
    except (msgspec.DecodeError, ValueError):
        return False
    return isinstance(row, dict) and "event_id" in row
