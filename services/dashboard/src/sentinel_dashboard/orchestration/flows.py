"""``POST /api/orchestration/run-flow``: run a flow file from ``infra/flows`` for a project, as a job.

The body is ``{project_id, flow, input}``. ``flow`` names a flow file; ``input`` is checked against what that flow
needs (400 naming the field, e.g. ``input.window.start``). Another tenant's project is a 404. The answer is the
job (202); its progress, timings, usage and result follow on ``GET /api/jobs/{id}`` and the SSE topic ``jobs``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, post
from litestar.di import Provide
from litestar.params import JSONBody
from msgspec import Meta

from sentinel_control.ids import PROJECT_ID_PATTERN
from sentinel_control.views import JobOut
from sentinel_dashboard.auth import provide_principal
from sentinel_dashboard.deps import ControlDep, PrincipalDep
from sentinel_dashboard.orchestration.flow_runtime import FlowRuntime
from sentinel_dashboard.projects.routes import project_of
from sentinel_dashboard.responses import JSON_BODY, authed
from sentinel_flowtasks import window_ms
from sentinel_flowtasks.keys import is_script_key
from sentinel_service import ApiError


class RunFlow(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    project_id: Annotated[str, Meta(pattern=PROJECT_ID_PATTERN, description="The project to run the flow for")]
    flow: Annotated[str, Meta(min_length=1, max_length=64, description="A flow file's name, e.g. analysis")]
    input: dict[str, Any] = msgspec.field(default_factory=dict)


class Window(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    start: Annotated[str, Meta(description="ISO 8601 date-time with a time zone, inclusive")]
    end: Annotated[str, Meta(description="ISO 8601 date-time with a time zone, exclusive")]


class AnalysisInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Input of the ``analysis`` flow."""

    script_key: Annotated[str, Meta(min_length=1, max_length=1024)]
    """An uploaded script of the project (``tenants/<tenant>/projects/<project>/scripts/...``)."""
    window: Window
    """The events to export for the script."""
    settle_seconds: Annotated[int, Meta(ge=0, le=3600)] | None = None
    """Wait this long before exporting, so late batches reach the store."""
    sandbox: Literal["e2b", "modal", "local"] | None = None
    """Where the script runs; default ``SENTINEL_ANALYSIS_SANDBOX``."""


FLOW_INPUTS: dict[str, type[msgspec.Struct]] = {"analysis": AnalysisInput}
"""The input each flow accepts; a flow file not listed here cannot be run through the API."""


def _field_of(exc: msgspec.ValidationError) -> str:
    """``input.<path>`` of a validation error; a missing field is named itself, not its parent."""
    message = str(exc)
    path = message.rpartition(" - at `")[2].rstrip("`") if " - at `" in message else "$"
    field = "input" + path[1:]
    missing = re.search(r"missing required field `([^`]+)`", message)
    unknown = re.search(r"unknown field `([^`]+)`", message)
    named = missing or unknown
    return f"{field}.{named.group(1)}" if named else field


async def _analysis_params(
    runtime: FlowRuntime, tenant_id: str, project_id: str, data: AnalysisInput
) -> dict[str, Any]:
    try:
        start_ms, end_ms = window_ms(msgspec.to_builtins(data.window))
    except ValueError as exc:
        field = str(exc).partition(":")[0].partition(" ")[0]
        raise ApiError(400, str(exc), error="invalid_input", field=f"input.{field}") from None
    longest = runtime.context.settings.max_window_days
    if end_ms - start_ms > longest * 86_400_000:
        raise ApiError(
            400, f"the window spans more than {longest} days; split it", error="invalid_input", field="input.window"
        )
    if data.sandbox is not None and data.sandbox not in runtime.context.runners:
        raise ApiError(
            400,
            f"the {data.sandbox} sandbox is not configured on this server",
            error="invalid_input",
            field="input.sandbox",
        )
    # Another tenant's or project's key, traversal, or a script that is not there: all look the same.
    if not is_script_key(data.script_key, tenant_id, project_id) or not await runtime.context.objects.exists(
        data.script_key
    ):
        raise ApiError(404, f"no script {data.script_key!r} in this project", field="input.script_key")
    params: dict[str, Any] = {"script_key": data.script_key, "window": msgspec.to_builtins(data.window)}
    if data.settle_seconds is not None:
        params["settle_seconds"] = data.settle_seconds
    if data.sandbox is not None:
        params["sandbox"] = data.sandbox
    return params


@post(
    "/api/orchestration/run-flow",
    status_code=202,
    tags=["orchestration"],
    summary="Run a flow (e.g. analysis) for a project as a job",
    description=__doc__,
    dependencies={"principal": Provide(provide_principal)},
    responses=authed(404, *JSON_BODY),
)
async def run_flow(
    request: Request[Any, Any, Any], principal: PrincipalDep, control: ControlDep, data: JSONBody[RunFlow]
) -> JobOut:
    principal.require("write")
    runtime: FlowRuntime = request.app.state.flows
    if data.flow not in runtime.catalog.names() or data.flow not in FLOW_INPUTS:
        runnable = sorted(set(runtime.catalog.names()) & set(FLOW_INPUTS))
        raise ApiError(400, f"no flow {data.flow!r}; flows: {', '.join(runnable)}", error="invalid_input", field="flow")
    project = await project_of(control, principal, data.project_id)
    try:
        parsed = msgspec.convert(data.input, FLOW_INPUTS[data.flow])
    except msgspec.ValidationError as exc:
        raise ApiError(400, f"invalid {data.flow} input: {exc}", error="invalid_input", field=_field_of(exc)) from None
    assert isinstance(parsed, AnalysisInput)
    params = await _analysis_params(runtime, principal.tenant_id, project.id, parsed)
    job = await runtime.start(principal.tenant_id, project.id, data.flow, params)
    return JobOut.of(job)
