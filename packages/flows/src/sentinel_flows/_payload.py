"""Input and output processing: InputPath, Parameters / ResultSelector templates, ResultPath, OutputPath."""

from __future__ import annotations

from typing import Any

from sentinel_flows import _jsonpath
from sentinel_flows._errors import RESULT_PATH_MATCH_FAILURE, FlowRuntimeError, StatesError


def check_path(path: str, *, context: bool = True) -> None:
    """Raise ``UnsupportedPath`` unless ``path`` is a supported path (``$$...`` too when ``context``)."""
    if context and path.startswith("$$"):
        _jsonpath.parse(path[1:])
    else:
        _jsonpath.parse(path)


def check_template(template: Any) -> None:
    """Raise ``UnsupportedPath`` if a ``.$`` field of a Parameters/ResultSelector template is not a path."""
    if isinstance(template, dict):
        for key, value in template.items():
            if key.endswith(".$"):
                if not isinstance(value, str):
                    raise _jsonpath.UnsupportedPath(f"field {key!r} must be a path string")
                if value.startswith("States."):
                    raise _jsonpath.UnsupportedPath(f"field {key!r}: intrinsic functions are not supported ({value})")
                check_path(value)
            else:
                check_template(value)
    elif isinstance(template, list):
        for item in template:
            check_template(item)


def select(path: str, data: Any, context: dict[str, Any]) -> Any:
    """The value at ``path`` in ``data`` (or in the context object for ``$$...``); ``States.Runtime`` if none."""
    try:
        if path.startswith("$$"):
            return _jsonpath.get(context, path[1:])
        return _jsonpath.get(data, path)
    except _jsonpath.PathNotFound as exc:
        raise FlowRuntimeError(str(exc)) from None


def resolve(template: Any, data: Any, context: dict[str, Any]) -> Any:
    """Evaluate a Parameters/ResultSelector template: ``"key.$": path`` fields take the selected value."""
    if isinstance(template, dict):
        resolved: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                resolved[key[:-2]] = select(value, data, context)
            else:
                resolved[key] = resolve(value, data, context)
        return resolved
    if isinstance(template, list):
        return [resolve(item, data, context) for item in template]
    return template


def input_path(state: dict[str, Any], raw: Any, context: dict[str, Any]) -> Any:
    """Apply the state's InputPath (``null`` gives ``{}``)."""
    if "InputPath" not in state:
        return raw
    path = state["InputPath"]
    return {} if path is None else select(path, raw, context)


def output_path(state: dict[str, Any], data: Any, context: dict[str, Any]) -> Any:
    """Apply the state's OutputPath (``null`` gives ``{}``)."""
    if "OutputPath" not in state:
        return data
    path = state["OutputPath"]
    return {} if path is None else select(path, data, context)


def result_path(path: str | None, raw: Any, result: Any) -> Any:
    """Place ``result`` into the state's raw input at ``path`` (``null`` keeps the input, ``$`` replaces it)."""
    if path is None:
        return raw
    try:
        return _jsonpath.put(raw, path, result)
    except _jsonpath.PathConflict as exc:
        raise StatesError(RESULT_PATH_MATCH_FAILURE, str(exc)) from None
