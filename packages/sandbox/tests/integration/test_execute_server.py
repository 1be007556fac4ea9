"""The local /execute server speaks what the real e2b-code-interpreter SDK expects in debug mode."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from e2b import SandboxException, TimeoutException
from e2b_code_interpreter import AsyncSandbox

from sentinel_sandbox.testing import ExecuteServer


async def _sandbox(server: ExecuteServer) -> AsyncSandbox:
    return await AsyncSandbox.create(debug=True, sandbox_url=server.url)


class TestExecuteProtocol:
    async def test_streams_stdout_stderr_and_the_last_expression_as_main_result(
        self, execute_server: ExecuteServer
    ) -> None:
        sandbox = await _sandbox(execute_server)
        seen: list[str] = []

        execution = await sandbox.run_code(
            "import sys\nprint('to stdout')\nprint('to stderr', file=sys.stderr)\n{'rows': 3}",
            on_stdout=lambda message: seen.append(message.line),
        )

        assert "".join(execution.logs.stdout) == "to stdout\n"
        assert "".join(execution.logs.stderr) == "to stderr\n"
        assert "".join(seen) == "to stdout\n"
        assert execution.error is None
        assert [(result.text, result.is_main_result) for result in execution.results] == [("{'rows': 3}", True)]
        assert execution.text == "{'rows': 3}"

    async def test_rich_result_formats_and_execution_count(self, execute_server: ExecuteServer) -> None:
        sandbox = await _sandbox(execute_server)
        code = "class Table:\n    def _repr_json_(self):\n        return {'p95': 41.5}\n    def _repr_html_(self):\n"
        code += "        return '<b>41.5</b>'\nTable()"

        first = await sandbox.run_code(code)
        second = await sandbox.run_code("'plain'")

        assert (first.results[0].json, first.results[0].html) == ({"p95": 41.5}, "<b>41.5</b>")
        assert second.text == "plain"
        assert first.execution_count is not None
        assert second.execution_count == first.execution_count + 1

    async def test_exception_is_an_error_with_name_value_and_traceback(self, execute_server: ExecuteServer) -> None:
        sandbox = await _sandbox(execute_server)

        execution = await sandbox.run_code("def load():\n    raise KeyError('window')\n\nload()\n")

        assert execution.error is not None
        assert (execution.error.name, execution.error.value) == ("KeyError", "'window'")
        assert 'File "<cell>", line 2, in load' in execution.error.traceback
        assert "_kernel.py" not in execution.error.traceback
        assert execution.results == []

    async def test_env_vars_reach_the_code_and_the_host_environment_does_not(
        self, execute_server: ExecuteServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("HOST_ONLY_SECRET", "do-not-leak")
        sandbox = await _sandbox(execute_server)

        execution = await sandbox.run_code("import os\nsorted(os.environ.items())", envs={"JOB": "j-1"})

        assert "('JOB', 'j-1')" in execution.text
        assert "HOST_ONLY_SECRET" not in execution.text
        assert execute_server.requests[-1]["env_vars"] == {"JOB": "j-1"}

    async def test_process_killed_by_a_signal_is_reported_as_an_error(self, execute_server: ExecuteServer) -> None:
        sandbox = await _sandbox(execute_server)

        execution = await sandbox.run_code("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")

        assert execution.error is not None
        assert execution.error.name == "KernelDied"
        assert "-9" in execution.error.value

    async def test_unsupported_language_is_refused(self, execute_server: ExecuteServer) -> None:
        sandbox = await _sandbox(execute_server)

        with pytest.raises(SandboxException, match="400"):
            await sandbox.run_code("console.log(1)", language="javascript")

    async def test_client_timeout_kills_the_code_and_its_children(
        self, execute_server: ExecuteServer, tmp_path: Path, gone: Callable[[int], bool]
    ) -> None:
        sandbox = await _sandbox(execute_server)
        pid_file = tmp_path / "child"
        code = "import subprocess, time\nchild = subprocess.Popen(['sleep', '600'])\n"
        code += f"open({str(pid_file)!r}, 'w').write(str(child.pid))\ntime.sleep(600)"

        with pytest.raises(TimeoutException):
            await sandbox.run_code(code, timeout=1)

        deadline = time.monotonic() + 20
        while not (pid_file.exists() and gone(int(pid_file.read_text()))) or execute_server.active:
            assert time.monotonic() < deadline, "the abandoned execution kept running"
            await asyncio.sleep(0.05)


class TestExecuteServerHttp:
    async def test_health_and_unknown_paths(self, execute_server: ExecuteServer) -> None:
        async with httpx.AsyncClient(base_url=execute_server.url) as client:
            assert (await client.get("/health")).status_code == 200
            assert (await client.get("/contexts")).status_code == 404

    def test_a_taken_port_fails_with_one_clear_line(self, execute_server: ExecuteServer) -> None:
        with pytest.raises(OSError, match=rf"127.0.0.1:{execute_server.port} is already in use"):
            ExecuteServer(execute_server.port).start()

    def test_binds_loopback_only(self, execute_server: ExecuteServer) -> None:
        assert execute_server.url.startswith("http://127.0.0.1:")
        assert execute_server._server is not None
        assert {sock.getsockname()[0] for sock in execute_server._server.sockets} == {"127.0.0.1"}
