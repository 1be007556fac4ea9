from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sentinel_flows._history import states_from_history

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def event(second: int, kind: str, **details: Any) -> dict[str, Any]:
    return {"timestamp": T0 + timedelta(seconds=second), "type": kind, **details}


def entered(second: int, kind: str, name: str) -> dict[str, Any]:
    return event(second, f"{kind}StateEntered", stateEnteredEventDetails={"name": name})


def test_history_becomes_state_visits_with_attempts_and_errors() -> None:
    history = [
        event(0, "ExecutionStarted"),
        entered(0, "Choice", "Check"),
        event(1, "ChoiceStateExited"),
        entered(1, "Task", "Export"),
        event(1, "TaskScheduled"),
        event(2, "TaskFailed", taskFailedEventDetails={"error": "Sentinel.Retryable"}),
        event(3, "TaskScheduled"),
        event(4, "TaskFailed", taskFailedEventDetails={"error": "Boom"}),
        event(4, "TaskStateExited"),
        entered(5, "Fail", "Failed"),
        event(5, "ExecutionFailed", executionFailedEventDetails={"error": "Boom"}),
    ]
    check, export, failed = states_from_history(history)
    assert (check.name, check.type, check.attempts, check.error) == ("Check", "Choice", 1, None)
    assert check.exited_at == T0 + timedelta(seconds=1)
    assert (export.name, export.attempts, export.error) == ("Export", 2, "Boom")
    assert (failed.name, failed.type, failed.exited_at, failed.error) == ("Failed", "Fail", None, "Boom")


def test_an_open_state_has_no_exit() -> None:
    [running] = states_from_history([entered(0, "Task", "RunScript"), event(0, "TaskScheduled")])
    assert (running.exited_at, running.attempts, running.error) == (None, 1, None)
