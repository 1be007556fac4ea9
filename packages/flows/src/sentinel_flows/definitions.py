"""Flow files: ``<name>.asl.json`` in the flows directory (``infra/flows`` of the repository by default).

The same text is deployed to Step Functions and executed by the local runner. ``${Name}`` placeholders are filled
at load time, as CloudFormation's ``DefinitionSubstitutions`` would (``${TaskQueueUrl}``: the SQS queue that Task
states send their requests to).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentinel_flows import _choice, _payload
from sentinel_flows.model import FlowDefinitionError, FlowNotFound

SUFFIX = ".asl.json"
TASK_RESOURCE = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
"""The one Task resource flows use: send a task request to SQS and wait for its token to be answered."""

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9_]*)\}")
_FLOW_NAME = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
_STATE_TYPES = frozenset({"Task", "Pass", "Choice", "Wait", "Succeed", "Fail"})
_WAIT_FIELDS = ("Seconds", "SecondsPath", "Timestamp", "TimestampPath")
_UNSUPPORTED_FIELDS = ("Assign", "Arguments", "Output", "QueryLanguage", "HeartbeatSeconds", "HeartbeatSecondsPath")


def default_flows_dir() -> Path:
    """``infra/flows`` of the repository this package is installed from, else of the working directory."""
    here = Path(__file__).resolve().parents  # .../packages/flows/src/sentinel_flows/definitions.py
    roots = ([here[4]] if len(here) > 4 else []) + [Path.cwd()]
    for root in roots:
        candidate = root / "infra" / "flows"
        if candidate.is_dir():
            return candidate
    raise FlowNotFound(
        "no infra/flows directory found: set SENTINEL_FLOWS_FLOWS_DIR to the directory of the *.asl.json files"
    )


@dataclass(frozen=True)
class FlowDefinition:
    """A parsed flow the local runner can execute (every state checked when it is loaded)."""

    name: str
    document: dict[str, Any]
    handlers: frozenset[str]
    """The logical task handlers its Task states name."""

    @property
    def start_at(self) -> str:
        return str(self.document["StartAt"])

    @property
    def states(self) -> dict[str, dict[str, Any]]:
        states: dict[str, dict[str, Any]] = self.document["States"]
        return states

    @property
    def timeout_seconds(self) -> float | None:
        value = self.document.get("TimeoutSeconds")
        return None if value is None else float(value)


class FlowCatalog:
    """The flow files of one directory."""

    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = Path(directory) if directory else default_flows_dir()

    def names(self) -> list[str]:
        """Every flow's name, sorted."""
        return sorted(path.name[: -len(SUFFIX)] for path in self.directory.glob(f"*{SUFFIX}"))

    def text(self, name: str, substitutions: Mapping[str, str] | None = None) -> str:
        """The flow's definition text with its ``${...}`` placeholders filled."""
        if not _FLOW_NAME.match(name):
            raise FlowNotFound(f"flow name {name!r} must be lowercase letters, digits and '-'")
        path = self.directory / f"{name}{SUFFIX}"
        if not path.is_file():
            raise FlowNotFound(f"no flow named {name!r} (looked for {path}); known flows: {', '.join(self.names())}")
        values = dict(substitutions or {})

        def fill(match: re.Match[str]) -> str:
            key = match.group(1)
            if key not in values:
                raise FlowDefinitionError(f"flow {name!r} needs a value for ${{{key}}}")
            return json.dumps(values[key])[1:-1]

        return _PLACEHOLDER.sub(fill, path.read_text(encoding="utf-8"))

    def load(self, name: str, substitutions: Mapping[str, str] | None = None) -> FlowDefinition:
        """Parse and check the flow for the local runner; raise ``FlowDefinitionError`` on what it cannot run."""
        try:
            document = json.loads(self.text(name, substitutions))
        except json.JSONDecodeError as exc:
            raise FlowDefinitionError(f"flow {name!r} is not valid JSON: {exc}") from None
        return parse_definition(name, document)


def parse_definition(name: str, document: Any) -> FlowDefinition:
    """Check a decoded flow document and return it as a ``FlowDefinition``."""
    if not isinstance(document, dict) or not isinstance(document.get("States"), dict) or not document["States"]:
        raise FlowDefinitionError(f"flow {name!r} needs a non-empty States object")
    states: dict[str, Any] = document["States"]
    if document.get("StartAt") not in states:
        raise FlowDefinitionError(f"flow {name!r}: StartAt {document.get('StartAt')!r} is not one of its states")
    if document.get("QueryLanguage", "JSONPath") != "JSONPath":
        raise FlowDefinitionError(f"flow {name!r}: only the JSONPath query language is supported")
    handlers: set[str] = set()
    for state_name, state in states.items():
        try:
            _check_state(state, states, handlers)
        except (ValueError, TypeError, KeyError) as exc:  # UnsupportedPath is a ValueError
            raise FlowDefinitionError(f"flow {name!r}, state {state_name!r}: {exc}") from None
    return FlowDefinition(name=name, document=document, handlers=frozenset(handlers))


def _check_state(state: Any, states: dict[str, Any], handlers: set[str]) -> None:
    if not isinstance(state, dict):
        raise TypeError("a state must be an object")
    kind = state.get("Type")
    if kind not in _STATE_TYPES:
        raise ValueError(f"state type {kind!r} is not supported (supported: {', '.join(sorted(_STATE_TYPES))})")
    for field in _UNSUPPORTED_FIELDS:
        if field in state:
            raise ValueError(f"{field} is not supported")
    for field in ("InputPath", "OutputPath"):
        if isinstance(state.get(field), str):
            _payload.check_path(state[field])
    if isinstance(state.get("ResultPath"), str):
        _payload.check_path(state["ResultPath"], context=False)
    for field in ("Parameters", "ResultSelector"):
        _payload.check_template(state.get(field))
    if kind in ("Task", "Pass", "Wait"):
        if ("Next" in state) == bool(state.get("End")):
            raise ValueError("needs either Next or End: true")
        _check_target(state.get("Next"), states)
    if kind == "Task":
        _check_task(state, states, handlers)
    elif kind == "Choice":
        if not isinstance(state.get("Choices"), list) or not state["Choices"]:
            raise ValueError("Choices must be a non-empty list")
        for rule in state["Choices"]:
            _choice.check_rule(rule)
            _check_target(rule["Next"], states)
        _check_target(state.get("Default"), states)
    elif kind == "Wait":
        given = [field for field in _WAIT_FIELDS if field in state]
        if len(given) != 1:
            raise ValueError(f"needs exactly one of {', '.join(_WAIT_FIELDS)}")
        if given[0].endswith("Path"):
            _payload.check_path(state[given[0]])


def _check_task(state: dict[str, Any], states: dict[str, Any], handlers: set[str]) -> None:
    if state.get("Resource") != TASK_RESOURCE:
        raise ValueError(f"Resource must be {TASK_RESOURCE!r} (a task request to a logical handler)")
    body = (state.get("Parameters") or {}).get("MessageBody")
    if not isinstance(body, dict) or not isinstance(body.get("handler"), str):
        raise ValueError('Parameters.MessageBody must be an object with a literal "handler" name')
    if body.get("token.$") != "$$.Task.Token":
        raise ValueError('Parameters.MessageBody needs "token.$": "$$.Task.Token"')
    handlers.add(body["handler"])
    timeout = state.get("TimeoutSeconds", 1)
    if not isinstance(timeout, int) or timeout < 1:
        raise ValueError("TimeoutSeconds must be a positive integer")
    for retrier in state.get("Retry", []):
        _check_error_equals(retrier)
    for catcher in state.get("Catch", []):
        _check_error_equals(catcher)
        _check_target(catcher.get("Next"), states)
        if isinstance(catcher.get("ResultPath"), str):
            _payload.check_path(catcher["ResultPath"], context=False)


def _check_error_equals(rule: Any) -> None:
    names = rule.get("ErrorEquals") if isinstance(rule, dict) else None
    if not isinstance(names, list) or not names or not all(isinstance(item, str) for item in names):
        raise ValueError(f"Retry/Catch entries need a non-empty ErrorEquals list of names: {rule!r}")


def _check_target(target: Any, states: dict[str, Any]) -> None:
    if target is not None and target not in states:
        raise ValueError(f"transition to unknown state {target!r}")
