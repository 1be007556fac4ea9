"""Small flows written for one test, and a sleep that records instead of waiting."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sentinel_flows import TASK_RESOURCE, FlowCatalog


class FlowFiles:
    """Writes ``<name>.asl.json`` files into a temporary flows directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.catalog = FlowCatalog(directory)

    def write(self, name: str, states: dict[str, Any], *, start_at: str | None = None, **top: Any) -> str:
        document = {"StartAt": start_at or next(iter(states)), "States": states, **top}
        (self.directory / f"{name}.asl.json").write_text(json.dumps(document), encoding="utf-8")
        return name


def task_state(handler: str, *, next_state: str | None = None, payload: Any = None, **fields: Any) -> dict[str, Any]:
    """A Task state sending ``payload`` (default: its whole input) to ``handler``."""
    body = {
        "handler": handler,
        "token.$": "$$.Task.Token",
        "execution.$": "$$.Execution.Id",
        "state.$": "$$.State.Name",
        "attempt.$": "$$.State.RetryCount",
    }
    if payload is None:
        body["input.$"] = "$"
    else:
        body["input"] = payload
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": TASK_RESOURCE,
        "Parameters": {"QueueUrl": "${TaskQueueUrl}", "MessageBody": body},
        **fields,
    }
    if next_state is None:
        state["End"] = True
    else:
        state["Next"] = next_state
    return state


class RecordingSleep:
    """Stands in for ``asyncio.sleep`` in Wait states and Retry intervals: records the seconds, waits for none."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def flow_files(tmp_path: Path) -> FlowFiles:
    return FlowFiles(tmp_path)


@pytest.fixture
def task() -> Callable[..., dict[str, Any]]:
    """``task(handler, next_state=..., payload=..., **state_fields)`` builds a Task state."""
    return task_state


@pytest.fixture
def recording_sleep() -> RecordingSleep:
    return RecordingSleep()
