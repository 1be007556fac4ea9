"""Query parameters shared by the metrics and request-log routes: the window, filters and cursors.

``from`` and ``to`` accept ISO-8601 (``2026-05-01T12:00:00Z``; no offset means UTC) or epoch milliseconds
(``1777636800000``). Defaults: ``to`` = now, ``from`` = ``to`` - 24 h. A bad value is a 400 naming the parameter.
"""

from __future__ import annotations

import base64
import binascii
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar.params import QueryParameter

from sentinel_analytics.reads import Scope
from sentinel_dashboard.metrics.payloads import Window
from sentinel_service import ApiError

DAY_MS = 86_400_000
MAX_WINDOW_MS = 400 * DAY_MS
_FILTER_VALUE = {"max_length": 200}

FromParam = Annotated[
    str | None,
    QueryParameter(name="from", description="Window start (inclusive): ISO-8601 or epoch ms; default to - 24 h"),
]
ToParam = Annotated[str | None, QueryParameter(description="Window end (exclusive): ISO-8601 or epoch ms; default now")]
EnvironmentParam = Annotated[str | None, QueryParameter(description="Only this environment", **_FILTER_VALUE)]
ServiceParam = Annotated[str | None, QueryParameter(name="service", description="Only this service", **_FILTER_VALUE)]
LimitParam = Annotated[int, QueryParameter(ge=1, le=500, description="Items per page (1-500)")]
CursorParam = Annotated[
    str | None, QueryParameter(description="The `next` value of the previous page", max_length=2_000)
]


def parse_time(value: str, field: str) -> int:
    """Epoch ms from ISO-8601 or epoch ms text; ``ApiError(400)`` naming ``field`` otherwise."""
    text = value.strip()
    if text.isascii() and text.isdigit():  # str.isdigit alone also accepts digits int() refuses, such as "²"
        ms = int(text)
    else:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ApiError(
                400,
                f"{field} must be ISO-8601 (2026-05-01T12:00:00Z) or epoch milliseconds, not {value[:40]!r}",
                field=field,
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        ms = int(parsed.timestamp() * 1000)
    if not 0 <= ms < 10**14:
        raise ApiError(400, f"{field} is out of range", field=field)
    return ms


def window_of(from_: str | None, to: str | None, *, now_ms: int | None = None) -> Window:
    end = parse_time(to, "to") if to is not None else (now_ms if now_ms is not None else int(time.time() * 1000))
    start = parse_time(from_, "from") if from_ is not None else end - DAY_MS
    if start >= end:
        raise ApiError(400, "from must be before to", field="from")
    if end - start > MAX_WINDOW_MS:
        raise ApiError(400, "the window may span at most 400 days", field="from")
    return Window(from_ms=start, to_ms=end)


def scope_of(project_id: str, window: Window, environment: str | None, service: str | None) -> Scope:
    return Scope(
        project_id=project_id,
        start_ms=window.from_ms,
        end_ms=window.to_ms,
        environment=environment or "",
        service=service or "",
    )


class PageQuery(msgspec.Struct, kw_only=True, frozen=True, array_like=True):
    """What a cursor was made for: the route, window, filters and order, and where the page ended."""

    kind: str
    from_ms: int
    to_ms: int
    query: dict[str, Any]
    after: list[Any]


_decoder = msgspec.json.Decoder(PageQuery)


def encode_cursor(page: PageQuery) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(page)).rstrip(b"=").decode()


def decode_cursor(cursor: str, kind: str, query: dict[str, Any], from_: str | None, to: str | None) -> PageQuery:
    """The cursor's page query; 400 ``cursor`` when it is malformed or belongs to a different query."""
    try:
        page = _decoder.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise ApiError(400, "cursor is not a cursor this API issued", field="cursor") from None
    if not 0 <= page.from_ms < page.to_ms < 10**14 or page.to_ms - page.from_ms > MAX_WINDOW_MS:
        raise ApiError(400, "cursor is not a cursor this API issued", field="cursor")
    if page.kind != kind or page.query != query:
        raise ApiError(400, "cursor belongs to a different query: repeat the same filters and order", field="cursor")
    if (from_ is not None and parse_time(from_, "from") != page.from_ms) or (
        to is not None and parse_time(to, "to") != page.to_ms
    ):
        raise ApiError(400, "cursor belongs to a different window: repeat the same from and to", field="cursor")
    return page
