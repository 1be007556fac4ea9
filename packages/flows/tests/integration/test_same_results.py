"""The same flow file, the same handlers and the same input give the same result on both runners."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest

from sentinel_flows import ExecutionDescription, ExecutionStatus


class Scenario(NamedTuple):
    stub_options: dict[str, Any]
    input_changes: dict[str, Any]
    status: ExecutionStatus
    # moto gives a retried callback task the same token again, and the retry first sees the previous
    # attempt's answer: on moto a retried task can count one attempt more than on Step Functions.
    exact_attempts: bool = True


SCENARIOS = {
    "analysis": Scenario({}, {}, ExecutionStatus.SUCCEEDED),
    "settle-first": Scenario({}, {"settle_seconds": 1}, ExecutionStatus.SUCCEEDED),
    "empty-window": Scenario({"rows": 0}, {}, ExecutionStatus.SUCCEEDED),
    "retried-export": Scenario(
        {"export_failures": ["Sentinel.Retryable"]}, {}, ExecutionStatus.SUCCEEDED, exact_attempts=False
    ),
    "failed-export": Scenario({"export_failures": ["Sentinel.ArchiveDown"]}, {}, ExecutionStatus.FAILED),
    "invalid-input": Scenario({}, {"script_key": None}, ExecutionStatus.FAILED),
}


def summary(done: ExecutionDescription, *, attempts: bool) -> dict[str, Any]:
    """What must agree: status, output, error name, the states visited (with attempts), the transitions."""
    return {
        "status": done.status,
        "output": done.output,
        "error": done.error,
        "states": [
            (record.name, record.type, record.error, record.attempts if attempts else None) for record in done.states
        ],
        "transitions": done.transitions if attempts else None,
    }


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_local_runner_and_step_functions_agree(
    name: str, analysis_stub: Any, make_input: Any, run_on_aws: Any, run_locally: Any
) -> None:
    scenario = SCENARIOS[name]
    data = {
        key: value for key, value in make_input(f"job-{name}", **scenario.input_changes).items() if value is not None
    }

    on_aws = await run_on_aws(analysis_stub(**scenario.stub_options), data, f"job-{name}")
    local = await run_locally(analysis_stub(**scenario.stub_options), data, f"job-{name}")

    assert local.status is scenario.status
    assert summary(local, attempts=scenario.exact_attempts) == summary(on_aws, attempts=scenario.exact_attempts)
