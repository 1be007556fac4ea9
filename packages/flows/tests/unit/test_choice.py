from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentinel_flows._choice import OPERATORS, check_rule, evaluate
from sentinel_flows._errors import RUNTIME, FlowRuntimeError

CONTEXT: dict[str, Any] = {"Execution": {"Name": "job-7"}}
DATA: dict[str, Any] = {
    "rows": 42,
    "ratio": 0.5,
    "name": "checkout",
    "flag": True,
    "nothing": None,
    "when": "2026-01-02T03:04:05Z",
    "limit": 40,
    "items": [1, 2],
}

numbers = st.integers(-1000, 1000) | st.floats(-1e6, 1e6, allow_nan=False)


def rule(variable: str, operator: str, value: Any) -> dict[str, Any]:
    return {"Variable": variable, operator: value}


class TestComparisons:
    @pytest.mark.parametrize(
        ("condition", "expected"),
        [
            (rule("$.rows", "NumericGreaterThan", 0), True),
            (rule("$.rows", "NumericEquals", 42), True),
            (rule("$.ratio", "NumericLessThanEquals", 0.5), True),
            (rule("$.rows", "NumericGreaterThanPath", "$.limit"), True),
            (rule("$.name", "StringEquals", "checkout"), True),
            (rule("$.name", "StringLessThan", "d"), True),
            (rule("$.name", "StringMatches", "check*"), True),
            (rule("$.name", "StringMatches", "*out"), True),
            (rule("$.name", "StringMatches", "c*k*t"), True),
            (rule("$.name", "StringMatches", "cart*"), False),
            (rule("$.flag", "BooleanEquals", True), True),
            (rule("$.when", "TimestampGreaterThan", "2026-01-01T00:00:00Z"), True),
            (rule("$.when", "TimestampEquals", "2026-01-02T04:04:05+01:00"), True),
            (rule("$.nothing", "IsNull", True), True),
            (rule("$.rows", "IsNumeric", True), True),
            (rule("$.flag", "IsNumeric", True), False),
            (rule("$.name", "IsString", True), True),
            (rule("$.flag", "IsBoolean", True), True),
            (rule("$.when", "IsTimestamp", True), True),
            (rule("$.name", "IsTimestamp", False), True),
            (rule("$.rows", "IsPresent", True), True),
            (rule("$.absent", "IsPresent", False), True),
            (rule("$.nothing", "IsPresent", True), True),
            (rule("$$.Execution.Name", "StringEquals", "job-7"), True),
        ],
    )
    def test_operator(self, condition: dict[str, Any], expected: bool) -> None:
        assert evaluate(condition, DATA, CONTEXT) is expected

    @pytest.mark.parametrize(
        "condition",
        [
            rule("$.name", "NumericGreaterThan", 0),
            rule("$.rows", "StringEquals", "42"),
            rule("$.flag", "NumericEquals", 1),
            rule("$.rows", "BooleanEquals", True),
            rule("$.name", "TimestampLessThan", "2030-01-01T00:00:00Z"),
            rule("$.items", "NumericEquals", 2),
        ],
    )
    def test_comparison_with_another_type_is_false(self, condition: dict[str, Any]) -> None:
        assert evaluate(condition, DATA, CONTEXT) is False

    @pytest.mark.parametrize(
        ("pattern", "value", "expected"),
        [("a\\*b", "a*b", True), ("a\\*b", "axb", False), ("*", "", True), ("a\\\\*", "a\\zz", True)],
    )
    def test_string_matches_escapes(self, pattern: str, value: str, expected: bool) -> None:
        assert evaluate(rule("$.v", "StringMatches", pattern), {"v": value}, CONTEXT) is expected

    @pytest.mark.parametrize("operator", ["NumericEquals", "IsNull", "StringMatches", "IsString"])
    def test_missing_variable_is_a_runtime_error(self, operator: str) -> None:
        with pytest.raises(FlowRuntimeError) as raised:
            evaluate(rule("$.absent", operator, 1 if operator.startswith("Numeric") else True), DATA, CONTEXT)
        assert raised.value.error == RUNTIME

    @given(left=numbers, right=numbers)
    def test_numeric_operators_agree_with_python(self, left: float, right: float) -> None:
        data = {"x": left}
        assert evaluate(rule("$.x", "NumericEquals", right), data, CONTEXT) is (left == right)
        assert evaluate(rule("$.x", "NumericLessThan", right), data, CONTEXT) is (left < right)
        assert evaluate(rule("$.x", "NumericGreaterThanEquals", right), data, CONTEXT) is (left >= right)

    @given(left=st.text(max_size=5), right=st.text(max_size=5))
    def test_string_operators_agree_with_python(self, left: str, right: str) -> None:
        data = {"x": left, "y": right}
        assert evaluate(rule("$.x", "StringLessThanPath", "$.y"), data, CONTEXT) is (left < right)
        assert evaluate(rule("$.x", "StringEquals", right), data, CONTEXT) is (left == right)


class TestCombinators:
    @given(a=st.booleans(), b=st.booleans())
    def test_and_or_not_follow_boolean_logic(self, a: bool, b: bool) -> None:
        data = {"a": a, "b": b}
        left, right = rule("$.a", "BooleanEquals", True), rule("$.b", "BooleanEquals", True)
        assert evaluate({"And": [left, right]}, data, CONTEXT) is (a and b)
        assert evaluate({"Or": [left, right]}, data, CONTEXT) is (a or b)
        assert evaluate({"Not": left}, data, CONTEXT) is (not a)

    def test_and_stops_at_the_first_false_operand(self) -> None:
        guarded = {"And": [rule("$.absent", "IsPresent", True), rule("$.absent", "NumericGreaterThan", 0)]}
        assert evaluate(guarded, DATA, CONTEXT) is False


class TestCheckRule:
    def test_every_operator_is_known(self) -> None:
        assert {"StringEqualsPath", "NumericLessThanEqualsPath", "TimestampGreaterThanPath", "IsPresent"} <= OPERATORS
        assert "StringMatchesPath" not in OPERATORS

    @pytest.mark.parametrize(
        "bad",
        [
            {"Variable": "$.x", "Next": "A"},
            {"Variable": "$.x", "NumericEquals": 1, "StringEquals": "a", "Next": "A"},
            {"Variable": "$..x", "NumericEquals": 1, "Next": "A"},
            {"Variable": "$.x", "NumericEqualsPath": "$.y[*]", "Next": "A"},
            {"Variable": "$.x", "NumericEquals": 1},
            {"And": [], "Next": "A"},
            "not a rule",
        ],
    )
    def test_rejects_rules_it_cannot_evaluate(self, bad: Any) -> None:
        with pytest.raises(ValueError, match=r"."):
            check_rule(bad)

    def test_accepts_and_evaluates_nested_rules(self) -> None:
        nested = {"Not": {"Or": [rule("$.rows", "IsPresent", False), rule("$.nothing", "IsNull", False)]}, "Next": "A"}
        check_rule(nested)
        assert evaluate(nested, DATA, CONTEXT) is True
