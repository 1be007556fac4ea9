"""``GET /healthz`` (the process answers) and ``GET /readyz`` (its dependencies answer, checked concurrently)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec

Check = Callable[[Request[Any, Any, Any]], Awaitable[object]]
"""An async readiness check: returns (anything) when healthy, raises when not."""


class CheckResult(msgspec.Struct, kw_only=True):
    ok: bool
    latency_ms: float
    error: str | None = None


class Readiness(msgspec.Struct, kw_only=True):
    ready: bool
    checks: dict[str, CheckResult]


class Liveness(msgspec.Struct, kw_only=True):
    status: str
    service: str
    version: str


async def _run(check: Check, request: Request[Any, Any, Any], timeout_s: float) -> CheckResult:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            await check(request)
    except TimeoutError:
        return CheckResult(ok=False, latency_ms=_ms(started), error=f"no answer within {timeout_s} s")
    except Exception as exc:
        return CheckResult(ok=False, latency_ms=_ms(started), error=f"{type(exc).__name__}: {exc}")
    return CheckResult(ok=True, latency_ms=_ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def health_handlers(
    service: str, version: str, checks: Mapping[str, Check], *, timeout_s: float = 2.0
) -> list[HTTPRouteHandler]:
    """Route handlers for ``/healthz`` and ``/readyz`` of one service."""

    @get("/healthz", tags=["health"], summary="Liveness: the process answers", sync_to_thread=False)
    def healthz() -> Liveness:
        return Liveness(status="ok", service=service, version=version)

    @get(
        "/readyz",
        tags=["health"],
        summary="Readiness: every dependency answers",
        responses={
            503: ResponseSpec(
                Readiness, description="A dependency does not answer (see `checks`)", generate_examples=False
            )
        },
    )
    async def readyz(request: Request[Any, Any, Any]) -> Response[Readiness]:
        names = list(checks)
        results = await asyncio.gather(*(_run(checks[name], request, timeout_s) for name in names))
        body = Readiness(ready=all(r.ok for r in results), checks=dict(zip(names, results, strict=True)))
        return Response(body, status_code=200 if body.ready else 503)

    return [healthz, readyz]
