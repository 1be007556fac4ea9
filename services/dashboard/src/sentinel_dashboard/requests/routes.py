"""``/api/projects/{project_id}/requests``: the request log from the raw events table, scoped to the caller's tenant.

Newest first; ``next`` continues strictly after the last row (timestamp, event id), so rows arriving meanwhile
never shift a page. Another tenant's project, or an event of another project, answers 404.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, get
from litestar.di import Provide
from litestar.params import QueryParameter

from sentinel_analytics.reads import RequestCursor, RequestFilter, RequestRecord, RequestRow
from sentinel_dashboard.auth import provide_principal
from sentinel_dashboard.deps import AnalyticsDep, ControlDep, PrincipalDep
from sentinel_dashboard.metrics.params import (
    CursorParam,
    EnvironmentParam,
    FromParam,
    LimitParam,
    PageQuery,
    ServiceParam,
    ToParam,
    decode_cursor,
    encode_cursor,
    scope_of,
    window_of,
)
from sentinel_dashboard.metrics.payloads import RequestDetail, RequestPage, RequestSummary, Window
from sentinel_dashboard.params import ProjectIdParam
from sentinel_dashboard.projects.routes import project_of
from sentinel_dashboard.responses import authed
from sentinel_service import ApiError

_STATUS = re.compile(r"^(?:(?P<code>[1-5][0-9]{2})|(?P<cls>[1-5])xx)$")
_METHOD = re.compile(r"^[A-Za-z]{1,16}$")


def status_range(value: str | None) -> tuple[int, int]:
    """``404`` -> (404, 404); ``5xx`` -> (500, 599); none -> every status."""
    if value is None:
        return 0, 999
    match = _STATUS.match(value.strip().lower())
    if match is None:
        raise ApiError(400, "status must be a code like 404 or a class like 5xx", field="status")
    if match["code"]:
        code = int(match["code"])
        return code, code
    low = int(match["cls"]) * 100
    return low, low + 99


def _summary_fields(row: RequestRow) -> dict[str, Any]:
    fields = msgspec.structs.asdict(row)
    fields["timestamp"] = fields.pop("timestamp_ms")
    return {name: fields[name] for name in RequestSummary.__struct_fields__}


def _detail(record: RequestRecord) -> RequestDetail:
    fields = msgspec.structs.asdict(record)
    fields["timestamp"] = fields.pop("timestamp_ms")
    fields["received_at"] = fields.pop("received_at_ms")
    return RequestDetail(**fields)


class RequestController(Controller):
    path = "/api/projects/{project_id:str}/requests"
    tags = ["requests"]
    dependencies = {"principal": Provide(provide_principal)}

    @get("/", summary="The request log, newest first, with filters and keyset pagination", responses=authed(404, 504))
    async def list_requests(
        self,
        principal: PrincipalDep,
        control: ControlDep,
        analytics: AnalyticsDep,
        project_id: ProjectIdParam,
        route: Annotated[str | None, QueryParameter(description="Exact route template", max_length=500)] = None,
        method: Annotated[str | None, QueryParameter(description="HTTP method", max_length=16)] = None,
        status: Annotated[
            str | None, QueryParameter(description="A status (404) or a class (5xx)", max_length=3)
        ] = None,
        consumer: Annotated[str | None, QueryParameter(description="Consumer id", max_length=200)] = None,
        min_duration_ms: Annotated[float | None, QueryParameter(ge=0, le=86_400_000)] = None,
        limit: LimitParam = 50,
        cursor: CursorParam = None,
        from_: FromParam = None,
        to: ToParam = None,
        environment: EnvironmentParam = None,
        service_: ServiceParam = None,
    ) -> RequestPage:
        """Filters combine with AND; ``from``/``to`` default to the last 24 h."""
        principal.require("read")
        await project_of(control, principal, project_id)
        if method is not None and not _METHOD.match(method):
            raise ApiError(400, "method must be letters only, like GET", field="method")
        low, high = status_range(status)
        filters = RequestFilter(
            route=route or "",
            method=(method or "").upper(),
            status_min=low,
            status_max=high,
            consumer_id=consumer or "",
            min_duration_ms=min_duration_ms or 0.0,
        )
        query = {**msgspec.structs.asdict(filters), "environment": environment or "", "service": service_ or ""}
        before = None
        if cursor is not None:
            page = decode_cursor(cursor, "requests", query, from_, to)
            window = Window(from_ms=page.from_ms, to_ms=page.to_ms)
            try:
                ts, event_id = msgspec.convert(page.after, tuple[int, uuid.UUID])
            except msgspec.ValidationError:
                raise ApiError(400, "cursor is not a cursor this API issued", field="cursor") from None
            before = RequestCursor(timestamp_ms=ts, event_id=str(event_id))
        else:
            window = window_of(from_, to)
        scope = scope_of(project_id, window, environment, service_)
        rows = await analytics.requests(scope, filters, limit=limit + 1, before=before)
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = encode_cursor(
                PageQuery(
                    kind="requests",
                    from_ms=window.from_ms,
                    to_ms=window.to_ms,
                    query=query,
                    after=[last.timestamp_ms, last.event_id],
                )
            )
        items = [RequestSummary(**_summary_fields(row)) for row in rows[:limit]]
        return RequestPage(window=window, items=items, next=next_cursor)

    @get("/{event_id:str}", summary="One request with its captured headers and bodies", responses=authed(404, 504))
    async def get_request(
        self,
        principal: PrincipalDep,
        control: ControlDep,
        analytics: AnalyticsDep,
        project_id: ProjectIdParam,
        event_id: Annotated[str, QueryParameter(description="The event id (a UUID)", max_length=64)],
    ) -> RequestDetail:
        """Headers are ``null`` when they were not captured."""
        principal.require("read")
        await project_of(control, principal, project_id)
        try:
            parsed = uuid.UUID(event_id)
        except ValueError:
            raise ApiError(400, "event_id must be a UUID", field="event_id") from None
        record = await analytics.request(project_id, str(parsed))
        if record is None:
            raise ApiError(404, f"no request {event_id} in project {project_id}", field="event_id")
        return _detail(record)
