"""Migration files: naming and statement splitting."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel_analytics import MigrationError, load_migrations


def test_a_badly_named_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "1_Bad Name.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=r"NNNN_lowercase_name\.sql"):
        load_migrations(tmp_path)


def test_statements_split_on_line_ending_semicolons_and_skip_comments(tmp_path: Path) -> None:
    (tmp_path / "0001_x.sql").write_text("-- header; not a statement\nSELECT 'a;b';\n\n-- trailing comment\n")
    [migration] = load_migrations(tmp_path)
    assert migration.statements() == ["-- header; not a statement\nSELECT 'a;b'"]
