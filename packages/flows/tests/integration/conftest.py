"""Step Functions, SQS and EventBridge on the session's moto server, with fresh queues and names per test."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from sentinel_config import AwsSettings
from sentinel_flows import (
    AwsClients,
    ExecutionDescription,
    FlowSettings,
    LocalFlowRunner,
    StepFunctionsRunner,
    TaskQueueWorker,
)
from sentinel_local.moto import MotoEngine

ROLE_ARN = "arn:aws:iam::123456789012:role/sentinel-flows"
# Executions on moto take seconds (Retry intervals are real there); this only bounds a hung test.
EXECUTION_TIMEOUT_S = 120.0

RunFlow = Callable[[Any, dict[str, Any], str], Awaitable[ExecutionDescription]]


@pytest.fixture
async def clients(moto_server: MotoEngine) -> AsyncIterator[AwsClients]:
    aws = AwsSettings(endpoint_url=moto_server.url, access_key_id="test", secret_access_key="test")
    clients = AwsClients(aws)
    yield clients
    await clients.aclose()


@pytest.fixture
async def flow_settings(clients: AwsClients) -> FlowSettings:
    """The aws backend on queues, a state machine prefix and a bus of this test's own."""
    suffix = uuid.uuid4().hex[:10]
    sqs = await clients.sqs()
    tasks = await sqs.create_queue(QueueName=f"tasks-{suffix}")
    syncs = await sqs.create_queue(QueueName=f"syncs-{suffix}")
    return FlowSettings(
        backend="aws",
        state_machine_prefix=f"t{suffix}-",
        state_machine_role_arn=ROLE_ARN,
        task_queue_url=tasks["QueueUrl"],
        sync_queue_url=syncs["QueueUrl"],
        event_bus_name=f"bus-{suffix}",
        queue_wait_s=1,
        visibility_timeout_s=1,
    )


@pytest.fixture
def queue_depth(clients: AwsClients) -> Callable[[str], Awaitable[int]]:
    """Messages in a queue, visible or being handled (received and not deleted yet)."""

    async def depth(queue_url: str) -> int:
        sqs = await clients.sqs()
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        answer = await sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)
        return sum(int(answer["Attributes"][name]) for name in names)

    return depth


@pytest.fixture
def aws_runner(clients: AwsClients, flow_settings: FlowSettings) -> StepFunctionsRunner:
    return StepFunctionsRunner(clients, flow_settings)


@pytest.fixture
def run_on_aws(
    clients: AwsClients, flow_settings: FlowSettings, aws_runner: StepFunctionsRunner, background: Any
) -> RunFlow:
    """Run the analysis flow on moto's Step Functions with a task worker and the stub's sandbox callbacks."""
    started: list[Any] = []

    async def run(stub: Any, data: dict[str, Any], name: str) -> ExecutionDescription:
        if stub not in started:
            started.append(stub)
            worker = TaskQueueWorker(clients, flow_settings, stub.registry, answerer=aws_runner)
            background(worker.run(asyncio.Event()))
            background(stub.sandbox(aws_runner))
        execution = await aws_runner.start("analysis", data, name=name)
        return await aws_runner.wait(execution, timeout_s=EXECUTION_TIMEOUT_S, poll_s=0.2)

    return run


@pytest.fixture
def run_locally(background: Any) -> RunFlow:
    """Run the analysis flow in the local runner with the stub's handlers and sandbox callbacks."""

    async def run(stub: Any, data: dict[str, Any], name: str) -> ExecutionDescription:
        runner = LocalFlowRunner(stub.registry, sleep=_no_wait)
        background(stub.sandbox(runner))
        return await runner.wait(await runner.start("analysis", data, name=name), timeout_s=EXECUTION_TIMEOUT_S)

    return run


async def _no_wait(seconds: float) -> None:
    del seconds
