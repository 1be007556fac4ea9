"""Response body of cost-calc."""

from __future__ import annotations

import msgspec


class CostLine(msgspec.Struct, kw_only=True):
    category: str
    """storage, compute, sandbox, aws."""
    item: str
    quantity: float
    unit: str
    unit_price_usd: float
    usd: float
    basis: str
    """Where the quantity comes from."""


class JobCost(msgspec.Struct, kw_only=True):
    job_id: str
    kind: str
    name: str
    status: str
    created_at: int
    usd: float
    recorded: bool
    """True when the figures were read from the job's own cost record (written once the job finished)."""
    lines: list[CostLine]


class CostReport(msgspec.Struct, kw_only=True):
    project_id: str
    month: str
    currency: str
    total_usd: float
    by_category: dict[str, float]
    lines: list[CostLine]
    """Project-wide lines, then the jobs' lines summed per item."""
    jobs: list[JobCost]
    prices_source: str
    prices_as_of: str
    method: dict[str, str]
