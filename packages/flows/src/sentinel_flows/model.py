"""The execution model both runners report in, and the errors they raise."""

from __future__ import annotations

import enum
import re
from datetime import datetime
from typing import Any

import msgspec

_EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


class ExecutionStatus(enum.StrEnum):
    """Where an execution is: running, or one of the four ends Step Functions knows."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"


class StateRecord(msgspec.Struct, kw_only=True, frozen=True):
    """One visit of a state, in the order the execution entered them."""

    name: str
    """The state's name in the flow file."""
    type: str
    """Task, Pass, Choice, Wait, Succeed or Fail."""
    entered_at: datetime
    """When the state was entered (UTC)."""
    exited_at: datetime | None = None
    """When it was left; None while the execution is in it, or if the execution ended in it."""
    attempts: int = 1
    """How many times a Task ran in this visit (1 + retries); 1 for other states."""
    error: str | None = None
    """The error the state's last attempt failed with, if it failed."""


class ExecutionDescription(msgspec.Struct, kw_only=True, frozen=True):
    """What ``describe`` answers, the same shape from Step Functions and from the local runner."""

    execution_id: str
    """The execution's id: its ARN on Step Functions, ``local:<flow>:<name>`` in the local runner."""
    flow: str
    """The flow's name (its file name without ``.asl.json``)."""
    name: str
    """The unique name given to ``start``."""
    status: ExecutionStatus
    input: Any
    """The execution's input, decoded."""
    output: Any = None
    """The final output, decoded, once SUCCEEDED."""
    error: str | None = None
    """The error name when FAILED, TIMED_OUT or ABORTED (if one was given)."""
    cause: str | None = None
    """The cause that came with the error."""
    started_at: datetime
    stopped_at: datetime | None = None
    states: list[StateRecord] = msgspec.field(default_factory=list)
    """Every state visit so far, oldest first."""

    @property
    def transitions(self) -> int:
        """State transitions as Step Functions bills them: one per state entered and one per retry."""
        return sum(record.attempts for record in self.states)

    @property
    def current_state(self) -> str | None:
        """The state the execution is in while RUNNING, else None."""
        if self.status is not ExecutionStatus.RUNNING or not self.states:
            return None
        last = self.states[-1]
        return last.name if last.exited_at is None else None


class FlowError(Exception):
    """Base of the errors this package raises."""


class FlowNotFound(FlowError):
    """No ``<flow>.asl.json`` in the flows directory."""


class FlowDefinitionError(FlowError):
    """A flow file is not valid JSON, or uses something a runner cannot execute."""


class ExecutionNotFound(FlowError):
    """No execution with that id."""


class ExecutionAlreadyExists(FlowError):
    """An execution with that name exists already with another input (names are unique per flow)."""


class TaskTokenInvalid(FlowError):
    """The task token is unknown, already answered, or its task timed out or was stopped."""


def check_execution_name(name: str) -> str:
    """Return ``name`` if Step Functions accepts it as an execution name, else raise ``ValueError``."""
    if not _EXECUTION_NAME.match(name):
        raise ValueError(f"execution name {name!r} must be 1-80 characters of letters, digits, '-' and '_'")
    return name
