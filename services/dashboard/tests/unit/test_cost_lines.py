"""Job cost lines from recorded usage, and the prices file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sentinel_control import Job
from sentinel_dashboard.cost.jobs import job_lines, record_of
from sentinel_dashboard.cost.prices import PricesError, load_prices
from sentinel_dashboard.cost.service import month_bounds
from sentinel_dashboard.cost.settings import CostSettings

PRICES = load_prices()


def _job(kind: str = "flow", result: dict[str, Any] | None = None, **fields: Any) -> Job:
    return Job(
        id="job_" + "a" * 22,
        tenant_id="ten_" + "b" * 22,
        project_id="prj_" + "c" * 22,
        kind=kind,  # type: ignore[arg-type]
        name="analysis",
        status="succeeded",
        result=result,
        created_at=1,
        updated_at=1,
        **fields,
    )


def _by_item(lines: list[Any]) -> dict[str, Any]:
    return {f"{entry.category}.{entry.item}": entry for entry in lines}


class TestJobLines:
    def test_flow_on_aws_with_e2b(self) -> None:
        result = {
            "execution_id": "arn:aws:states:us-east-1:1:execution:sentinel-analysis:job_x",
            "sandbox": {"provider": "e2b"},
            "export": {"key": "k"},
            "artifact": {"key": "a"},
            "usage": {"sandbox_seconds": 100.0, "flow_transitions": 9},
        }
        lines = _by_item(
            job_lines(_job(result=result), PRICES, flows_backend="aws", archive_backend="s3", control_backend="sqlite")
        )
        assert set(lines) == {"sandbox.e2b", "aws.stepfunctions.transitions", "aws.s3.get", "aws.s3.put"}
        assert lines["sandbox.e2b"].usd == pytest.approx(100 * PRICES.sandbox.e2b_per_second)
        assert lines["aws.stepfunctions.transitions"].usd == pytest.approx(
            9 * PRICES.stepfunctions.transitions_per_1000 / 1000
        )
        assert (lines["aws.s3.get"].quantity, lines["aws.s3.put"].quantity) == (2, 2)

    def test_local_runner_and_local_flows_cost_nothing_extra(self) -> None:
        result = {"execution_id": "local:analysis:job_x", "usage": {"sandbox_seconds": 5, "flow_transitions": 9}}
        job = _job(result=result, params={"sandbox": "local"})
        lines = _by_item(
            job_lines(job, PRICES, flows_backend="local", archive_backend="local", control_backend="sqlite")
        )
        assert set(lines) == {"sandbox.local"}
        assert lines["sandbox.local"].usd == 0.0

    def test_sync_on_aws_counts_its_event_and_reads(self) -> None:
        job = _job(kind="sync", result={"objects": 7})
        lines = _by_item(job_lines(job, PRICES, flows_backend="aws", archive_backend="s3", control_backend="sqlite"))
        assert lines["aws.eventbridge.events"].quantity == 1
        assert lines["aws.eventbridge.events"].usd == pytest.approx(PRICES.eventbridge.events_per_million / 1e6)
        assert lines["aws.s3.get"].quantity == 7

    def test_dynamodb_units_follow_versions_and_size(self) -> None:
        job = _job(result={"logs": "x" * 3000}, version=3)
        lines = _by_item(
            job_lines(job, PRICES, flows_backend="local", archive_backend="local", control_backend="dynamodb")
        )
        assert lines["aws.dynamodb.writes"].quantity == 3 * 4  # 3 versions of a 3-4 KB record: 4 WRU each
        assert lines["aws.dynamodb.reads"].quantity == 3 * 1

    def test_record_is_usd_per_item(self) -> None:
        job = _job(kind="sync", result={"objects": 1000})
        record = record_of(job_lines(job, PRICES, flows_backend="aws", archive_backend="s3", control_backend="sqlite"))
        assert record["aws.s3.get"] == pytest.approx(1000 * PRICES.s3.get_per_1000 / 1000)
        assert set(record) == {"aws.eventbridge.events", "aws.s3.get"}


class TestPrices:
    def test_packaged_prices_name_their_date(self) -> None:
        assert PRICES.meta.as_of
        assert PRICES.s3.get_per_1000 > 0
        assert "packaged" in PRICES.source

    def test_a_bad_prices_file_fails_at_start_up_naming_the_setting(self, tmp_path: Path) -> None:
        bad = tmp_path / "prices.toml"
        bad.write_text(PRICES_TEXT.replace("vcpu_hour = 1.0", "vcpu_hour = -1"))
        with pytest.raises(ValueError, match="prices_file") as caught:
            CostSettings(prices_file=str(bad))
        assert "vcpu_hour" in str(caught.value)
        with pytest.raises(PricesError, match="cannot read"):
            load_prices(str(tmp_path / "missing.toml"))

    def test_month_bounds(self) -> None:
        start, end = month_bounds("2024-02")
        assert (end - start) == 29 * 86_400_000
        assert start == 1_706_745_600_000


PRICES_TEXT = """
[meta]
as_of = "test"
[analytics]
storage_gb_month = 100.0
[compute]
vcpu_hour = 1.0
[s3]
storage_gb_month = 10.0
put_per_1000 = 5.0
get_per_1000 = 1.0
[eventbridge]
events_per_million = 1.0
[stepfunctions]
transitions_per_1000 = 25.0
[dynamodb]
write_units_per_million = 1.0
read_units_per_million = 1.0
[sandbox]
e2b_per_second = 0.5
modal_per_second = 0.25
"""
