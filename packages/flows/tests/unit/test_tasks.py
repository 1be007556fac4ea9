from __future__ import annotations

from typing import Any

import pytest

from sentinel_flows import AWAIT_CALLBACK, HandlerRegistry, TaskContext, TaskError, TaskRequest, run_task
from sentinel_flows._errors import error_matches
from sentinel_flows._interpreter import retry_delay


class RecordingAnswerer:
    def __init__(self) -> None:
        self.answers: list[tuple[str, str, Any]] = []

    async def send_task_success(self, token: str, output: Any) -> None:
        self.answers.append(("success", token, output))

    async def send_task_failure(self, token: str, error: str, cause: str = "") -> None:
        self.answers.append(("failure", token, (error, cause)))


def request(handler: str, payload: Any = None) -> TaskRequest:
    return TaskRequest(handler=handler, token="tok", execution="exec", state="S", attempt=2, input=payload)


class TestRunTask:
    async def test_returned_value_answers_success_with_the_context_passed_in(self) -> None:
        seen: list[TaskContext] = []

        async def handler(payload: Any, context: TaskContext) -> Any:
            seen.append(context)
            return {"doubled": payload * 2}

        answerer = RecordingAnswerer()
        assert await run_task(HandlerRegistry({"h": handler}), request("h", 21), answerer) is True
        assert answerer.answers == [("success", "tok", {"doubled": 42})]
        assert seen == [TaskContext(token="tok", execution="exec", state="S", attempt=2, handler="h")]

    async def test_task_error_answers_its_name_and_cause(self) -> None:
        async def handler(payload: Any, context: TaskContext) -> Any:
            raise TaskError("Sentinel.Retryable", "archive busy")

        answerer = RecordingAnswerer()
        await run_task(HandlerRegistry({"h": handler}), request("h"), answerer)
        assert answerer.answers == [("failure", "tok", ("Sentinel.Retryable", "archive busy"))]

    async def test_long_error_and_cause_are_cut_to_step_functions_limits(self) -> None:
        async def handler(payload: Any, context: TaskContext) -> Any:
            raise TaskError("E" * 300, "c" * 40_000)

        answerer = RecordingAnswerer()
        await run_task(HandlerRegistry({"h": handler}), request("h"), answerer)
        _, _, (error, cause) = answerer.answers[0]
        assert (len(error), len(cause)) == (256, 32_768)

    async def test_deferred_task_is_not_answered(self) -> None:
        async def handler(payload: Any, context: TaskContext) -> Any:
            return AWAIT_CALLBACK

        answerer = RecordingAnswerer()
        assert await run_task(HandlerRegistry({"h": handler}), request("h"), answerer) is False
        assert answerer.answers == []

    async def test_unknown_handler_fails_the_task(self) -> None:
        answerer = RecordingAnswerer()
        await run_task(HandlerRegistry(), request("nope"), answerer)
        assert answerer.answers[0][2][0] == "Sentinel.UnknownHandler"


class TestRegistry:
    def test_decorator_registers_and_names_are_unique(self) -> None:
        registry = HandlerRegistry()

        @registry.handler("a")
        async def a(payload: Any, context: TaskContext) -> Any:
            return None

        assert registry.get("a") is a
        assert list(registry) == ["a"]
        with pytest.raises(ValueError, match="registered already"):
            registry.register("a", a)


class TestErrorMatching:
    @pytest.mark.parametrize(
        ("names", "error", "expected"),
        [
            (["States.ALL"], "Anything", True),
            (["States.ALL"], "States.Timeout", True),
            (["States.ALL"], "States.Runtime", False),
            (["States.Runtime"], "States.Runtime", False),
            (["States.TaskFailed"], "Sentinel.Retryable", True),
            (["States.TaskFailed"], "States.Timeout", False),
            (["A", "B"], "B", True),
            (["A"], "a", False),
        ],
    )
    def test_error_equals(self, names: list[str], error: str, expected: bool) -> None:
        assert error_matches(names, error) is expected

    def test_retry_delay_defaults_and_backoff(self) -> None:
        assert [retry_delay({}, n) for n in range(3)] == [1.0, 2.0, 4.0]
        assert retry_delay({"IntervalSeconds": 3, "BackoffRate": 1.5}, 2) == 6.75

    def test_full_jitter_stays_within_the_delay(self) -> None:
        delays = [retry_delay({"IntervalSeconds": 4, "JitterStrategy": "FULL"}, 1) for _ in range(50)]
        assert all(0 <= delay <= 8 for delay in delays)
