"""``/api/projects/{project_id}/metrics/...``: a project's figures over a window, scoped to the caller's tenant.

Every route takes ``from``, ``to`` (ISO-8601 or epoch ms; default the last 24 h), ``environment`` and ``service``.
Another tenant's project answers 404, like a project that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, get
from litestar.di import Provide
from litestar.params import QueryParameter

from sentinel_analytics.reads import ConsumerSort, EndpointSort, Interval, Metric, Order
from sentinel_dashboard.auth import provide_principal
from sentinel_dashboard.deps import AnalyticsDep, ControlDep, PrincipalDep
from sentinel_dashboard.metrics import service
from sentinel_dashboard.metrics.params import (
    CursorParam,
    EnvironmentParam,
    FromParam,
    LimitParam,
    ServiceParam,
    ToParam,
    decode_cursor,
    scope_of,
    window_of,
)
from sentinel_dashboard.metrics.payloads import ConsumerPage, EndpointPage, Overview, StatusCodes, Timeseries, Window
from sentinel_dashboard.params import ProjectIdParam
from sentinel_dashboard.projects.routes import project_of
from sentinel_dashboard.responses import authed
from sentinel_service import ApiError

MetricParam = Annotated[Metric, QueryParameter(description="requests, errors (4xx + 5xx), p50, p95 or p99")]
IntervalParam = Annotated[
    Literal["auto", "1m", "5m", "1h", "1d"], QueryParameter(description="Bucket width; auto picks 60-400 points")
]
OrderParam = Annotated[Order, QueryParameter(description="asc or desc")]


def _after(page_after: list[Any], shape: type[Any]) -> list[Any]:
    try:
        return list(msgspec.convert(page_after, shape))
    except msgspec.ValidationError:
        raise ApiError(400, "cursor is not a cursor this API issued", field="cursor") from None


class MetricsController(Controller):
    path = "/api/projects/{project_id:str}/metrics"
    tags = ["metrics"]
    dependencies = {"principal": Provide(provide_principal)}

    async def _window(
        self, principal: PrincipalDep, control: ControlDep, project_id: str, from_: str | None, to: str | None
    ) -> Window:
        principal.require("read")
        await project_of(control, principal, project_id)
        return window_of(from_, to)

    @get(
        "/overview",
        summary="Headline figures: requests, errors, latency percentiles, consumers, completeness",
        responses=authed(404, 504),
    )
    async def get_overview(
        self,
        principal: PrincipalDep,
        control: ControlDep,
        analytics: AnalyticsDep,
        project_id: ProjectIdParam,
        from_: FromParam = None,
        to: ToParam = None,
        environment: EnvironmentParam = None,
        service_: ServiceParam = None,
    ) -> Overview:
        """Requests, 4xx, 5xx, error rate, p50/p95/p99, requests per minute, distinct consumers, and the share
        of captured events that arrived (from the SDKs' loss counters)."""
        window = await self._window(principal, control, project_id, from_, to)
        return await service.overview(analytics, scope_of(project_id, window, environment, service_), window)

    @get("/timeseries", summary="One metric per time bucket, every bucket present", responses=authed(404, 504))
    async def get_timeseries(
        self,
        principal: PrincipalDep,
        control: ControlDep,
        analytics: AnalyticsDep,
        project_id: ProjectIdParam,
        metric: MetricParam = "requests",
        interval: IntervalParam = "auto",
        from_: FromParam = None,
        to: ToParam = None,
        environment: EnvironmentParam = None,
        service_: ServiceParam = None,
    ) -> Timeseries:
        """Buckets aligned to UTC multiples of the interval, from the one holding ``from`` to ``to``."""
        window = await self._window(principal, control, project_id, from_, to)
        chosen: Interval | None = None if interval == "auto" else interval
        scope = scope_of(project_id, window, environment, service_)
        return await service.timeseries(analytics, scope, window, metric, chosen)

    @get("/endpoints", summary="Figures per method and route, sorted and paginated", responses=authed(404, 504))
    async def get_endpoints(
        self,
        principal: PrincipalDep,
        control: ControlDep,
        analytics: AnalyticsDep,
        project_id: ProjectIdParam,
        sort: Annotated[EndpointSort, QueryParameter(description="Sort key")] = "requests",
        order: OrderParam = "desc",
        limit: LimitParam = 50,
        cursor: CursorParam = None,
        from_: FromParam = None,
        to: ToParam = None,
        environment: EnvironmentParam = None,
        service_: ServiceParam = None,
    ) -> EndpointPage:
        """Ties are broken by method then route; ``next`` is null on the last page."""
        principal.require("read")
        await project_of(control, principal, project_id)
        query = {"sort": sort, "order": order, "environment": environment or "", "service": service_ or ""}
        after = None
        if cursor is not None:
            page = decode_cursor(cursor, "endpoints", query, from_, to)
            window = Window(from_ms=page.from_ms, to_ms=page.to_ms)
            after = _after(page.after, tuple[float, str, str])
        else:
            window = window_of(from_, to)
        return await service.endpoints(
            analytics,
            scope_of(project_id, window, environment, service_),
            window,
            sort=sort,
            order=order,
            limit=limit,
            query=query,
            after=after,
        )

    @get("/status-codes", summary="Requests per status code", responses=authed(404, 504))
    async def get_status_codes(
        self,
        principal: PrincipalDep,
        control: ControlDep,
        analytics: AnalyticsDep,
        project_id: ProjectIdParam,
        from_: FromParam = None,
        to: ToParam = None,
        environment: EnvironmentParam = None,
        service_: ServiceParam = None,
    ) -> StatusCodes:
        """Every status seen in the window, ascending, with its share of requests."""
        window = await self._window(principal, control, project_id, from_, to)
        return await service.status_codes(analytics, scope_of(project_id, window, environment, service_), window)

    @get("/consumers", summary="Figures per consumer, sorted and paginated", responses=authed(404, 504))
    async def get_consumers(
        self,
        principal: PrincipalDep,
        control: ControlDep,
        analytics: AnalyticsDep,
        project_id: ProjectIdParam,
        sort: Annotated[ConsumerSort, QueryParameter(description="Sort key")] = "requests",
        order: OrderParam = "desc",
        limit: LimitParam = 50,
        cursor: CursorParam = None,
        from_: FromParam = None,
        to: ToParam = None,
        environment: EnvironmentParam = None,
        service_: ServiceParam = None,
    ) -> ConsumerPage:
        """Requests, error rate and p95 per consumer id; ties broken by consumer id."""
        principal.require("read")
        await project_of(control, principal, project_id)
        query = {"sort": sort, "order": order, "environment": environment or "", "service": service_ or ""}
        after = None
        if cursor is not None:
            page = decode_cursor(cursor, "consumers", query, from_, to)
            window = Window(from_ms=page.from_ms, to_ms=page.to_ms)
            after = _after(page.after, tuple[float, str])
        else:
            window = window_of(from_, to)
        return await service.consumers(
            analytics,
            scope_of(project_id, window, environment, service_),
            window,
            sort=sort,
            order=order,
            limit=limit,
            query=query,
            after=after,
        )
