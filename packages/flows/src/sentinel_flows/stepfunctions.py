"""``StepFunctionsRunner``: the flows on AWS Step Functions, reporting in the same model as the local runner."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import msgspec
from botocore.exceptions import ClientError

from sentinel_flows._history import states_from_history
from sentinel_flows.aws import AwsClients, error_code
from sentinel_flows.definitions import FlowCatalog
from sentinel_flows.model import (
    ExecutionAlreadyExists,
    ExecutionDescription,
    ExecutionNotFound,
    ExecutionStatus,
    FlowError,
    TaskTokenInvalid,
    check_execution_name,
)
from sentinel_flows.settings import FlowSettings

if TYPE_CHECKING:
    from types_aiobotocore_stepfunctions.type_defs import HistoryEventTypeDef

_TOKEN_ERRORS = frozenset({"InvalidToken", "TaskDoesNotExist", "TaskTimedOut"})
_MISSING_EXECUTION = frozenset({"ExecutionDoesNotExist", "InvalidArn"})
# A redrive of a failed execution is in progress: it will run again.
_STATUS = {"PENDING_REDRIVE": ExecutionStatus.RUNNING}


class _StateMachineGone(Exception):
    pass


@contextlib.contextmanager
def _raise_for(codes: frozenset[str], error: Callable[[str], FlowError]) -> Iterator[None]:
    """Turn a ``ClientError`` with one of ``codes`` into ``error(code)``."""
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        if code in codes:
            raise error(code) from None
        raise


def _missing_execution(execution_id: str) -> contextlib.AbstractContextManager[None]:
    return _raise_for(_MISSING_EXECUTION, lambda code: ExecutionNotFound(f"no execution {execution_id!r} ({code})"))


def _invalid_token() -> contextlib.AbstractContextManager[None]:
    return _raise_for(_TOKEN_ERRORS, lambda code: TaskTokenInvalid(f"{code}: the task token cannot be answered"))


class StepFunctionsRunner:
    """Deploys each flow file as the state machine ``<prefix><flow>`` and runs executions on it.

    The Task states send their requests to ``settings.task_queue_url``; a ``TaskQueueWorker`` answers them.
    ``send_task_success`` / ``send_task_failure`` answer a token from anywhere (e.g. the sandbox callback route).
    """

    def __init__(self, clients: AwsClients, settings: FlowSettings, *, catalog: FlowCatalog | None = None) -> None:
        self._clients = clients
        self._settings = settings
        self._catalog = catalog
        self._arns: dict[str, str] = {}
        self._lock = asyncio.Lock()

    @property
    def catalog(self) -> FlowCatalog:
        """The flow files (looked up on first use: a process that only answers tokens never needs them)."""
        if self._catalog is None:
            self._catalog = FlowCatalog(self._settings.flows_dir or None)
        return self._catalog

    def state_machine_name(self, flow: str) -> str:
        """The state machine's name for ``flow``."""
        return f"{self._settings.state_machine_prefix}{flow}"

    def _flow_of(self, state_machine_arn: str) -> str:
        name = state_machine_arn.rsplit(":", 1)[-1]
        prefix = self._settings.state_machine_prefix
        return name[len(prefix) :] if prefix and name.startswith(prefix) else name

    async def ensure(self, flow: str) -> str:
        """Create or update the state machine of ``flow`` from its file; return its ARN.

        With ``deploy_state_machines`` off, the deployed state machine is only looked up by name (a missing one is
        a ``FlowError``): what CloudFormation deployed is never overwritten by the copy in this process's image.
        """
        substitutions = {"TaskQueueUrl": self._settings.task_queue_url}
        self.catalog.load(flow, substitutions)  # the local runner must be able to run what is deployed
        definition = self.catalog.text(flow, substitutions)
        name = self.state_machine_name(flow)
        async with self._lock:
            if self._settings.deploy_state_machines:
                arn = await self._deploy(name, definition)
            else:
                found = await self._find(name)
                if found is None:
                    raise FlowError(
                        f"state machine {name!r} is not deployed: deploy infra/aws/jobs.yaml, or set "
                        "SENTINEL_FLOWS_DEPLOY_STATE_MACHINES=true to let this service create it"
                    )
                arn = found
            self._arns[flow] = arn
        return arn

    async def _deploy(self, name: str, definition: str) -> str:
        sfn = await self._clients.stepfunctions()
        role = self._settings.state_machine_role_arn
        arn = await self._find(name)
        if arn is None:
            try:
                created = await sfn.create_state_machine(name=name, definition=definition, roleArn=role)
                return created["stateMachineArn"]
            except ClientError as exc:
                if error_code(exc) != "StateMachineAlreadyExists":
                    raise
            arn = await self._find(name)  # another process created it meanwhile: update theirs
            if arn is None:
                raise FlowError(f"state machine {name!r} exists and cannot be found")
        await sfn.update_state_machine(stateMachineArn=arn, definition=definition, roleArn=role)
        return arn

    async def ensure_all(self) -> dict[str, str]:
        """``ensure`` every flow of the catalog; return flow → state machine ARN."""
        return {flow: await self.ensure(flow) for flow in self.catalog.names()}

    async def _find(self, name: str) -> str | None:
        sfn = await self._clients.stepfunctions()
        async for page in sfn.get_paginator("list_state_machines").paginate():
            for machine in page["stateMachines"]:
                if machine["name"] == name:
                    return machine["stateMachineArn"]
        return None

    async def start(self, flow: str, input: Any, *, name: str) -> str:
        """Start ``flow`` on ``input`` under a unique ``name`` (a job's id); return the execution ARN.

        The state machine is ensured on first use in this process. Reusing a name raises ``ExecutionAlreadyExists``
        unless it is the same input as a running execution (then its ARN is returned).
        """
        check_execution_name(name)
        body = msgspec.json.encode(input).decode()
        arn = self._arns.get(flow) or await self.ensure(flow)
        try:
            return await self._start_on(arn, flow, name, body)
        except _StateMachineGone:  # deleted behind this process's back: deploy it again
            self._arns.pop(flow, None)
            return await self._start_on(await self.ensure(flow), flow, name, body)

    async def _start_on(self, arn: str, flow: str, name: str, body: str) -> str:
        sfn = await self._clients.stepfunctions()
        try:
            started = await sfn.start_execution(stateMachineArn=arn, name=name, input=body)
        except ClientError as exc:
            if error_code(exc) == "ExecutionAlreadyExists":
                raise ExecutionAlreadyExists(f"an execution named {name!r} of flow {flow!r} exists already") from None
            if error_code(exc) == "StateMachineDoesNotExist":
                raise _StateMachineGone from None
            raise
        return started["executionArn"]

    async def describe(self, execution_id: str, *, history: bool = True) -> ExecutionDescription:
        """The execution's status, input, output and error; its state visits too unless ``history`` is False."""
        sfn = await self._clients.stepfunctions()
        with _missing_execution(execution_id):
            answer = await sfn.describe_execution(executionArn=execution_id)
            events = await self._history(execution_id) if history else []
        status = answer["status"]
        return ExecutionDescription(
            execution_id=execution_id,
            flow=self._flow_of(answer["stateMachineArn"]),
            name=answer["name"],
            status=_STATUS.get(status, ExecutionStatus(status)),
            input=json.loads(answer.get("input") or "null"),
            output=json.loads(answer["output"]) if answer.get("output") else None,
            error=answer.get("error"),
            cause=answer.get("cause"),
            started_at=answer["startDate"],
            stopped_at=answer.get("stopDate"),
            states=states_from_history(events),
        )

    async def _history(self, execution_id: str) -> list[HistoryEventTypeDef]:
        sfn = await self._clients.stepfunctions()
        events: list[HistoryEventTypeDef] = []
        async for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_id):
            events.extend(page["events"])
        return events

    async def wait(
        self, execution_id: str, *, timeout_s: float | None = None, poll_s: float = 1.0
    ) -> ExecutionDescription:
        """Poll until the execution ends (or ``timeout_s`` passes) and describe it."""
        async with asyncio.timeout(timeout_s):
            while True:
                status = (await self.describe(execution_id, history=False)).status
                if status is not ExecutionStatus.RUNNING:
                    break
                await asyncio.sleep(poll_s)
        return await self.describe(execution_id)

    async def stop(self, execution_id: str, *, error: str | None = None, cause: str | None = None) -> None:
        """Abort a running execution."""
        sfn = await self._clients.stepfunctions()
        extra = {key: value for key, value in (("error", error), ("cause", cause)) if value is not None}
        with _missing_execution(execution_id):
            await sfn.stop_execution(executionArn=execution_id, **extra)

    async def send_task_success(self, token: str, output: Any) -> None:
        """Complete the task waiting on ``token`` with ``output`` (a JSON value)."""
        sfn = await self._clients.stepfunctions()
        with _invalid_token():
            await sfn.send_task_success(taskToken=token, output=msgspec.json.encode(output).decode())

    async def send_task_failure(self, token: str, error: str, cause: str = "") -> None:
        """Fail the task waiting on ``token`` with ``error`` (matched by Retry/Catch) and ``cause``."""
        sfn = await self._clients.stepfunctions()
        with _invalid_token():
            await sfn.send_task_failure(taskToken=token, error=error, cause=cause)
