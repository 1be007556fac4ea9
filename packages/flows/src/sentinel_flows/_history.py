"""Step Functions execution history → the state visits the local runner records (``StateRecord``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sentinel_flows.model import StateRecord

_ENTERED = "StateEntered"
_EXITED = "StateExited"
# Events that end an attempt of the current state with an error, and where their details are. (A stopped or timed
# out execution leaves its current state open without an error, as in the local runner.)
_FAILURES = {
    "TaskFailed": "taskFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
    "ExecutionFailed": "executionFailedEventDetails",
}


def states_from_history(events: Sequence[Mapping[str, Any]]) -> list[StateRecord]:
    """One record per ``*StateEntered`` event; attempts count its ``TaskScheduled`` events (retries included)."""
    records: list[dict[str, Any]] = []
    for event in events:
        kind = str(event["type"])
        if kind.endswith(_ENTERED):
            details = event.get("stateEnteredEventDetails", {})
            records.append(
                {"name": details.get("name", ""), "type": kind[: -len(_ENTERED)], "entered_at": event["timestamp"]}
            )
            continue
        if not records:
            continue
        current = records[-1]
        if kind.endswith(_EXITED):
            current["exited_at"] = event["timestamp"]
        elif kind == "TaskScheduled":
            current["attempts"] = current.get("attempts", 0) + 1
        elif kind in _FAILURES and "exited_at" not in current:
            error = event.get(_FAILURES[kind], {}).get("error")
            if error is not None:
                current["error"] = error
    return [StateRecord(**{"attempts": 1, **record}) for record in records]
