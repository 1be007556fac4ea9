"""The flow files from infra/flows, executed by moto's Step Functions interpreter with the task queue worker."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import msgspec
import pytest

from sentinel_flows import (
    ExecutionAlreadyExists,
    ExecutionNotFound,
    ExecutionStatus,
    FlowError,
    FlowSettings,
    HandlerRegistry,
    StepFunctionsRunner,
    TaskContext,
    TaskQueueWorker,
    TaskTokenInvalid,
)


class TestDeploy:
    async def test_ensure_creates_then_updates_the_state_machine(
        self, clients: Any, flow_settings: FlowSettings, aws_runner: StepFunctionsRunner
    ) -> None:
        first = await aws_runner.ensure("analysis")
        assert await aws_runner.ensure_all() == {"analysis": first}

        sfn = await clients.stepfunctions()
        described = await sfn.describe_state_machine(stateMachineArn=first)
        assert described["name"] == f"{flow_settings.state_machine_prefix}analysis"
        assert described["roleArn"] == flow_settings.state_machine_role_arn
        definition = json.loads(described["definition"])
        assert definition["States"]["ExportWindow"]["Parameters"]["QueueUrl"] == flow_settings.task_queue_url

    async def test_a_new_runner_finds_the_deployed_state_machine(
        self, clients: Any, flow_settings: FlowSettings, aws_runner: StepFunctionsRunner
    ) -> None:
        arn = await aws_runner.ensure("analysis")
        assert await StepFunctionsRunner(clients, flow_settings).ensure("analysis") == arn

    async def test_without_deploying_the_state_machine_is_found_and_never_changed(
        self, clients: Any, flow_settings: FlowSettings, aws_runner: StepFunctionsRunner
    ) -> None:
        settings = msgspec.structs.replace(flow_settings, deploy_state_machines=False, state_machine_role_arn="")
        looker = StepFunctionsRunner(clients, settings)
        with pytest.raises(FlowError, match="not deployed"):
            await looker.ensure("analysis")

        arn = await aws_runner.ensure("analysis")  # as CloudFormation would
        made: list[str] = []
        sfn = await clients.stepfunctions()
        sfn.meta.events.register("before-call.sfn.*", lambda model, **_: made.append(model.name))
        assert await looker.ensure("analysis") == arn
        assert set(made) == {"ListStateMachines"}, "a runner that does not deploy changed the state machine"


class TestAnalysisOnStepFunctions:
    async def test_succeeds_with_the_scripts_callback_result(
        self, analysis_stub: Any, make_input: Any, run_on_aws: Any
    ) -> None:
        stub = analysis_stub(rows=42)
        done = await run_on_aws(stub, make_input("job-aws", settle_seconds=1), "job-aws")

        assert done.status is ExecutionStatus.SUCCEEDED, (done.error, done.cause)
        assert done.output == stub.expected_output("job-aws")
        assert [record.name for record in done.states] == stub.happy_path(settle=True)
        assert done.transitions == 10
        assert done.flow == "analysis"
        assert done.name == "job-aws"
        assert done.input["job_id"] == "job-aws"
        assert done.stopped_at is not None
        assert done.stopped_at >= done.started_at
        [export_context] = [context for handler, _, context in stub.calls if handler == "export_window"]
        assert (export_context.execution, export_context.state) == (done.execution_id, "ExportWindow")

    async def test_failing_handler_is_caught_notified_and_fails_the_execution(
        self, analysis_stub: Any, make_input: Any, run_on_aws: Any
    ) -> None:
        stub = analysis_stub(export_failures=["Sentinel.ArchiveDown"])
        done = await run_on_aws(stub, make_input("job-fail"), "job-fail")

        assert (done.status, done.error) == (ExecutionStatus.FAILED, "Sentinel.ArchiveDown")
        assert [record.name for record in done.states] == ["CheckInput", "ExportWindow", "NotifyFailure", "Failed"]
        assert done.states[1].error == "Sentinel.ArchiveDown"
        [notified] = stub.handled("notify")
        assert (notified["status"], notified["error"]["Error"]) == ("failed", "Sentinel.ArchiveDown")
        assert stub.handled("run_script") == []

    async def test_retryable_failure_is_retried_and_then_succeeds(
        self, analysis_stub: Any, make_input: Any, run_on_aws: Any
    ) -> None:
        stub = analysis_stub(export_failures=["Sentinel.Retryable"])
        done = await run_on_aws(stub, make_input("job-retry"), "job-retry")

        assert done.status is ExecutionStatus.SUCCEEDED
        export = done.states[1]
        assert (export.name, export.error) == ("ExportWindow", "Sentinel.Retryable")
        # Step Functions makes 2 attempts; moto may make a third (a retry reuses the token and first sees the
        # previous attempt's answer), so only the lower bound holds on both.
        assert export.attempts >= 2
        attempts = [context.attempt for handler, _, context in stub.calls if handler == "export_window"]
        assert attempts[:2] == [0, 1]


class TestExecutionsOnStepFunctions:
    async def test_start_is_idempotent_for_the_same_name_and_input_only(
        self, make_input: Any, aws_runner: StepFunctionsRunner
    ) -> None:
        waiting = make_input("j", settle_seconds=3600)
        first = await aws_runner.start("analysis", waiting, name="same-name")
        assert await aws_runner.start("analysis", waiting, name="same-name") == first
        with pytest.raises(ExecutionAlreadyExists):
            await aws_runner.start("analysis", make_input("other"), name="same-name")
        await aws_runner.stop(first)

    async def test_stop_aborts_a_running_execution(self, make_input: Any, aws_runner: StepFunctionsRunner) -> None:
        # Stopped in its Wait state: moto leaves an execution that waits for a task token RUNNING until the
        # token is answered (Step Functions aborts it at once); the local runner's tests cover that case.
        execution = await aws_runner.start("analysis", make_input("j-stop", settle_seconds=3600), name="j-stop")
        async with asyncio.timeout(60):
            state = None
            while state != "LetLateEventsSettle":
                await asyncio.sleep(0.1)
                state = (await aws_runner.describe(execution)).current_state

        await aws_runner.stop(execution, error="Sentinel.Cancelled", cause="cancelled by the user")

        done = await aws_runner.wait(execution, timeout_s=60, poll_s=0.2)
        assert done.status is ExecutionStatus.ABORTED
        assert done.states[-1].name == "LetLateEventsSettle"

    async def test_unknown_execution_and_token(self, aws_runner: StepFunctionsRunner) -> None:
        missing = "arn:aws:states:us-east-1:123456789012:execution:nope:nope"
        with pytest.raises(ExecutionNotFound):
            await aws_runner.describe(missing)
        with pytest.raises(TaskTokenInvalid):
            await aws_runner.send_task_success("not-a-token", {})


class TestTaskQueueWorker:
    async def test_malformed_request_is_dropped(
        self, clients: Any, flow_settings: FlowSettings, aws_runner: StepFunctionsRunner, queue_depth: Any
    ) -> None:
        sqs = await clients.sqs()
        await sqs.send_message(QueueUrl=flow_settings.task_queue_url, MessageBody='{"handler": 1}')
        worker = TaskQueueWorker(clients, flow_settings, HandlerRegistry(), answerer=aws_runner)
        assert await worker.poll_once() == 1
        assert await queue_depth(flow_settings.task_queue_url) == 0

    async def test_request_whose_token_is_gone_is_dropped(
        self, clients: Any, flow_settings: FlowSettings, aws_runner: StepFunctionsRunner, queue_depth: Any
    ) -> None:
        ran: list[str] = []

        async def handler(payload: Any, context: TaskContext) -> Any:
            ran.append(context.token)
            return {}

        body = {"handler": "h", "token": "expired-token", "execution": "e", "state": "S", "input": {}}
        sqs = await clients.sqs()
        await sqs.send_message(QueueUrl=flow_settings.task_queue_url, MessageBody=json.dumps(body))
        worker = TaskQueueWorker(clients, flow_settings, HandlerRegistry({"h": handler}), answerer=aws_runner)
        assert await worker.poll_once() == 1
        assert await queue_depth(flow_settings.task_queue_url) == 0
        assert ran == ["expired-token"]
