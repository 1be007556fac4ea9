"""Errors as a flow sees them (``{"Error": ..., "Cause": ...}``), and how Retry and Catch match them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

ALL = "States.ALL"
TASK_FAILED = "States.TaskFailed"
TIMEOUT = "States.Timeout"
RUNTIME = "States.Runtime"
NO_CHOICE_MATCHED = "States.NoChoiceMatched"
RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"

# States.ALL matches every error but these (they end the execution whatever the Catch says).
_TERMINAL = frozenset({RUNTIME, "States.DataLimitExceeded"})


class StatesError(Exception):
    """An error raised inside a flow: retried and caught by name when the state has Retry/Catch."""

    def __init__(self, error: str, cause: str | None = None) -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause

    def as_output(self) -> dict[str, Any]:
        """The error object a Catch puts at its ResultPath."""
        return {"Error": self.error, "Cause": self.cause}


class FlowRuntimeError(StatesError):
    """``States.Runtime``: the flow itself is wrong for this input (a path selects nothing, ...); never caught."""

    def __init__(self, cause: str) -> None:
        super().__init__(RUNTIME, cause)


def error_matches(error_equals: Sequence[str], error: str) -> bool:
    """Whether a retrier's or catcher's ``ErrorEquals`` matches ``error``."""
    if error in _TERMINAL:
        return False
    for name in error_equals:
        if name in (error, ALL):
            return True
        if name == TASK_FAILED and error != TIMEOUT:
            return True
    return False
