"""What only the local runner does: refuse unless enabled, keep the host's environment out, queue past its slots."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from sentinel_sandbox import HealthState, LocalSandboxSettings, SandboxDisabled, SandboxHandle, SandboxRun, SandboxState
from sentinel_sandbox.local_runner import LocalRunner
from sentinel_sandbox.testing import wait_until_final

MakeRun = Callable[..., SandboxRun]


class TestLocalRunner:
    async def test_refuses_to_run_unless_enabled(self, make_run: MakeRun) -> None:
        runner = LocalRunner()

        with pytest.raises(SandboxDisabled, match=r"does not isolate scripts.*SENTINEL_SANDBOX_LOCAL_ENABLED=true"):
            await runner.start(make_run("print('never')"))

        assert (await runner.health()).state == HealthState.NOT_CONFIGURED

    async def test_script_sees_only_its_own_variables(self, make_run: MakeRun, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("SENTINEL_CONTROL_DYNAMODB_SECRET", "host-secret")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "host-aws-secret")
        runner = LocalRunner(LocalSandboxSettings(enabled=True))
        run = make_run("import os\nprint(sorted(os.environ))\n")

        status = await wait_until_final(runner, await runner.start(run))

        assert status.state == SandboxState.FINISHED
        names = eval(status.stdout)  # noqa: S307 - the script printed a list literal
        assert set(names) == {*run.env, "PATH", "HOME", "TMPDIR", "LANG", "LC_ALL"}
        assert "host-secret" not in status.stdout
        assert os.environ["AWS_SECRET_ACCESS_KEY"] == "host-aws-secret"

    async def test_runs_past_max_concurrent_wait_as_queued(self, make_run: MakeRun) -> None:
        runner = LocalRunner(LocalSandboxSettings(enabled=True, max_concurrent=1))
        first = await runner.start(make_run("import time\ntime.sleep(600)\n"))
        second = await runner.start(make_run("print('second')\n"))

        assert (await runner.status(second)).state == SandboxState.QUEUED
        await runner.cancel(second)
        assert (await runner.status(second)).state == SandboxState.CANCELLED
        assert (await runner.status(first)).state == SandboxState.RUNNING
        await runner.aclose()
        assert (await runner.status(first)).state == SandboxState.CANCELLED

    async def test_unknown_handle_is_unknown(self) -> None:
        runner = LocalRunner(LocalSandboxSettings(enabled=True))
        handle = SandboxHandle(provider="local", run_id="local-elsewhere", job_id="j")

        assert (await runner.status(handle)).state == SandboxState.UNKNOWN
        await runner.cancel(handle)  # a no-op
        health = await runner.health()
        assert (health.state, health.detail) == (HealthState.HEALTHY, "not isolated")
