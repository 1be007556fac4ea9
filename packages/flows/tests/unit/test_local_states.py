"""State-by-state semantics of the local runner, on small flows written for each test."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from sentinel_flows import (
    AWAIT_CALLBACK,
    ExecutionDescription,
    ExecutionStatus,
    HandlerRegistry,
    LocalFlowRunner,
    TaskContext,
    TaskError,
)


async def run(runner: LocalFlowRunner, flow: str, data: Any) -> ExecutionDescription:
    return await runner.wait(await runner.start(flow, data, name="t"), timeout_s=30)


def echo_registry(**extra: Any) -> HandlerRegistry:
    async def echo(payload: Any, context: TaskContext) -> Any:
        return payload

    return HandlerRegistry({"echo": echo, **extra})


class TestPass:
    async def test_result_at_result_path_then_output_path(self, flow_files: Any) -> None:
        flow_files.write(
            "f",
            {
                "P": {
                    "Type": "Pass",
                    "InputPath": "$.inner",
                    "Result": {"fixed": 1},
                    "ResultPath": "$.added",
                    "OutputPath": "$.added",
                    "End": True,
                }
            },
        )
        done = await run(LocalFlowRunner(HandlerRegistry(), catalog=flow_files.catalog), "f", {"inner": {"x": 1}})
        assert done.output == {"fixed": 1}

    async def test_result_path_is_applied_to_the_raw_input(self, flow_files: Any) -> None:
        flow_files.write("f", {"P": {"Type": "Pass", "InputPath": "$.inner", "ResultPath": "$.copy", "End": True}})
        done = await run(LocalFlowRunner(HandlerRegistry(), catalog=flow_files.catalog), "f", {"inner": {"x": 1}})
        assert done.output == {"inner": {"x": 1}, "copy": {"x": 1}}

    async def test_parameters_select_from_input_and_context(self, flow_files: Any) -> None:
        parameters = {"picked.$": "$.a[1]", "name.$": "$$.Execution.Name", "nested": {"whole.$": "$"}, "lit": [1]}
        flow_files.write("f", {"P": {"Type": "Pass", "Parameters": parameters, "End": True}})
        done = await run(LocalFlowRunner(HandlerRegistry(), catalog=flow_files.catalog), "f", {"a": [5, 6]})
        assert done.output == {"picked": 6, "name": "t", "nested": {"whole": {"a": [5, 6]}}, "lit": [1]}

    async def test_null_paths(self, flow_files: Any) -> None:
        flow_files.write(
            "f",
            {
                "A": {"Type": "Pass", "Result": 1, "ResultPath": None, "Next": "B"},
                "B": {"Type": "Pass", "InputPath": None, "ResultPath": "$.x", "Next": "C"},
                "C": {"Type": "Pass", "OutputPath": None, "End": True},
            },
        )
        done = await run(LocalFlowRunner(HandlerRegistry(), catalog=flow_files.catalog), "f", {"keep": True})
        assert done.output == {}
        assert [record.name for record in done.states] == ["A", "B", "C"]

    async def test_a_path_that_selects_nothing_fails_with_states_runtime(self, flow_files: Any) -> None:
        flow_files.write("f", {"P": {"Type": "Pass", "Parameters": {"x.$": "$.absent"}, "End": True}})
        done = await run(LocalFlowRunner(HandlerRegistry(), catalog=flow_files.catalog), "f", {})
        assert (done.status, done.error) == (ExecutionStatus.FAILED, "States.Runtime")
        assert "$.absent" in (done.cause or "")

    async def test_result_path_through_a_scalar_fails(self, flow_files: Any) -> None:
        flow_files.write("f", {"P": {"Type": "Pass", "Result": 1, "ResultPath": "$.a.b", "End": True}})
        done = await run(LocalFlowRunner(HandlerRegistry(), catalog=flow_files.catalog), "f", {"a": 3})
        assert done.error == "States.ResultPathMatchFailure"


class TestWaitChoiceFail:
    async def test_wait_until_a_timestamp_uses_the_clock(self, flow_files: Any, recording_sleep: Any) -> None:
        flow_files.write("f", {"W": {"Type": "Wait", "TimestampPath": "$.until", "End": True}})
        now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
        runner = LocalFlowRunner(
            HandlerRegistry(), catalog=flow_files.catalog, clock=lambda: now, sleep=recording_sleep
        )
        await run(runner, "f", {"until": "2026-01-01T12:01:30Z"})
        assert recording_sleep.calls == [90.0]

    @pytest.mark.parametrize("seconds", [-1, 1.5, "3", True])
    async def test_wait_seconds_must_be_a_non_negative_integer(self, flow_files: Any, seconds: Any) -> None:
        flow_files.write("f", {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}})
        done = await run(LocalFlowRunner(HandlerRegistry(), catalog=flow_files.catalog), "f", {"s": seconds})
        assert done.error == "States.Runtime"

    async def test_choice_without_match_or_default_fails(self, flow_files: Any) -> None:
        flow_files.write(
            "f",
            {
                "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": 1, "Next": "S"}]},
                "S": {"Type": "Succeed"},
            },
        )
        runner = LocalFlowRunner(HandlerRegistry(), catalog=flow_files.catalog)
        assert (await run(runner, "f", {"x": 2})).error == "States.NoChoiceMatched"

    async def test_fail_with_static_error_and_cause(self, flow_files: Any) -> None:
        flow_files.write("f", {"F": {"Type": "Fail", "Error": "E.Static", "Cause": "because"}})
        done = await run(LocalFlowRunner(HandlerRegistry(), catalog=flow_files.catalog), "f", {})
        assert (done.status, done.error, done.cause) == (ExecutionStatus.FAILED, "E.Static", "because")


class TestRetryAndCatch:
    @staticmethod
    def failing(errors: list[str]) -> Any:
        async def handler(payload: Any, context: TaskContext) -> Any:
            if errors:
                raise TaskError(errors.pop(0), f"attempt {context.attempt}")
            return {"attempt": context.attempt}

        return handler

    async def test_each_retrier_counts_its_own_attempts(self, flow_files: Any, task: Any, recording_sleep: Any) -> None:
        retry = [
            {"ErrorEquals": ["A"], "MaxAttempts": 1, "IntervalSeconds": 3},
            {"ErrorEquals": ["B"], "MaxAttempts": 2, "IntervalSeconds": 1, "BackoffRate": 3.0},
        ]
        flow_files.write("f", {"T": task("flaky", Retry=retry)})
        registry = HandlerRegistry({"flaky": self.failing(["A", "B", "B"])})
        runner = LocalFlowRunner(registry, catalog=flow_files.catalog, sleep=recording_sleep)
        done = await run(runner, "f", {})
        assert done.output == {"attempt": 3}
        assert recording_sleep.calls == [3.0, 1.0, 3.0]
        assert done.states[0].attempts == 4

    async def test_max_delay_caps_the_backoff(self, flow_files: Any, task: Any, recording_sleep: Any) -> None:
        retry = [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 4, "IntervalSeconds": 2, "MaxDelaySeconds": 5}]
        flow_files.write("f", {"T": task("flaky", Retry=retry)})
        registry = HandlerRegistry({"flaky": self.failing(["X"] * 4)})
        await run(LocalFlowRunner(registry, catalog=flow_files.catalog, sleep=recording_sleep), "f", {})
        assert recording_sleep.calls == [2.0, 4.0, 5.0, 5.0]

    async def test_exhausted_retries_go_to_the_first_matching_catcher(
        self, flow_files: Any, task: Any, recording_sleep: Any
    ) -> None:
        flow_files.write(
            "f",
            {
                "T": task(
                    "flaky",
                    next_state="Unreached",
                    Retry=[{"ErrorEquals": ["X"], "MaxAttempts": 1}],
                    Catch=[
                        {"ErrorEquals": ["Other"], "Next": "Unreached"},
                        {"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.err", "Next": "Caught"},
                        {"ErrorEquals": ["States.ALL"], "Next": "Unreached"},
                    ],
                ),
                "Caught": {"Type": "Succeed"},
                "Unreached": {"Type": "Fail", "Error": "Wrong"},
            },
        )
        registry = HandlerRegistry({"flaky": self.failing(["X", "X"])})
        done = await run(LocalFlowRunner(registry, catalog=flow_files.catalog, sleep=recording_sleep), "f", {"k": 1})
        assert done.output == {"k": 1, "err": {"Error": "X", "Cause": "attempt 1"}}
        assert [record.name for record in done.states] == ["T", "Caught"]

    async def test_max_attempts_zero_never_retries(self, flow_files: Any, task: Any, recording_sleep: Any) -> None:
        flow_files.write("f", {"T": task("flaky", Retry=[{"ErrorEquals": ["States.ALL"], "MaxAttempts": 0}])})
        registry = HandlerRegistry({"flaky": self.failing(["X"])})
        done = await run(LocalFlowRunner(registry, catalog=flow_files.catalog, sleep=recording_sleep), "f", {})
        assert (done.error, recording_sleep.calls) == ("X", [])

    async def test_an_unexpected_exception_fails_with_its_class_name(self, flow_files: Any, task: Any) -> None:
        async def broken(payload: Any, context: TaskContext) -> Any:
            raise KeyError("project")

        flow_files.write("f", {"T": task("broken")})
        done = await run(LocalFlowRunner(HandlerRegistry({"broken": broken}), catalog=flow_files.catalog), "f", {})
        assert (done.error, done.cause) == ("KeyError", "'project'")

    async def test_output_that_is_not_json_fails_the_task(self, flow_files: Any, task: Any) -> None:
        async def odd(payload: Any, context: TaskContext) -> Any:
            return {"when": object()}

        flow_files.write("f", {"T": task("odd")})
        done = await run(LocalFlowRunner(HandlerRegistry({"odd": odd}), catalog=flow_files.catalog), "f", {})
        assert done.error == "Sentinel.InvalidOutput"

    async def test_task_timeout_is_caught_as_states_timeout(self, flow_files: Any, task: Any) -> None:
        async def never(payload: Any, context: TaskContext) -> Any:
            return AWAIT_CALLBACK

        flow_files.write(
            "f",
            {
                "T": task(
                    "never",
                    next_state="Timed",
                    TimeoutSeconds=1,
                    Catch=[
                        {"ErrorEquals": ["States.TaskFailed"], "Next": "Wrong"},
                        {"ErrorEquals": ["States.Timeout"], "Next": "Timed"},
                    ],
                ),
                "Timed": {"Type": "Succeed"},
                "Wrong": {"Type": "Fail"},
            },
        )
        done = await run(LocalFlowRunner(HandlerRegistry({"never": never}), catalog=flow_files.catalog), "f", {})
        assert done.states[0].error == "States.Timeout"
        assert done.status is ExecutionStatus.SUCCEEDED

    async def test_execution_timeout_ends_as_timed_out(self, flow_files: Any, task: Any) -> None:
        async def never(payload: Any, context: TaskContext) -> Any:
            return AWAIT_CALLBACK

        flow_files.write("f", {"T": task("never")}, TimeoutSeconds=1)
        runner = LocalFlowRunner(HandlerRegistry({"never": never}), catalog=flow_files.catalog)
        done = await run(runner, "f", {})
        assert (done.status, done.error) == (ExecutionStatus.TIMED_OUT, "States.Timeout")
        assert runner.tokens == {}

    async def test_payload_template_and_result_selector(self, flow_files: Any, task: Any) -> None:
        flow_files.write(
            "f",
            {
                "T": task(
                    "echo",
                    payload={"id.$": "$.id", "fixed": "yes"},
                    ResultSelector={"got.$": "$.id", "first.$": "$.fixed"},
                    ResultPath="$.result",
                )
            },
        )
        done = await run(LocalFlowRunner(echo_registry(), catalog=flow_files.catalog), "f", {"id": 9})
        assert done.output == {"id": 9, "result": {"got": 9, "first": "yes"}}

    async def test_a_deferred_task_completes_when_its_token_is_answered(self, flow_files: Any, task: Any) -> None:
        tokens: asyncio.Queue[str] = asyncio.Queue()

        async def deferred(payload: Any, context: TaskContext) -> Any:
            await tokens.put(context.token)
            return AWAIT_CALLBACK

        flow_files.write("f", {"T": task("deferred")})
        runner = LocalFlowRunner(HandlerRegistry({"deferred": deferred}), catalog=flow_files.catalog)
        execution = await runner.start("f", {}, name="t")
        await runner.send_task_success(await tokens.get(), ("tuple", "becomes", "list"))
        assert (await runner.wait(execution, timeout_s=30)).output == ["tuple", "becomes", "list"]
