"""Turning named result rows (from clickhouse-connect, or Tinybird's JSON) into the reader's Structs.

Tinybird answers in ClickHouse's JSON format, where 64-bit integers may arrive quoted, so every number is coerced.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from sentinel_analytics.reads.types import (
    Bucket,
    ConsumerFigures,
    EndpointFigures,
    Loss,
    OverviewFigures,
    RequestRecord,
    RequestRow,
    StatusCount,
)

Row = Mapping[str, Any]
_F32 = struct.Struct("<f")


def _f32(value: Any) -> float:
    """The sketch's Float32 as the same float whichever way it travelled (binary, or JSON's shortest text)."""
    result: float = _F32.unpack(_F32.pack(float(value)))[0]
    return result


def _latency(value: Any) -> tuple[float, float, float]:
    values = [_f32(v) for v in value] if value else []
    if len(values) != 3:
        return 0.0, 0.0, 0.0
    return values[0], values[1], values[2]


def _figures(row: Row) -> dict[str, Any]:
    p50, p95, p99 = _latency(row["latency"])
    return {
        "requests": int(row["requests"]),
        "errors_4xx": int(row["errors_4xx"]),
        "errors_5xx": int(row["errors_5xx"]),
        "duration_sum": float(row["duration_sum"]),
        "p50_ms": p50,
        "p95_ms": p95,
        "p99_ms": p99,
        "request_size_sum": int(row["request_size_sum"]),
        "response_size_sum": int(row["response_size_sum"]),
    }


def overview(rows: Sequence[Row]) -> OverviewFigures:
    row = rows[0]
    return OverviewFigures(**_figures(row), consumers=int(row["consumers"]))


def loss(rows: Sequence[Row]) -> Loss:
    row = rows[0]
    return Loss(**{name: int(row[name]) for name in Loss.__struct_fields__})


def buckets(rows: Sequence[Row]) -> list[Bucket]:
    out = []
    for row in rows:
        p50, p95, p99 = _latency(row["latency"])
        out.append(
            Bucket(
                start_ms=int(row["bucket"]) * 1000,
                requests=int(row["requests"]),
                errors=int(row["errors"]),
                p50_ms=p50,
                p95_ms=p95,
                p99_ms=p99,
            )
        )
    return out


def endpoints(rows: Sequence[Row]) -> list[EndpointFigures]:
    return [
        EndpointFigures(**_figures(row), method=row["method"], route=row["route"], sort_key=float(row["sort_key"]))
        for row in rows
    ]


def status_codes(rows: Sequence[Row]) -> list[StatusCount]:
    return [StatusCount(status=int(row["status"]), requests=int(row["requests"])) for row in rows]


def consumers(rows: Sequence[Row]) -> list[ConsumerFigures]:
    return [
        ConsumerFigures(
            consumer_id=row["consumer_id"],
            name=row["consumer_name"],
            group=row["consumer_group"],
            requests=int(row["requests"]),
            errors_4xx=int(row["errors_4xx"]),
            errors_5xx=int(row["errors_5xx"]),
            p95_ms=_f32(row["p95_ms"]),
            sort_key=float(row["sort_key"]),
        )
        for row in rows
    ]


def _row_fields(row: Row) -> dict[str, Any]:
    return {
        "event_id": str(row["event_id"]),
        "timestamp_ms": int(row["timestamp_ms"]),
        "service": row["service"],
        "environment": row["environment"],
        "method": row["method"],
        "path": row["path"],
        "route": row["route"],
        "status": int(row["status"]),
        "duration_ms": float(row["duration_ms"]),
        "request_size": int(row["request_size"]),
        "response_size": int(row["response_size"]),
        "consumer_id": row["consumer_id"],
        "consumer_name": row["consumer_name"],
        "error": row["error"],
    }


def requests(rows: Sequence[Row]) -> list[RequestRow]:
    return [RequestRow(**_row_fields(row)) for row in rows]


_headers = msgspec.json.Decoder(dict[str, str])


def _json_headers(value: str | None) -> dict[str, str] | None:
    return None if value is None else _headers.decode(value)


def request(rows: Sequence[Row]) -> RequestRecord | None:
    if not rows:
        return None
    row = rows[0]
    ttfb = row["ttfb_ms"]
    return RequestRecord(
        **_row_fields(row),
        batch_id=str(row["batch_id"]),
        received_at_ms=int(row["received_at_ms"]),
        ttfb_ms=None if ttfb is None else float(ttfb),
        client_ip=row["client_ip"],
        user_agent=row["user_agent"],
        consumer_group=row["consumer_group"],
        attributes=dict(row["attributes"]),
        request_headers=_json_headers(row["request_headers"]),
        response_headers=_json_headers(row["response_headers"]),
        request_body=row["request_body"],
        response_body=row["response_body"],
        aborted=bool(row["aborted"]),
        trace_id=row["trace_id"],
    )
