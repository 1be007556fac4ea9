"""The analysis flow from infra/flows in the local runner."""

from __future__ import annotations

from typing import Any

import pytest

from sentinel_flows import (
    ExecutionAlreadyExists,
    ExecutionDescription,
    ExecutionNotFound,
    ExecutionStatus,
    FlowDefinitionError,
    HandlerRegistry,
    LocalFlowRunner,
    TaskTokenInvalid,
)


def visited(description: ExecutionDescription) -> list[str]:
    return [record.name for record in description.states]


class TestAnalysisFlow:
    async def test_runs_export_script_callback_artifact_and_notify(
        self, analysis_stub: Any, make_input: Any, background: Any
    ) -> None:
        stub = analysis_stub(rows=42)
        runner = LocalFlowRunner(stub.registry)
        background(stub.sandbox(runner))

        execution = await runner.start("analysis", make_input("job-1"), name="job-1")
        done = await runner.wait(execution, timeout_s=30)

        assert done.status is ExecutionStatus.SUCCEEDED
        assert done.output == stub.expected_output("job-1")
        assert visited(done) == stub.happy_path()
        assert done.transitions == len(stub.happy_path())
        assert all(record.exited_at is not None and record.error is None for record in done.states)
        [script_call] = stub.handled("run_script")
        assert script_call == {
            "job_id": "job-1",
            "project_id": "proj-1",
            "script_key": "tenants/t1/projects/proj-1/scripts/latency.py",
            "data_key": stub.expected_output("job-1")["result"]["data_key"],
        }
        assert stub.handled("notify") == [
            {"job_id": "job-1", "project_id": "proj-1", "status": "succeeded", "artifact": done.output["artifact"]}
        ]

    async def test_task_context_names_execution_state_and_attempt(
        self, analysis_stub: Any, make_input: Any, background: Any
    ) -> None:
        stub = analysis_stub(export_failures=["Sentinel.Retryable"])
        runner = LocalFlowRunner(stub.registry, sleep=_no_wait)
        background(stub.sandbox(runner))
        execution = await runner.start("analysis", make_input(), name="ctx")
        await runner.wait(execution, timeout_s=30)

        contexts = [context for handler, _, context in stub.calls if handler == "export_window"]
        assert [context.attempt for context in contexts] == [0, 1]
        assert {(context.execution, context.state, context.handler) for context in contexts} == {
            (execution, "ExportWindow", "export_window")
        }
        assert contexts[0].token != contexts[1].token

    @pytest.mark.parametrize(
        ("settle_seconds", "sleeps", "path"),
        [
            (90, [90.0], ["CheckInput", "CheckSettle", "LetLateEventsSettle", "ExportWindow"]),
            (0, [], ["CheckInput", "CheckSettle", "ExportWindow"]),
            ("soon", [], ["CheckInput", "CheckSettle", "ExportWindow"]),
        ],
    )
    async def test_settle_seconds_waits_before_the_export_when_positive(
        self,
        analysis_stub: Any,
        make_input: Any,
        background: Any,
        recording_sleep: Any,
        settle_seconds: Any,
        sleeps: list[float],
        path: list[str],
    ) -> None:
        stub = analysis_stub()
        runner = LocalFlowRunner(stub.registry, sleep=recording_sleep)
        background(stub.sandbox(runner))
        execution = await runner.start("analysis", make_input(settle_seconds=settle_seconds), name="s")
        done = await runner.wait(execution, timeout_s=30)
        assert recording_sleep.calls == sleeps
        assert visited(done)[: len(path)] == path
        assert done.status is ExecutionStatus.SUCCEEDED

    async def test_empty_window_skips_the_sandbox(self, analysis_stub: Any, make_input: Any) -> None:
        stub = analysis_stub(rows=0)
        runner = LocalFlowRunner(stub.registry)
        done = await runner.wait(await runner.start("analysis", make_input(), name="empty"), timeout_s=30)
        assert done.status is ExecutionStatus.SUCCEEDED
        assert stub.handled("run_script") == []
        assert "NothingToAnalyse" in visited(done)
        assert (done.output["script_status"], done.output["result"]) == ("skipped", None)

    async def test_missing_input_fields_fail_with_invalid_input(self, analysis_stub: Any) -> None:
        stub = analysis_stub()
        runner = LocalFlowRunner(stub.registry)
        done = await runner.wait(await runner.start("analysis", {"project_id": "p"}, name="bad"), timeout_s=30)
        assert (done.status, done.error) == (ExecutionStatus.FAILED, "Sentinel.InvalidInput")
        assert visited(done) == ["CheckInput", "InvalidInput"]
        assert done.states[-1].error == "Sentinel.InvalidInput"
        assert stub.calls == []

    async def test_export_failure_notifies_and_fails_with_the_handlers_error(
        self, analysis_stub: Any, make_input: Any
    ) -> None:
        stub = analysis_stub(export_failures=["Sentinel.ArchiveDown"])
        runner = LocalFlowRunner(stub.registry)
        done = await runner.wait(await runner.start("analysis", make_input(), name="boom"), timeout_s=30)
        assert (done.status, done.error, done.cause) == (
            ExecutionStatus.FAILED,
            "Sentinel.ArchiveDown",
            "the archive did not answer",
        )
        assert visited(done) == ["CheckInput", "ExportWindow", "NotifyFailure", "Failed"]
        assert done.states[1].error == "Sentinel.ArchiveDown"
        assert stub.handled("notify") == [
            {
                "job_id": "job-1",
                "project_id": "proj-1",
                "status": "failed",
                "error": {"Error": "Sentinel.ArchiveDown", "Cause": "the archive did not answer"},
            }
        ]

    async def test_retryable_export_is_retried_with_backoff(
        self, analysis_stub: Any, make_input: Any, background: Any, recording_sleep: Any
    ) -> None:
        stub = analysis_stub(export_failures=["Sentinel.Retryable", "Sentinel.Retryable"])
        runner = LocalFlowRunner(stub.registry, sleep=recording_sleep)
        background(stub.sandbox(runner))
        done = await runner.wait(await runner.start("analysis", make_input(), name="retry"), timeout_s=30)
        assert done.status is ExecutionStatus.SUCCEEDED
        assert recording_sleep.calls == [1.0, 2.0]
        export = done.states[1]
        assert (export.name, export.attempts, export.error) == ("ExportWindow", 3, "Sentinel.Retryable")
        assert done.transitions == len(stub.happy_path()) + 2

    async def test_script_failure_reported_through_the_token_fails_the_flow(
        self, analysis_stub: Any, make_input: Any
    ) -> None:
        stub = analysis_stub()
        runner = LocalFlowRunner(stub.registry)
        execution = await runner.start("analysis", make_input(), name="script-fails")
        token, _ = await stub.callbacks.get()
        await runner.send_task_failure(token, "Sentinel.ScriptFailed", "exit code 1")
        done = await runner.wait(execution, timeout_s=30)
        assert (done.status, done.error, done.cause) == (ExecutionStatus.FAILED, "Sentinel.ScriptFailed", "exit code 1")
        with pytest.raises(TaskTokenInvalid):
            await runner.send_task_success(token, {"late": True})


class TestExecutions:
    async def test_stop_aborts_and_invalidates_the_pending_token(self, analysis_stub: Any, make_input: Any) -> None:
        stub = analysis_stub()
        runner = LocalFlowRunner(stub.registry)
        execution = await runner.start("analysis", make_input(), name="to-stop")
        token, _ = await stub.callbacks.get()
        assert (await runner.describe(execution)).current_state == "RunScript"

        await runner.stop(execution, error="Sentinel.Cancelled", cause="cancelled by the user")

        done = await runner.wait(execution, timeout_s=5)
        assert (done.status, done.error, done.cause) == (
            ExecutionStatus.ABORTED,
            "Sentinel.Cancelled",
            "cancelled by the user",
        )
        assert done.stopped_at is not None
        with pytest.raises(TaskTokenInvalid):
            await runner.send_task_success(token, {})

    async def test_same_name_and_input_while_running_returns_the_same_execution(
        self, analysis_stub: Any, make_input: Any
    ) -> None:
        stub = analysis_stub()
        runner = LocalFlowRunner(stub.registry)
        first = await runner.start("analysis", make_input(), name="once")
        assert await runner.start("analysis", make_input(), name="once") == first
        with pytest.raises(ExecutionAlreadyExists):
            await runner.start("analysis", make_input("other-job"), name="once")
        await runner.aclose()
        assert (await runner.describe(first)).status is ExecutionStatus.ABORTED

    async def test_a_finished_name_cannot_be_reused(self, analysis_stub: Any, make_input: Any) -> None:
        runner = LocalFlowRunner(analysis_stub(rows=0).registry)
        await runner.wait(await runner.start("analysis", make_input(), name="done"), timeout_s=30)
        with pytest.raises(ExecutionAlreadyExists):
            await runner.start("analysis", make_input(), name="done")

    @pytest.mark.parametrize("name", ["", "has space", "x" * 81, "slash/name"])
    async def test_invalid_names_are_rejected(self, analysis_stub: Any, make_input: Any, name: str) -> None:
        runner = LocalFlowRunner(analysis_stub().registry)
        with pytest.raises(ValueError, match="execution name"):
            await runner.start("analysis", make_input(), name=name)

    async def test_unknown_execution(self, analysis_stub: Any) -> None:
        runner = LocalFlowRunner(analysis_stub().registry)
        with pytest.raises(ExecutionNotFound):
            await runner.describe("local:analysis:nope")

    async def test_missing_handlers_are_named_before_anything_runs(self, make_input: Any) -> None:
        runner = LocalFlowRunner(HandlerRegistry())
        with pytest.raises(FlowDefinitionError, match="export_window"):
            await runner.start("analysis", make_input(), name="x")

    async def test_listener_sees_every_state_and_the_end(
        self, analysis_stub: Any, make_input: Any, background: Any
    ) -> None:
        stub = analysis_stub()
        seen: list[ExecutionDescription] = []
        runner = LocalFlowRunner(stub.registry, on_change=seen.append)
        background(stub.sandbox(runner))
        await runner.wait(await runner.start("analysis", make_input(), name="watched"), timeout_s=30)
        assert [description.current_state for description in seen[:-1]] == stub.happy_path()
        assert seen[-1].status is ExecutionStatus.SUCCEEDED

    async def test_only_the_newest_finished_executions_are_kept(self, analysis_stub: Any, make_input: Any) -> None:
        runner = LocalFlowRunner(analysis_stub(rows=0).registry, keep_finished=2)
        ids = []
        for number in range(4):
            ids.append(await runner.start("analysis", make_input(f"j{number}"), name=f"n{number}"))
            await runner.wait(ids[-1], timeout_s=30)
        with pytest.raises(ExecutionNotFound):
            await runner.describe(ids[0])
        assert (await runner.describe(ids[3])).status is ExecutionStatus.SUCCEEDED


async def _no_wait(seconds: float) -> None:
    del seconds
