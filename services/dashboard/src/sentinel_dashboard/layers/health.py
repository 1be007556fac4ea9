"""The connectors' health: every dependency checked concurrently, each within the same short timeout.

A check that answers is ``healthy``, or ``degraded`` when it took more than half the timeout; one that fails or
does not answer in time is ``down`` (so a hung dependency costs the timeout, never more); a dependency this
deployment does not use is ``not_configured``. The overall status is the worst of the configured ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from sentinel_sandbox import ProviderHealth, SandboxRunner

if TYPE_CHECKING:
    from sentinel_analytics.layers import LayersReader
    from sentinel_control import ControlStore
    from sentinel_dashboard.settings import Settings
    from sentinel_storage import ObjectStore

Status = Literal["not_configured", "healthy", "degraded", "down"]
_RANK: dict[str, int] = {"not_configured": 0, "healthy": 1, "degraded": 2, "down": 3}


class ConnectorHealth(msgspec.Struct, kw_only=True):
    name: str
    kind: str
    status: Status
    latency_ms: float | None = None
    detail: str = ""


class ConnectorsHealth(msgspec.Struct, kw_only=True):
    status: Status
    timeout_ms: int
    checked_at: int
    items: list[ConnectorHealth]


Probe = Callable[[], Awaitable[Any]]


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


async def probe(name: str, kind: str, check: Probe | None, timeout_s: float, *, why_off: str = "") -> ConnectorHealth:
    """Run one check within ``timeout_s``; never raises."""
    if check is None:
        return ConnectorHealth(name=name, kind=kind, status="not_configured", detail=why_off)
    started = time.monotonic()
    try:
        answer = await asyncio.wait_for(check(), timeout_s)
    except TimeoutError:
        return ConnectorHealth(
            name=name,
            kind=kind,
            status="down",
            latency_ms=round(timeout_s * 1000, 1),
            detail=f"no answer within {round(timeout_s * 1000)} ms",
        )
    except Exception as exc:  # a health check reports every failure, whatever the client raises
        return ConnectorHealth(
            name=name, kind=kind, status="down", latency_ms=_ms_since(started), detail=_describe(exc)
        )
    latency = _ms_since(started)
    if answer is False:
        return ConnectorHealth(name=name, kind=kind, status="down", latency_ms=latency, detail="check failed")
    status: Status = "degraded" if latency > timeout_s * 500 else "healthy"
    return ConnectorHealth(name=name, kind=kind, status=status, latency_ms=latency)


def _ms_since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


async def sandbox_probe(name: str, runner: SandboxRunner | None, timeout_s: float) -> ConnectorHealth:
    """A runner's own health (it knows whether it is configured), bounded by the same timeout."""
    if runner is None:
        return ConnectorHealth(name=name, kind="sandbox", status="not_configured")
    started = time.monotonic()
    try:
        health: ProviderHealth = await asyncio.wait_for(runner.health(), timeout_s)
    except TimeoutError:
        return ConnectorHealth(
            name=name,
            kind="sandbox",
            status="down",
            latency_ms=round(timeout_s * 1000, 1),
            detail=f"no answer within {round(timeout_s * 1000)} ms",
        )
    except Exception as exc:  # a runner's health promises not to raise; report it if one does
        return ConnectorHealth(
            name=name, kind="sandbox", status="down", latency_ms=_ms_since(started), detail=_describe(exc)
        )
    status: Status = health.state.value
    if status == "healthy" and health.latency_ms is not None and health.latency_ms > timeout_s * 500:
        status = "degraded"
    return ConnectorHealth(name=name, kind="sandbox", status=status, latency_ms=health.latency_ms, detail=health.detail)


def _aws_probe(settings: Settings, service: Literal["events", "stepfunctions"], timeout_s: float) -> Probe:
    async def check() -> None:
        import aioboto3
        from aiobotocore.config import AioConfig

        session = aioboto3.Session(
            aws_access_key_id=settings.aws.access_key_id or None,
            aws_secret_access_key=settings.aws.secret_access_key or None,
            region_name=settings.aws.region,
        )
        config = AioConfig(connect_timeout=timeout_s, read_timeout=timeout_s, retries={"max_attempts": 1})
        creator: Any = session.client(service, endpoint_url=settings.aws.endpoint_url or None, config=config)
        async with creator as client:
            if service == "events":
                await client.list_event_buses(Limit=1)
            else:
                await client.list_state_machines(maxResults=1)

    return check


def _tinybird_probe(settings: Settings, timeout_s: float) -> Probe | None:
    if not settings.tinybird.token:
        return None

    async def check() -> None:
        import httpx

        async with httpx.AsyncClient(timeout=timeout_s) as client:
            response = await client.get(
                f"{settings.tinybird.api_url.rstrip('/')}/v0/datasources",
                headers={"Authorization": f"Bearer {settings.tinybird.token}"},
            )
            response.raise_for_status()

    return check


async def check_connectors(
    *,
    settings: Settings,
    redis: Any,
    control: ControlStore,
    objects: ObjectStore,
    layers: LayersReader | None,
    runners: dict[str, SandboxRunner],
    timeout_s: float,
) -> ConnectorsHealth:
    """Every connector's health, checked concurrently."""
    aws_flows = settings.flows.backend == "aws"
    if settings.analytics.backend == "clickhouse":
        analytics: Probe | None = layers.ping if layers is not None else None
        analytics_name = "clickhouse"
    else:
        analytics = _tinybird_probe(settings, timeout_s)
        analytics_name = "tinybird"
    off_aws = "SENTINEL_FLOWS_BACKEND is local: flows and syncs run in-process"
    checks = [
        probe("redis", "queue", redis.ping, timeout_s),
        probe(analytics_name, "analytics", analytics, timeout_s, why_off="SENTINEL_TINYBIRD_TOKEN is empty"),
        probe(f"archive ({settings.archive.backend})", "storage", objects.check, timeout_s),
        probe(f"control ({settings.control.backend})", "control", control.ping, timeout_s),
        probe(
            "eventbridge",
            "orchestration",
            _aws_probe(settings, "events", timeout_s) if aws_flows else None,
            timeout_s,
            why_off=off_aws,
        ),
        probe(
            "stepfunctions",
            "orchestration",
            _aws_probe(settings, "stepfunctions", timeout_s) if aws_flows else None,
            timeout_s,
            why_off=off_aws,
        ),
        *(sandbox_probe(name, runners.get(name), timeout_s) for name in ("e2b", "modal", "local")),
    ]
    items = list(await asyncio.gather(*checks))
    configured = [item.status for item in items if item.status != "not_configured"]
    overall: Status = max(configured, key=_RANK.__getitem__) if configured else "not_configured"
    return ConnectorsHealth(
        status=overall, timeout_ms=round(timeout_s * 1000), checked_at=int(time.time() * 1000), items=items
    )
