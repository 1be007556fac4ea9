"""The Tinybird project files: pipes read known datasources; template parameters map to server-side ones."""

from __future__ import annotations

import re

from sentinel_analytics import default_migrations_dir
from sentinel_analytics.tinybird import to_clickhouse

TINYBIRD = default_migrations_dir().parent / "tinybird"


def test_every_pipe_reads_only_known_datasources() -> None:
    known = {p.stem for p in (TINYBIRD / "datasources").glob("*.datasource")}
    for pipe in (TINYBIRD / "pipes").glob("*.pipe"):
        text = pipe.read_text()
        # A name the pipe defines itself (``WITH page AS (...)``) is a subquery, not a datasource.
        defined = set(re.findall(r"\b(?:WITH|,)\s*(\w+) AS \(", text))
        for table in re.findall(r"\bFROM (\w+)", text):
            assert table in known or table in defined, f"{pipe.name} reads {table}"
            assert table not in known or table not in defined, f"{pipe.name} shadows datasource {table}"
        target = re.search(r"^DATASOURCE (\w+)", text, re.M)
        assert target is None or target[1] in known


def test_template_parameters_become_server_side_parameters() -> None:
    sql = "%\nSELECT 1 WHERE p = {{ String(project_id, required=True) }} AND t >= {{DateTime64(start)}}"
    assert to_clickhouse(sql) == "SELECT 1 WHERE p = {project_id:String} AND t >= {start:DateTime64(3)}"
