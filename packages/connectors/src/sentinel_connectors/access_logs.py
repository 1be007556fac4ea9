"""Request logs as events: AWS ALB access-log lines and NDJSON request-log lines.

Each parser returns a validated ``Event`` (the same constraints the ingest API enforces) or raises
``LineRejected`` saying why; the import counts rejections per reason instead of failing.

ALB lines follow the documented space-separated format (quoted fields may contain spaces; ``-`` means absent):
``type time elb client:port target:port request_processing_time target_processing_time
response_processing_time elb_status_code target_status_code received_bytes sent_bytes "request" "user_agent"
ssl_cipher ssl_protocol target_group_arn "trace_id" "domain_name" "chosen_cert_arn" matched_rule_priority
request_creation_time ...`` (later fields are ignored).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import msgspec

from sentinel_types import Event, limits

ALB_TYPES = frozenset({"http", "https", "h2", "grpcs", "ws", "wss"})
_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')
_MIN_ALB_FIELDS = 14


class LineRejected(ValueError):
    """A log line that cannot become an event; the message is the reason (counted per reason)."""


def _event(fields: dict[str, Any]) -> Event:
    try:
        return msgspec.convert(fields, Event)
    except msgspec.ValidationError as exc:
        raise LineRejected(f"invalid event: {exc}") from None


def _epoch_ms(text: str, what: str) -> int:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise LineRejected(f"{what} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise LineRejected(f"{what} has no time zone")
    return int(moment.timestamp() * 1000)


def _optional(value: str) -> str | None:
    return None if value in ("", "-") else value


def _trace_id(value: str) -> str | None:
    """X-Amzn-Trace-Id, unless absent or longer than an event keeps (then dropped rather than cut)."""
    trace = _optional(value)
    return trace if trace is not None and len(trace) <= limits.MAX_TRACE_ID_LENGTH else None


def alb_fields(line: str) -> list[str]:
    """A line split into fields, quoted fields unquoted (``\\"`` inside quotes becomes ``"``)."""
    fields = []
    for quoted, bare in _TOKEN.findall(line):
        fields.append(bare if bare else re.sub(r"\\(.)", r"\1", quoted))
    return fields


def _seconds(value: str, what: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise LineRejected(f"{what} is not a number") from None
    return max(seconds, 0.0)  # -1: the load balancer could not measure it (no target answered)


def _count(value: str, what: str) -> int:
    if not value.isdigit():
        raise LineRejected(f"{what} is not a byte count")
    return int(value)


def parse_alb_line(line: str, event_id: uuid.UUID) -> Event:
    """One ALB access-log line as an event (timestamp: when the request arrived)."""
    fields = alb_fields(line)
    if len(fields) < _MIN_ALB_FIELDS:
        raise LineRejected(f"an ALB line has at least {_MIN_ALB_FIELDS} fields")
    if fields[0] not in ALB_TYPES:
        raise LineRejected("unknown request type (not an ALB access log?)")
    started = fields[21] if len(fields) > 21 and fields[21] != "-" else fields[1]
    timestamp = _epoch_ms(started, "request time")
    if not fields[8].isdigit():
        raise LineRejected("no status code (elb_status_code is '-')")
    parts = fields[12].split(" ")
    if len(parts) != 3 or parts[0] == "-":
        raise LineRejected("the request line could not be parsed by the load balancer")
    method, url, _ = parts
    path = urlsplit(url).path or "/"
    duration = sum(_seconds(fields[i], "a processing time") for i in (5, 6, 7))
    client = fields[3].rsplit(":", 1)[0].strip("[]") if fields[3] != "-" else None
    attributes = {"source": "alb"}
    if len(fields) > 18 and _optional(fields[18]):
        attributes["domain"] = fields[18][: limits.MAX_ATTRIBUTE_VALUE_LENGTH]
    if fields[9].isdigit():
        attributes["target_status"] = fields[9]
    return _event(
        {
            "event_id": event_id,
            "timestamp": timestamp,
            "method": method.upper(),
            "path": path[: limits.MAX_PATH_LENGTH],
            "status": int(fields[8]),
            "duration_ms": round(duration * 1000, 3),
            "request_size": _count(fields[10], "received_bytes"),
            "response_size": _count(fields[11], "sent_bytes"),
            "client_ip": client,
            "user_agent": (_optional(fields[13]) or "")[: limits.MAX_USER_AGENT_LENGTH] or None,
            "trace_id": _trace_id(fields[17]) if len(fields) > 17 else None,
            "attributes": attributes,
        }
    )


class NdjsonRequest(msgspec.Struct, kw_only=True):
    """One line of an NDJSON request log (other keys are ignored)."""

    timestamp: str | int
    """ISO 8601 with a time zone, or UTC milliseconds since the epoch."""
    method: str
    status: int
    duration_ms: float
    path: str | None = None
    url: str | None = None
    """Used for the path when ``path`` is absent."""
    route: str | None = None
    request_size: int = 0
    response_size: int = 0
    client_ip: str | None = None
    user_agent: str | None = None
    consumer_id: str | None = None
    trace_id: str | None = None
    attributes: dict[str, str] = msgspec.field(default_factory=dict)


_ndjson = msgspec.json.Decoder(NdjsonRequest)


def parse_ndjson_line(line: bytes, event_id: uuid.UUID) -> Event:
    """One NDJSON request-log line as an event."""
    try:
        request = _ndjson.decode(line)
    except msgspec.ValidationError as exc:
        raise LineRejected(f"invalid request record: {exc}") from None
    except msgspec.DecodeError:
        raise LineRejected("not a JSON object") from None
    stamp = request.timestamp
    timestamp = _epoch_ms(stamp, "timestamp") if isinstance(stamp, str) else stamp
    path = request.path or (urlsplit(request.url).path if request.url else "")
    if not path:
        raise LineRejected("neither path nor url is given")
    return _event(
        {
            "event_id": event_id,
            "timestamp": timestamp,
            "method": request.method.upper(),
            "path": path,
            "status": request.status,
            "duration_ms": request.duration_ms,
            "route": request.route,
            "request_size": request.request_size,
            "response_size": request.response_size,
            "client_ip": request.client_ip,
            "user_agent": request.user_agent,
            "consumer": {"id": request.consumer_id} if request.consumer_id else None,
            "trace_id": request.trace_id,
            "attributes": {"source": "ndjson", **request.attributes},
        }
    )
