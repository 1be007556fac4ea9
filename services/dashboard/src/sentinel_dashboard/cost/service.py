"""Cost-calc: what a project cost in a month, line by line, at the configured unit prices.

Quantities and where they come from:

- **Analytics storage**: the project's compressed bytes in the store now, in partitions up to the month, at the
  GB-month price. ClickHouse reports bytes per part, not per project: each partition's bytes are apportioned by
  the project's share of its rows (``sentinel_analytics.layers``). For the current month this is the month so far;
  for a past month, rows since removed by the retention TTL are not counted.
- **Archive storage and PUTs** (archive backend s3): the bronze objects of the month (``bronze/project=<id>/
  date=YYYY-MM-...``), their bytes at the S3 GB-month price and one PUT each.
- **Compute**: the events the project's SDKs delivered in the month times the CPU per event measured in
  ``bench/README.md`` (ingest API, worker, analytics store insert; ``SENTINEL_COST_*_CPU_US_PER_EVENT``), at the
  vCPU-hour price.
- **Jobs** of the month (every job created in it, read in pages): each job's own cost record; a finished job without
  one gets it computed from its usage (``cost.jobs``) and recorded on the job, so the figure stays what it was.
"""

from __future__ import annotations

import asyncio
from calendar import monthrange
from datetime import UTC, datetime

import msgspec
import structlog

from sentinel_analytics.layers import LayersError, LayersReader, StorageFigures
from sentinel_analytics.reads import ReadError
from sentinel_control import ConflictError, ControlStore, Job, JobChanges
from sentinel_dashboard.cost.jobs import job_cost, job_lines, line, record_of, recorded_lines
from sentinel_dashboard.cost.payloads import CostLine, CostReport, JobCost
from sentinel_dashboard.cost.prices import Prices
from sentinel_dashboard.cost.settings import CostSettings
from sentinel_storage import ObjectStore

log = structlog.get_logger("sentinel.cost")

JOBS_PAGE = 500
_TIMEOUT_MARKS = ("TIMEOUT_EXCEEDED", "TOO_SLOW", "Code: 159.", "Code: 160.")
GB = 1e9


def month_bounds(month: str) -> tuple[int, int]:
    """``[start, end)`` of ``YYYY-MM`` in UTC milliseconds."""
    year, number = int(month[:4]), int(month[5:7])
    start = datetime(year, number, 1, tzinfo=UTC)
    days = monthrange(year, number)[1]
    return int(start.timestamp() * 1000), int(start.timestamp() * 1000) + days * 86_400_000


async def _store_figures(layers: LayersReader, project_id: str, month: str) -> tuple[StorageFigures, tuple[int, int]]:
    """The project's storage and the month's ingest from the store; a store that cannot answer is a ``ReadError``
    (answered 503, or 504 for a query stopped at its time limit, like every analytics read)."""
    try:
        return await asyncio.gather(layers.storage(project_id, month), layers.month_ingest(project_id, month))
    except LayersError as exc:
        text = str(exc).splitlines()[0][:500] if str(exc) else type(exc).__name__
        raise ReadError(
            f"the analytics store could not report the project's figures: {text}",
            timeout=any(mark in str(exc) for mark in _TIMEOUT_MARKS),
        ) from exc


async def _archive(objects: ObjectStore, project_id: str, month: str) -> tuple[int, int]:
    """(objects, bytes) of the project's bronze archive written in ``month``."""
    count = size = 0
    async for info in objects.list(f"bronze/project={project_id}/date={month}-"):
        count += 1
        size += info.size
    return count, size


async def _month_jobs(control: ControlStore, tenant_id: str, project_id: str, month: str) -> list[Job]:
    """Every job created in ``month``: pages of the project's jobs, newest first, until one is older."""
    start, end = month_bounds(month)
    found: list[Job] = []
    before: tuple[int, str] | None = (end, "")  # ids are never empty: every job created before the month's end
    while before is not None:
        page = await control.list_jobs(tenant_id, project_id, limit=JOBS_PAGE, before=before)
        found.extend(job for job in page if start <= job.created_at < end)
        oldest = page[-1] if page else None  # a short page is not the end: only an empty one, or an older job
        after = (oldest.created_at, oldest.id) if oldest is not None and oldest.created_at >= start else None
        before = after if after is not None and before is not None and after < before else None  # always moves on
    return found


async def _record(control: ControlStore, job: Job, lines: list[CostLine]) -> None:
    """Keep a finished job's cost on it; a concurrent change wins (the next read records it again)."""
    try:
        await control.update_job(job.tenant_id, job.id, JobChanges(cost=record_of(lines)), job.version)
    except ConflictError:
        return
    except Exception as exc:  # recording is best effort: the report is already computed
        log.warning("job_cost_not_recorded", job_id=job.id, error=str(exc))


async def jobs_cost(
    control: ControlStore, jobs: list[Job], prices: Prices, *, flows: str, archive: str, control_backend: str
) -> list[JobCost]:
    costs = []
    for job in jobs:
        if job.cost:
            costs.append(job_cost(job, recorded_lines(job), recorded=True))
            continue
        lines = job_lines(job, prices, flows_backend=flows, archive_backend=archive, control_backend=control_backend)
        if job.finished and lines:
            await _record(control, job, lines)
        costs.append(job_cost(job, lines, recorded=False))
    return costs


def _summed(jobs: list[JobCost]) -> list[CostLine]:
    """The jobs' lines summed per (category, item)."""
    sums: dict[tuple[str, str], CostLine] = {}
    for job in jobs:
        for entry in job.lines:
            key = (entry.category, entry.item)
            seen = sums.get(key)
            if seen is None:
                sums[key] = msgspec.structs.replace(entry, basis="sum over the month's jobs")
            else:
                seen.quantity = round(seen.quantity + entry.quantity, 9)
                seen.usd = round(seen.usd + entry.usd, 8)
    return list(sums.values())


async def project_cost(
    *,
    tenant_id: str,
    project_id: str,
    month: str,
    prices: Prices,
    settings: CostSettings,
    control: ControlStore,
    objects: ObjectStore,
    layers: LayersReader | None,
    flows_backend: str,
    archive_backend: str,
    control_backend: str,
) -> CostReport:
    jobs_task = _month_jobs(control, tenant_id, project_id, month)
    archive_task = _archive(objects, project_id, month)
    if layers is not None:
        (storage, ingest), jobs, (archive_objects, archive_bytes) = await asyncio.gather(
            _store_figures(layers, project_id, month), jobs_task, archive_task
        )
        stored_bytes, (events, _batches) = storage.total_bytes, ingest
        storage_basis = "compressed bytes, apportioned by rows per partition: " + ", ".join(
            f"{table} {size}" for table, size in sorted(storage.by_table.items())
        )
    else:
        jobs, (archive_objects, archive_bytes) = await asyncio.gather(jobs_task, archive_task)
        stored_bytes, events, storage_basis = 0, 0, "not available with the Tinybird backend"

    vcpu_second = prices.compute.vcpu_hour / 3600
    s3_billed = archive_backend == "s3"
    lines = [
        line("storage", "analytics", stored_bytes / GB, "GB-month", prices.analytics.storage_gb_month, storage_basis),
        line(
            "storage",
            "archive",
            archive_bytes / GB,
            "GB-month",
            prices.s3.storage_gb_month if s3_billed else 0.0,
            f"{archive_objects} bronze objects" + ("" if s3_billed else " in a local directory (not billed)"),
        ),
        line(
            "compute",
            "ingest",
            events * settings.ingest_cpu_us_per_event / 1e6,
            "vCPU-s",
            vcpu_second,
            f"{events} events x {settings.ingest_cpu_us_per_event} us",
        ),
        line(
            "compute",
            "worker",
            events * settings.worker_cpu_us_per_event / 1e6,
            "vCPU-s",
            vcpu_second,
            f"{events} events x {settings.worker_cpu_us_per_event} us",
        ),
        line(
            "compute",
            "analytics_insert",
            events * settings.store_cpu_us_per_event / 1e6,
            "vCPU-s",
            vcpu_second,
            f"{events} events x {settings.store_cpu_us_per_event} us",
        ),
    ]
    if s3_billed:
        lines.append(
            line(
                "aws", "s3.put", archive_objects, "request", prices.s3.put_per_1000 / 1000, "one PUT per archive object"
            )
        )
    job_costs = await jobs_cost(
        control, jobs, prices, flows=flows_backend, archive=archive_backend, control_backend=control_backend
    )
    all_lines = lines + _summed(job_costs)
    by_category: dict[str, float] = {}
    for entry in all_lines:
        by_category[entry.category] = round(by_category.get(entry.category, 0.0) + entry.usd, 8)
    return CostReport(
        project_id=project_id,
        month=month,
        currency=prices.meta.currency,
        total_usd=round(sum(entry.usd for entry in all_lines), 6),
        by_category=by_category,
        lines=all_lines,
        jobs=job_costs,
        prices_source=prices.source,
        prices_as_of=prices.meta.as_of,
        method={
            "analytics_storage": "bytes held now in partitions up to the month, apportioned by the project's rows",
            "compute": "events delivered in the month x measured CPU per event (bench/README.md) x vCPU price",
            "jobs": "each job's own cost record, computed from its usage once it finished",
        },
    )
