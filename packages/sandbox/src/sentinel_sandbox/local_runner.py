"""``LocalRunner``: scripts as local child processes, for development. NOT ISOLATED.

A script run this way can read every file the service's user can read, reach every address the machine can
reach, and use the service's interpreter and packages. What it does get: an environment holding only PATH,
HOME, the locale and its run's variables (no inherited secrets), its own empty working directory, its own
process group (killed as a whole), and limits on CPU seconds (RLIMIT_CPU), address space (RLIMIT_AS), wall
time and captured output. It is off unless ``enabled=True``: never enable it where scripts are not trusted.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field

from sentinel_sandbox._script import ScriptProcess
from sentinel_sandbox.runner import Clock, failed, script_request, status_from_outcome
from sentinel_sandbox.settings import LocalSandboxSettings
from sentinel_sandbox.types import (
    HealthState,
    ProviderHealth,
    SandboxDisabled,
    SandboxHandle,
    SandboxRun,
    SandboxState,
    SandboxStatus,
    SandboxUsage,
)

DISABLED_MESSAGE = (
    "the local sandbox runner is off: it does not isolate scripts from this machine; enable it only on a "
    "development machine with SENTINEL_SANDBOX_LOCAL_ENABLED=true"
)


@dataclass
class _Run:
    process: ScriptProcess
    clock: Clock = field(default_factory=Clock)
    started: bool = False
    status: SandboxStatus | None = None
    task: asyncio.Task[None] | None = None


class LocalRunner:
    """Runs each script in a local child process with limits; see the module docstring for what it does not do."""

    provider = "local"

    def __init__(self, settings: LocalSandboxSettings | None = None) -> None:
        self.settings = settings or LocalSandboxSettings()
        self._slots = asyncio.Semaphore(self.settings.max_concurrent)
        self._runs: dict[str, _Run] = {}

    async def start(self, run: SandboxRun) -> SandboxHandle:
        """Start ``run`` in a child process; raises ``SandboxDisabled`` unless the runner is enabled."""
        if not self.settings.enabled:
            raise SandboxDisabled(DISABLED_MESSAGE)
        run_id = f"local-{uuid.uuid4().hex}"
        state = _Run(ScriptProcess(script_request(run), self.settings.interpreter))
        state.task = asyncio.create_task(self._execute(state), name=f"sandbox-{run_id}")
        self._runs[run_id] = state
        return SandboxHandle(provider="local", run_id=run_id, job_id=run.job_id)

    async def _execute(self, state: _Run) -> None:
        try:
            async with self._slots:
                if state.status is not None:  # cancelled while queued
                    return
                state.started, state.clock = True, Clock()
                outcome = await asyncio.to_thread(state.process.run)
                state.status = status_from_outcome(outcome)
        except asyncio.CancelledError:
            state.process.kill()
            raise
        except Exception as exc:  # the child could not be started at all
            state.status = failed(f"could not start the script: {type(exc).__name__}: {exc}")

    async def status(self, handle: SandboxHandle) -> SandboxStatus:
        """The run's state; ``unknown`` for a run this runner did not start."""
        state = self._runs.get(handle.run_id)
        if state is None:
            return SandboxStatus(state=SandboxState.UNKNOWN)
        if state.status is not None:
            return state.status
        if not state.started:
            return SandboxStatus(state=SandboxState.QUEUED)
        return SandboxStatus(state=SandboxState.RUNNING, usage=SandboxUsage(wall_s=round(state.clock.seconds, 3)))

    async def cancel(self, handle: SandboxHandle) -> None:
        """Kill the run's process group (or drop it from the queue) and wait until it has ended."""
        state = self._runs.get(handle.run_id)
        if state is None or state.status is not None:
            return
        if not state.started:
            state.status = SandboxStatus(state=SandboxState.CANCELLED, error="cancelled")
            if state.task is not None:
                state.task.cancel()  # leave the queue at once
        state.process.kill()
        if state.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(state.task)

    async def health(self) -> ProviderHealth:
        """``not_configured`` when disabled, else ``healthy`` (with a note that it is not isolated)."""
        if not self.settings.enabled:
            return ProviderHealth(provider="local", state=HealthState.NOT_CONFIGURED, detail="disabled")
        return ProviderHealth(provider="local", state=HealthState.HEALTHY, latency_ms=0.0, detail="not isolated")

    async def aclose(self) -> None:
        """Kill every run still going and wait for them."""
        for state in self._runs.values():
            state.process.kill()
        tasks = [state.task for state in self._runs.values() if state.task is not None]
        for task in tasks:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await task
