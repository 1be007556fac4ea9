from __future__ import annotations

import pytest

from sentinel_storage import InvalidKey, check_key, check_prefix, is_valid_key, join_key


class TestKeys:
    @pytest.mark.parametrize(
        "key",
        [
            "a",
            "tenants/t1/projects/p1/scripts/report.py",
            "bronze/project=p1/date=2026-01-01/hour=03/p000-tok.ndjson.gz",
            "name with spaces/ünïcode.txt",
            "a/b..c/d",
        ],
    )
    def test_valid_keys_pass(self, key: str) -> None:
        assert check_key(key) == key
        assert is_valid_key(key)

    @pytest.mark.parametrize(
        ("key", "problem"),
        [
            ("", "empty"),
            ("/etc/passwd", "relative"),
            ("a/../b", "'..'"),
            ("..", "'..'"),
            ("a/./b", "'.'"),
            ("a/.hidden", "start with '.'"),
            ("a\\b", "backslash"),
            ("a\x00b", "control"),
            ("a\nb", "control"),
            ("a\x7fb", "control"),
            ("a//b", "empty segments"),
            ("a/b/", "empty segments"),
            ("x" * 1025, "1024 bytes"),
            ("\udc80", "UTF-8"),
        ],
    )
    def test_invalid_keys_name_their_problem(self, key: str, problem: str) -> None:
        with pytest.raises(InvalidKey) as caught:
            check_key(key)
        assert problem in caught.value.problem
        assert not is_valid_key(key)

    def test_prefix_may_be_empty_or_end_with_a_slash(self) -> None:
        assert check_prefix("") == ""
        assert check_prefix("tenants/t1/") == "tenants/t1/"
        with pytest.raises(InvalidKey):
            check_prefix("../")
        with pytest.raises(InvalidKey):
            check_prefix("/abs/")

    def test_join_key_checks_the_result(self) -> None:
        assert join_key("tenants", "t1/", "/scripts", "a.py") == "tenants/t1/scripts/a.py"
        with pytest.raises(InvalidKey):
            join_key("tenants", "..", "a.py")
