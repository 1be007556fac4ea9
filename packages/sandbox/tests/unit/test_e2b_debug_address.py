"""Facts about the E2B SDK's debug mode that the runner and the local /execute server rely on."""

from __future__ import annotations

import json

from e2b_code_interpreter import AsyncSandbox

from sentinel_sandbox.e2b_runner import OUTCOME_MARKER, cell_source, parse_outcome
from sentinel_sandbox.testing import DEFAULT_PORT


class TestDebugMode:
    async def test_debug_sandbox_posts_to_localhost_49999_without_calling_e2b(self) -> None:
        sandbox = await AsyncSandbox.create(debug=True)

        assert sandbox._jupyter_url == f"http://localhost:{DEFAULT_PORT}"
        assert DEFAULT_PORT == 49999

    async def test_sandbox_url_overrides_the_debug_address(self) -> None:
        sandbox = await AsyncSandbox.create(debug=True, sandbox_url="http://127.0.0.1:5")

        assert sandbox._jupyter_url == "http://127.0.0.1:5"


class TestCell:
    def test_cell_is_valid_python_that_reads_env_values_by_name(self) -> None:
        request = {"source": "print(1)", "env": ["SENTINEL_JOB_SECRET"], "files": {}, "limits": {}}

        code = cell_source(request)

        compile(code, "<cell>", "exec")
        assert "SENTINEL_JOB_SECRET" in code
        assert code.rstrip().endswith(f"_sentinel_main(__import__('json').loads({json.dumps(request)!r}))")

    def test_outcome_is_found_in_chunked_stdout(self) -> None:
        line = OUTCOME_MARKER + json.dumps({"exit_code": 0, "stdout": "a\nb"})

        assert parse_outcome(["noise\n", line[:10], line[10:], "\n"]) == {"exit_code": 0, "stdout": "a\nb"}
        assert parse_outcome(["no outcome\n"]) is None
