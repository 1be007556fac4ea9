"""What only the E2B runner does, through the real SDK in debug mode."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from sentinel_sandbox import E2BSettings, HealthState, SandboxDisabled, SandboxRun, SandboxState
from sentinel_sandbox.e2b_runner import E2BRunner
from sentinel_sandbox.testing import ExecuteServer, wait_until_final

MakeRun = Callable[..., SandboxRun]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class TestE2BRunner:
    async def test_variables_travel_as_execution_envs_never_in_the_code(
        self, execute_server: ExecuteServer, make_run: MakeRun
    ) -> None:
        runner = E2BRunner(E2BSettings(debug=True, sandbox_url=execute_server.url))
        run = make_run("import os\nprint(len(os.environ['SENTINEL_JOB_SECRET']))\n")

        status = await wait_until_final(runner, await runner.start(run))

        assert status.state == SandboxState.FINISHED
        assert status.stdout == "32\n"
        sent = execute_server.requests[-1]
        assert sent["env_vars"] == run.env
        assert run.env["SENTINEL_JOB_SECRET"] not in sent["code"]
        assert run.env["SENTINEL_CALLBACK_URL"] not in sent["code"]

    async def test_unreachable_execute_endpoint_fails_the_run(self, make_run: MakeRun) -> None:
        runner = E2BRunner(E2BSettings(debug=True, sandbox_url=f"http://127.0.0.1:{_closed_port()}"))

        status = await wait_until_final(runner, await runner.start(make_run("print('never')")))

        assert status.state == SandboxState.FAILED
        assert status.error is not None
        assert status.error.startswith("E2B: ")

    async def test_health_in_debug_mode_asks_the_execute_server(self, execute_server: ExecuteServer) -> None:
        healthy = await E2BRunner(E2BSettings(debug=True, sandbox_url=execute_server.url)).health()
        closed = f"http://127.0.0.1:{_closed_port()}"
        down = await E2BRunner(E2BSettings(debug=True, sandbox_url=closed, request_timeout_s=2)).health()

        assert (healthy.state, healthy.detail) == (HealthState.HEALTHY, "debug")
        assert healthy.latency_ms is not None
        assert down.state == HealthState.DOWN
        assert "ConnectError" in down.detail

    async def test_without_key_or_debug_e2b_is_not_configured(self, make_run: MakeRun) -> None:
        runner = E2BRunner(E2BSettings())

        with pytest.raises(SandboxDisabled, match="SENTINEL_E2B_API_KEY"):
            await runner.start(make_run("print('never')"))
        assert (await runner.health()).state == HealthState.NOT_CONFIGURED
