"""The JSONPath subset the local runner evaluates: ``$``, ``.name``, ``['name']`` and ``[index]`` steps.

That is the Amazon States Language's *reference path* (what ResultPath allows) plus array indexes, which covers
InputPath, OutputPath, ``.$`` fields, Choice variables and Wait paths in Sentinel's flows. Wildcards, recursive
descent, filters and slices raise ``UnsupportedPath`` when a flow is loaded, not when it runs.
"""

from __future__ import annotations

import functools
import re
from typing import Any

Step = str | int

_MISSING: Any = object()

_STEP = re.compile(
    r"""\.(?P<name>[^.\[\]\s'"*]+)"""
    r"""|\[\s*'(?P<single>(?:[^'\\]|\\.)*)'\s*\]"""
    r"""|\[\s*"(?P<double>(?:[^"\\]|\\.)*)"\s*\]"""
    r"""|\[\s*(?P<index>-?\d+)\s*\]"""
)


class UnsupportedPath(ValueError):
    """The path uses JSONPath syntax beyond the supported subset (or is not a path at all)."""


class PathNotFound(LookupError):
    """The path selects nothing in the document."""

    def __init__(self, path: str, document: Any) -> None:
        super().__init__(f"Invalid path {path!r}: no value at that path in {_preview(document)}")
        self.path = path


class PathConflict(ValueError):
    """A ResultPath goes through a value that is not an object."""


def _preview(document: Any) -> str:
    text = repr(document)
    return text if len(text) <= 200 else text[:197] + "..."


@functools.lru_cache(maxsize=1024)
def parse(path: str) -> tuple[Step, ...]:
    """Split ``path`` into keys (str) and indexes (int); raise ``UnsupportedPath`` beyond the subset."""
    if not path.startswith("$") or path.startswith("$$"):
        raise UnsupportedPath(f"{path!r} is not a JSONPath starting with '$'")
    steps: list[Step] = []
    position = 1
    while position < len(path):
        match = _STEP.match(path, position)
        if match is None:
            raise UnsupportedPath(
                f"{path!r}: only '.name', \"['name']\" and '[index]' steps are supported (at {path[position:]!r})"
            )
        if match.group("index") is not None:
            steps.append(int(match.group("index")))
        else:
            quoted = match.group("single") if match.group("single") is not None else match.group("double")
            name = match.group("name") if quoted is None else re.sub(r"\\(.)", r"\1", quoted)
            steps.append(name)
        position = match.end()
    return tuple(steps)


def _step_into(value: Any, step: Step) -> tuple[bool, Any]:
    if isinstance(step, int):
        if isinstance(value, list) and -len(value) <= step < len(value):
            return True, value[step]
        return False, None
    if isinstance(value, dict) and step in value:
        return True, value[step]
    return False, None


def get(document: Any, path: str) -> Any:
    """The value ``path`` selects in ``document``; raise ``PathNotFound`` when there is none."""
    value = document
    for step in parse(path):
        found, value = _step_into(value, step)
        if not found:
            raise PathNotFound(path, document)
    return value


def exists(document: Any, path: str) -> bool:
    """Whether ``path`` selects a value (possibly null) in ``document``."""
    try:
        get(document, path)
    except PathNotFound:
        return False
    return True


def put(document: Any, path: str, value: Any) -> Any:
    """A copy of ``document`` with ``value`` at ``path`` (ResultPath semantics); ``document`` is not changed.

    Missing objects along the path are created. Only names are allowed (an index raises ``UnsupportedPath``), and
    a step through something that is not an object raises ``PathConflict``.
    """
    steps = parse(path)
    if any(isinstance(step, int) for step in steps):
        raise UnsupportedPath(f"{path!r}: a ResultPath cannot contain array indexes")
    return _put(document, steps, value, path)


def _put(node: Any, steps: tuple[Step, ...], value: Any, path: str) -> Any:
    if not steps:
        return value
    if node is _MISSING:
        node = {}
    if not isinstance(node, dict):
        raise PathConflict(f"ResultPath {path!r} goes through a {type(node).__name__}, not an object")
    key = steps[0]
    assert isinstance(key, str)
    copied = dict(node)
    copied[key] = _put(node.get(key, _MISSING), steps[1:], value, path)
    return copied
