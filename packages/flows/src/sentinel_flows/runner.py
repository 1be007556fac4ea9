"""``FlowRunner``: what the orchestration API uses to run flows, whichever backend the settings choose."""

from __future__ import annotations

from typing import Any, Protocol

from sentinel_flows.aws import AwsClients
from sentinel_flows.definitions import FlowCatalog
from sentinel_flows.local import LocalFlowRunner
from sentinel_flows.model import ExecutionDescription
from sentinel_flows.settings import FlowSettings
from sentinel_flows.stepfunctions import StepFunctionsRunner
from sentinel_flows.sync import EventBridgePublisher, InProcessSyncDispatcher, SyncHandler, SyncTrigger
from sentinel_flows.tasks import HandlerRegistry


class FlowRunner(Protocol):
    """Start, watch, stop executions and answer task tokens: ``LocalFlowRunner`` or ``StepFunctionsRunner``."""

    async def start(self, flow: str, input: Any, *, name: str) -> str:
        """Start ``flow`` under a unique ``name``; return the execution id."""
        ...

    async def describe(self, execution_id: str) -> ExecutionDescription:
        """Status, input, output, error and state visits of an execution."""
        ...

    async def wait(self, execution_id: str, *, timeout_s: float | None = None) -> ExecutionDescription:
        """Wait for the execution to end and describe it."""
        ...

    async def stop(self, execution_id: str, *, error: str | None = None, cause: str | None = None) -> None:
        """Abort a running execution."""
        ...

    async def send_task_success(self, token: str, output: Any) -> None:
        """Complete the task waiting on ``token``."""
        ...

    async def send_task_failure(self, token: str, error: str, cause: str = "") -> None:
        """Fail the task waiting on ``token``."""
        ...


def create_flow_runner(
    settings: FlowSettings, *, registry: HandlerRegistry, clients: AwsClients | None = None
) -> FlowRunner:
    """The runner ``settings.backend`` asks for. ``registry`` runs the tasks locally; on AWS the worker runs them."""
    catalog = FlowCatalog(settings.flows_dir or None)
    if settings.backend == "aws":
        if clients is None:
            raise ValueError("the aws backend needs AwsClients")
        return StepFunctionsRunner(clients, settings, catalog=catalog)
    return LocalFlowRunner(registry, catalog=catalog)


def create_sync_trigger(
    settings: FlowSettings, *, handler: SyncHandler | None = None, clients: AwsClients | None = None
) -> SyncTrigger:
    """EventBridge on the aws backend (the worker's ``SyncQueueConsumer`` runs the handler), else in-process."""
    if settings.backend == "aws":
        if clients is None:
            raise ValueError("the aws backend needs AwsClients")
        return EventBridgePublisher(clients, settings)
    if handler is None:
        raise ValueError("the local backend needs the sync handler to run in-process")
    return InProcessSyncDispatcher(handler)
