"""Choice rules: And / Or / Not and every JSONPath comparison operator of the States Language.

A comparison against a value of another type is false (``NumericGreaterThan`` on a string), as on Step Functions.
A ``Variable`` that selects nothing is a ``States.Runtime`` error, except for ``IsPresent``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sentinel_flows._errors import FlowRuntimeError
from sentinel_flows._payload import check_path, select

_Compare = Callable[[Any, Any], bool]

_ORDER: dict[str, _Compare] = {
    "Equals": operator.eq,
    "LessThan": operator.lt,
    "GreaterThan": operator.gt,
    "LessThanEquals": operator.le,
    "GreaterThanEquals": operator.ge,
}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_timestamp(value: Any) -> datetime | None:
    """``value`` as an aware datetime if it is an RFC 3339 timestamp with a 'T' and an offset, else None."""
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _typed(convert: Callable[[Any], Any], compare: _Compare) -> _Compare:
    def run(left: Any, right: Any) -> bool:
        a, b = convert(left), convert(right)
        return a is not None and b is not None and compare(a, b)

    return run


def _as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _as_number(value: Any) -> int | float | None:
    return value if _is_number(value) else None


def _string_matches(value: Any, pattern: Any) -> bool:
    if not isinstance(value, str) or not isinstance(pattern, str):
        return False
    # '*' matches any run of characters; '\*' and '\\' are literal.
    parts = re.split(r"(\\\\|\\\*|\*)", pattern)
    regex = "".join(
        ".*" if part == "*" else re.escape(part[1]) if part in ("\\*", "\\\\") else re.escape(part) for part in parts
    )
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


_COMPARISONS: dict[str, _Compare] = {"StringMatches": _string_matches}
for _suffix, _compare in _ORDER.items():
    _COMPARISONS[f"String{_suffix}"] = _typed(_as_str, _compare)
    _COMPARISONS[f"Numeric{_suffix}"] = _typed(_as_number, _compare)
    _COMPARISONS[f"Timestamp{_suffix}"] = _typed(parse_timestamp, _compare)
_COMPARISONS["BooleanEquals"] = lambda left, right: isinstance(left, bool) and left is right

_TESTS: dict[str, Callable[[Any], bool]] = {
    "IsNull": lambda value: value is None,
    "IsString": lambda value: isinstance(value, str),
    "IsNumeric": _is_number,
    "IsBoolean": lambda value: isinstance(value, bool),
    "IsTimestamp": lambda value: parse_timestamp(value) is not None,
}

OPERATORS = frozenset(
    [*_COMPARISONS, *(f"{name}Path" for name in _COMPARISONS if name != "StringMatches"), *_TESTS, "IsPresent"]
)
"""Every comparison operator the local runner evaluates."""


def _operator_of(rule: dict[str, Any]) -> str:
    found = [key for key in rule if key in OPERATORS]
    if len(found) != 1:
        raise ValueError(f"a choice rule needs exactly one comparison operator, found {found or 'none'} in {rule}")
    return found[0]


def check_rule(rule: Any, *, top_level: bool = True) -> None:
    """Raise ``ValueError`` (or ``UnsupportedPath``) if ``rule`` is not a rule the local runner can evaluate."""
    if not isinstance(rule, dict):
        raise ValueError(f"a choice rule must be an object, got {rule!r}")
    if top_level and not isinstance(rule.get("Next"), str):
        raise ValueError(f"a top-level choice rule needs a Next state: {rule}")
    if "And" in rule or "Or" in rule:
        nested = rule.get("And", rule.get("Or"))
        if not isinstance(nested, list) or not nested:
            raise ValueError(f"And/Or need a non-empty list of rules: {rule}")
        for item in nested:
            check_rule(item, top_level=False)
        return
    if "Not" in rule:
        check_rule(rule["Not"], top_level=False)
        return
    if not isinstance(rule.get("Variable"), str):
        raise ValueError(f"a comparison needs a Variable path: {rule}")
    check_path(rule["Variable"])
    name = _operator_of(rule)
    if name.endswith("Path"):
        check_path(rule[name])


def evaluate(rule: dict[str, Any], data: Any, context: dict[str, Any]) -> bool:
    """Evaluate one choice rule (``And``/``Or`` stop at the first deciding operand)."""
    if "And" in rule:
        return all(evaluate(item, data, context) for item in rule["And"])
    if "Or" in rule:
        return any(evaluate(item, data, context) for item in rule["Or"])
    if "Not" in rule:
        return not evaluate(rule["Not"], data, context)
    name = _operator_of(rule)
    variable: str = rule["Variable"]
    if name == "IsPresent":
        present = _present(variable, data, context)
        return present is bool(rule[name])
    value = select(variable, data, context)
    if name in _TESTS:
        return _TESTS[name](value) is bool(rule[name])
    if name.endswith("Path"):
        return _COMPARISONS[name[: -len("Path")]](value, select(rule[name], data, context))
    return _COMPARISONS[name](value, rule[name])


def _present(variable: str, data: Any, context: dict[str, Any]) -> bool:
    try:
        select(variable, data, context)
    except FlowRuntimeError:
        return False
    return True
