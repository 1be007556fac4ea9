"""One suite, every runner: the local runner, E2B (real SDK, debug mode, local /execute server) and Modal
(adapter with the deployed function's body run locally)."""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import Callable
from pathlib import Path

from sentinel_sandbox import SandboxRun, SandboxState
from sentinel_sandbox.runner import SandboxRunner
from sentinel_sandbox.testing import CallbackRecorder, wait_until_final

MakeRun = Callable[..., SandboxRun]

SUCCEEDS = """
import os
from sentinel_callback import post_result

assert os.environ["SENTINEL_DATA_URL"].startswith("http")
print("computing")
post_result("succeeded", {"rows": 3, "p95_ms": 41.5}, logs="read 3 rows", usage={"rows_read": 3})
"""


async def _wait_for(predicate: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout_s} s"
        await asyncio.sleep(0.05)


class TestRunnerContract:
    async def test_script_succeeds_and_its_signed_callback_arrives(
        self, runner: SandboxRunner, make_run: MakeRun, callbacks: CallbackRecorder
    ) -> None:
        run = make_run(SUCCEEDS)
        handle = await runner.start(run)
        assert (handle.provider, handle.job_id) == (runner.provider, run.job_id)

        status = await wait_until_final(runner, handle)

        assert status.state == SandboxState.FINISHED, status
        assert status.exit_code == 0
        assert status.stdout == "computing\n"
        assert status.usage.wall_s > 0
        assert status.usage.cpu_s is not None
        assert status.usage.cpu_s > 0
        await _wait_for(lambda: any(cb.json()["job_id"] == run.job_id for cb in callbacks.callbacks), "callback")
        mine = [cb for cb in callbacks.callbacks if cb.json()["job_id"] == run.job_id]
        assert len(mine) == 1
        assert mine[0].check.ok, mine[0].check.detail
        assert mine[0].json() == {
            "job_id": run.job_id,
            "status": "succeeded",
            "result": {"rows": 3, "p95_ms": 41.5},
            "logs": "read 3 rows",
            "usage": {"rows_read": 3},
        }

    async def test_failing_script_is_failed_with_its_error(self, runner: SandboxRunner, make_run: MakeRun) -> None:
        handle = await runner.start(make_run("x = 1\nraise ValueError('no rows for this window')\n"))

        status = await wait_until_final(runner, handle)

        assert status.state == SandboxState.FAILED
        assert status.exit_code == 1
        assert status.error == "ValueError: no rows for this window"
        assert "Traceback" in status.stderr
        assert status.limit_exceeded is None

    async def test_wall_time_limit_kills_the_script(self, runner: SandboxRunner, make_run: MakeRun) -> None:
        handle = await runner.start(make_run("import time\nprint('start', flush=True)\ntime.sleep(600)\n", wall_s=1))

        status = await wait_until_final(runner, handle)

        assert status.state == SandboxState.FAILED
        assert status.limit_exceeded == "wall_time"
        assert status.error == "killed: wall time limit of 1 s exceeded"
        assert status.stdout == "start\n"
        assert status.usage.wall_s < 60

    async def test_memory_bomb_fails_and_leaves_the_host_alone(self, runner: SandboxRunner, make_run: MakeRun) -> None:
        own_peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        handle = await runner.start(make_run("hog = bytearray(8 * 1024**3)\nprint('unreachable')\n", memory_mb=256))

        status = await wait_until_final(runner, handle)

        assert status.state == SandboxState.FAILED
        assert status.limit_exceeded == "memory"
        assert status.error is not None
        assert status.error.startswith("memory limit of 256 MB exceeded")
        assert "unreachable" not in status.stdout
        # The 8 GiB never reached this process (nor, being refused, any other).
        assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - own_peak_kb < 1024 * 1024

    async def test_cpu_burner_is_killed_at_its_cpu_limit(self, runner: SandboxRunner, make_run: MakeRun) -> None:
        handle = await runner.start(make_run("while True:\n    pass\n", cpu_s=1, wall_s=60))

        status = await wait_until_final(runner, handle)

        assert status.state == SandboxState.FAILED
        assert status.limit_exceeded == "cpu_time"
        assert status.error == "killed: CPU time limit of 1 s exceeded"
        assert status.usage.cpu_s is not None
        assert status.usage.cpu_s > 0.5  # the kernel counts CPU time in ticks

    async def test_output_is_capped(self, runner: SandboxRunner, make_run: MakeRun) -> None:
        source = "import sys\nprint('o' * 200_000)\nprint('e' * 200_000, file=sys.stderr)\n"
        handle = await runner.start(make_run(source, max_output_bytes=1000))

        status = await wait_until_final(runner, handle)

        assert status.state == SandboxState.FINISHED
        assert status.truncated
        assert status.stdout == "o" * 1000
        assert status.stderr == "e" * 1000

    async def test_cancel_stops_the_script(
        self, runner: SandboxRunner, make_run: MakeRun, tmp_path: Path, gone: Callable[[int], bool]
    ) -> None:
        pid_file = tmp_path / "pid"
        source = "import os, time\nopen(os.environ['PID_FILE'], 'w').write(str(os.getpid()))\ntime.sleep(600)\n"
        handle = await runner.start(make_run(source, extra_env={"PID_FILE": str(pid_file)}, wall_s=300))
        await _wait_for(lambda: pid_file.exists() and pid_file.read_text() != "", "the script's start")
        pid = int(pid_file.read_text())

        await runner.cancel(handle)

        status = await wait_until_final(runner, handle)
        assert status.state == SandboxState.CANCELLED
        await _wait_for(lambda: gone(pid), "the script's end")
