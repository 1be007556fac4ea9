"""What one job costs, from the usage it records (``job.result``, see packages/flowtasks/README.md).

- ``sandbox``: ``result.usage.sandbox_seconds`` (what the provider bills, measured by the runner) at the rate of
  ``result.sandbox.provider`` (else ``params.sandbox``).
- Step Functions: ``result.usage.flow_transitions``, only for executions on AWS (``execution_id`` an ARN); the
  local runner's transitions cost nothing.
- EventBridge: one event per sync job when flows run on AWS (the SyncRequested event).
- S3 (archive backend s3): GETs are the objects a sync read (``result.objects``), or for a flow the script and its
  data read once each; PUTs are the flow's export and artifact.
- DynamoDB (control backend dynamodb): every version of the job record was one write and one read; units are the
  record's size rounded up to 1 KB per write unit and 4 KB per read unit.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

from sentinel_control import Job
from sentinel_dashboard.cost.payloads import CostLine, JobCost
from sentinel_dashboard.cost.prices import Prices


def line(category: str, item: str, quantity: float, unit: str, unit_price: float, basis: str) -> CostLine:
    return CostLine(
        category=category,
        item=item,
        quantity=round(quantity, 9),
        unit=unit,
        unit_price_usd=unit_price,
        usd=round(quantity * unit_price, 8),
        basis=basis,
    )


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def job_lines(
    job: Job, prices: Prices, *, flows_backend: str, archive_backend: str, control_backend: str
) -> list[CostLine]:
    result = job.result or {}
    usage: dict[str, Any] = result["usage"] if isinstance(result.get("usage"), dict) else {}
    sandbox: dict[str, Any] = result["sandbox"] if isinstance(result.get("sandbox"), dict) else {}
    lines: list[CostLine] = []

    seconds = _number(usage.get("sandbox_seconds"))
    if seconds:
        provider = str(sandbox.get("provider") or job.params.get("sandbox") or "local")
        rate = prices.sandbox.per_second(provider)
        lines.append(line("sandbox", provider, seconds, "s", rate, "result.usage.sandbox_seconds"))

    transitions = _number(usage.get("flow_transitions"))
    if transitions and str(result.get("execution_id", "")).startswith("arn:"):
        rate = prices.stepfunctions.transitions_per_1000 / 1000
        lines.append(
            line("aws", "stepfunctions.transitions", transitions, "transition", rate, "result.usage.flow_transitions")
        )

    if job.kind == "sync" and flows_backend == "aws":
        rate = prices.eventbridge.events_per_million / 1e6
        lines.append(line("aws", "eventbridge.events", 1, "event", rate, "one SyncRequested event"))

    if archive_backend == "s3":
        if job.kind == "sync":
            gets, basis = _number(result.get("objects")), "result.objects (objects read)"
        else:
            gets, basis = (2.0, "the script and its data, read once each") if result.get("export") else (0.0, "")
        if gets:
            lines.append(line("aws", "s3.get", gets, "request", prices.s3.get_per_1000 / 1000, basis))
        puts = float(bool(result.get("export"))) + float(bool(result.get("artifact")))
        if puts:
            lines.append(line("aws", "s3.put", puts, "request", prices.s3.put_per_1000 / 1000, "export and artifact"))

    if control_backend == "dynamodb":
        size = len(msgspec.json.encode(job))
        writes = job.version * math.ceil(size / 1024)
        reads = job.version * math.ceil(size / 4096)
        basis = f"{job.version} versions of a {size}-byte record"
        lines.append(
            line("aws", "dynamodb.writes", writes, "WRU", prices.dynamodb.write_units_per_million / 1e6, basis)
        )
        lines.append(line("aws", "dynamodb.reads", reads, "RRU", prices.dynamodb.read_units_per_million / 1e6, basis))
    return lines


def recorded_lines(job: Job) -> list[CostLine]:
    """A job's own cost record (``{"<category>.<item>": usd}``) as lines."""
    lines = []
    for key, usd in sorted(job.cost.items()):
        category, _, item = key.partition(".")
        lines.append(
            CostLine(
                category=category, item=item or category, quantity=1, unit="job", unit_price_usd=usd, usd=usd,
                basis="recorded on the job",
            )
        )  # fmt: skip
    return lines


def record_of(lines: list[CostLine]) -> dict[str, float]:
    """The cost record a job keeps: USD per ``<category>.<item>``."""
    record: dict[str, float] = {}
    for entry in lines:
        key = f"{entry.category}.{entry.item}"
        record[key] = round(record.get(key, 0.0) + entry.usd, 8)
    return record


def job_cost(job: Job, lines: list[CostLine], *, recorded: bool) -> JobCost:
    return JobCost(
        job_id=job.id,
        kind=job.kind,
        name=job.name,
        status=job.status,
        created_at=job.created_at,
        usd=round(sum(entry.usd for entry in lines), 8),
        recorded=recorded,
        lines=lines,
    )
