"""Read helpers over the ClickHouse tables: a project's headline figures from the raw table or a rollup.

Every user value is a server-side parameter (``{name:Type}``), never formatted into the SQL. The dashboard's
metric queries build on these; tests use them to check that raw and rollups agree.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

Source = Literal["events", "requests_1m", "requests_1h"]


class Overview(msgspec.Struct, kw_only=True):
    """Headline figures of a project over a window."""

    requests: int
    errors_4xx: int
    errors_5xx: int
    duration_sum: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    request_size_sum: int
    response_size_sum: int
    consumers: int


class LossTotals(msgspec.Struct, kw_only=True):
    """What the SDKs sent and what they report having lost, over a window."""

    batches: int
    events: int
    queue_full: int
    sampled_out: int
    oversize: int
    send_failed: int
    shutdown: int


_WINDOW = "project_id = {project_id:String} AND {time} >= {start:DateTime64(3)} AND {time} < {end:DateTime64(3)}"

_OVERVIEW_RAW = """
SELECT count(), countIf(status >= 400 AND status < 500), countIf(status >= 500), sum(duration_ms),
       quantilesTDigest(0.5, 0.95, 0.99)(duration_ms), sum(request_size), sum(response_size),
       uniqIf(assumeNotNull(consumer_id), consumer_id IS NOT NULL)
FROM events WHERE {window}
""".replace("{window}", _WINDOW.replace("{time}", "timestamp"))

_OVERVIEW_ROLLUP = """
SELECT sum(requests), sum(errors_4xx), sum(errors_5xx), sum(duration_sum),
       quantilesTDigestMerge(0.5, 0.95, 0.99)(duration_q), sum(request_size_sum), sum(response_size_sum),
       uniqMerge(consumers)
FROM {table} WHERE {window}
"""

_LOSS = """
SELECT sum(batches), sum(events), sum(queue_full), sum(sampled_out), sum(oversize), sum(send_failed), sum(shutdown)
FROM sdk_loss_1m WHERE {window}
""".replace("{window}", _WINDOW.replace("{time}", "minute"))


def _params(project_id: str, start_ms: int, end_ms: int) -> dict[str, Any]:
    return {"project_id": project_id, "start": start_ms / 1000, "end": end_ms / 1000}


async def overview(client: Any, project_id: str, start_ms: int, end_ms: int, source: Source = "events") -> Overview:
    """Figures for ``[start_ms, end_ms)``; rollups cover whole minutes (hours) whose start is in the window."""
    if source == "events":
        sql = _OVERVIEW_RAW
    else:
        time_column = "minute" if source == "requests_1m" else "hour"
        sql = _OVERVIEW_ROLLUP.replace("{table}", source).replace("{window}", _WINDOW.replace("{time}", time_column))
    result = await client.query(sql, parameters=_params(project_id, start_ms, end_ms))
    row = result.result_rows[0]
    quantiles = list(row[4]) if row[4] else [0.0, 0.0, 0.0]
    return Overview(
        requests=int(row[0]),
        errors_4xx=int(row[1]),
        errors_5xx=int(row[2]),
        duration_sum=float(row[3]),
        p50_ms=float(quantiles[0]),
        p95_ms=float(quantiles[1]),
        p99_ms=float(quantiles[2]),
        request_size_sum=int(row[5]),
        response_size_sum=int(row[6]),
        consumers=int(row[7]),
    )


async def loss_totals(client: Any, project_id: str, start_ms: int, end_ms: int) -> LossTotals:
    """SDK loss counters summed over the minutes starting in ``[start_ms, end_ms)``."""
    result = await client.query(_LOSS, parameters=_params(project_id, start_ms, end_ms))
    names = LossTotals.__struct_fields__
    return LossTotals(**{name: int(value) for name, value in zip(names, result.result_rows[0], strict=True)})


async def row_count(client: Any, table: Literal["events", "batches", "dead_letters"], project_id: str) -> int:
    """Rows of one project in a raw table."""
    result = await client.query(
        f"SELECT count() FROM {table} WHERE project_id = {{project_id:String}}",  # noqa: S608 - a Literal table
        parameters={"project_id": project_id},
    )
    return int(result.result_rows[0][0])
