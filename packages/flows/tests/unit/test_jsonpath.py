from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentinel_flows import _jsonpath
from sentinel_flows._jsonpath import PathConflict, PathNotFound, UnsupportedPath

DOCUMENT = {"a": {"b": [10, {"c": "deep"}], "dotted.key": 1, "quote'd": 2}, "n": None}

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=6)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=8,
)


class TestGet:
    @pytest.mark.parametrize(
        ("path", "expected"),
        [
            ("$", DOCUMENT),
            ("$.a.b[0]", 10),
            ("$.a.b[1].c", "deep"),
            ("$.a.b[-1].c", "deep"),
            ("$['a']['dotted.key']", 1),
            ('$["a"]["quote\'d"]', 2),
            ("$.a['quote\\'d']", 2),
            ("$.n", None),
        ],
    )
    def test_selects_the_value(self, path: str, expected: Any) -> None:
        assert _jsonpath.get(DOCUMENT, path) == expected

    @pytest.mark.parametrize("path", ["$.missing", "$.a.b[2]", "$.a.b.c", "$.n.x", "$.a.b[-3]"])
    def test_missing_value_raises_and_does_not_exist(self, path: str) -> None:
        with pytest.raises(PathNotFound, match="Invalid path"):
            _jsonpath.get(DOCUMENT, path)
        assert not _jsonpath.exists(DOCUMENT, path)

    def test_null_value_exists(self) -> None:
        assert _jsonpath.exists(DOCUMENT, "$.n")

    @pytest.mark.parametrize("path", ["a.b", "$..a", "$.a[*]", "$.a[0:2]", "$.a[?(@.b)]", "$.*", "$$.Task", "$a"])
    def test_syntax_beyond_the_subset_is_rejected(self, path: str) -> None:
        with pytest.raises(UnsupportedPath):
            _jsonpath.parse(path)


class TestPut:
    def test_dollar_replaces_the_document(self) -> None:
        assert _jsonpath.put({"x": 1}, "$", [1, 2]) == [1, 2]

    def test_creates_missing_objects(self) -> None:
        assert _jsonpath.put({"x": 1}, "$.a.b", 2) == {"x": 1, "a": {"b": 2}}

    def test_overwrites_an_existing_key(self) -> None:
        assert _jsonpath.put({"a": {"b": 1, "c": 3}}, "$.a.b", 9) == {"a": {"b": 9, "c": 3}}

    @pytest.mark.parametrize("document", [{"a": 5}, {"a": [1]}, {"a": None}, "text"])
    def test_through_a_non_object_is_a_conflict(self, document: Any) -> None:
        with pytest.raises(PathConflict):
            _jsonpath.put(document, "$.a.b", 1)

    def test_array_index_is_not_a_result_path(self) -> None:
        with pytest.raises(UnsupportedPath):
            _jsonpath.put({"a": [1]}, "$.a[0]", 2)

    @given(document=st.dictionaries(names, json_values, max_size=4), keys=st.lists(names, min_size=1, max_size=3))
    def test_put_then_get_returns_the_value_and_leaves_the_original_alone(
        self, document: dict[str, Any], keys: list[str]
    ) -> None:
        path = "$." + ".".join(keys)
        before = copy.deepcopy(document)
        try:
            updated = _jsonpath.put(document, path, {"marker": True})
        except PathConflict:
            return  # a prefix of the path is a scalar or a list in this document
        assert _jsonpath.get(updated, path) == {"marker": True}
        assert document == before

    @given(document=st.dictionaries(names, json_values, max_size=4), key=names)
    def test_put_only_changes_the_target_key(self, document: dict[str, Any], key: str) -> None:
        updated = _jsonpath.put(document, f"$.{key}", "new")
        assert {k: v for k, v in updated.items() if k != key} == {k: v for k, v in document.items() if k != key}
