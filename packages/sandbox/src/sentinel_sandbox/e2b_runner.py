"""``E2BRunner``: each script in its own E2B code-interpreter sandbox (a Firecracker microVM), through the async SDK.

Isolation comes from E2B: one sandbox per run, killed when the run ends. Inside it the script runs exactly as
under the other runners (``sentinel_sandbox._script`` is sent as the cell's code and starts the script as a
child process with CPU, memory, wall-time and output limits), and only the run's variables reach it: they
travel as the execution's ``envs``, never inside the code text.

Debug mode (``E2BSettings.debug``, the SDK's ``E2B_DEBUG``) skips E2B's API and posts to a local ``/execute``
server, by default ``http://localhost:49999``; ``sentinel_sandbox.testing.ExecuteServer`` is one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import httpx
import msgspec
from e2b import ApiParams
from e2b_code_interpreter import AsyncSandbox  # type: ignore[import-untyped]
from e2b_code_interpreter.constants import JUPYTER_PORT  # type: ignore[import-untyped]

from sentinel_sandbox.runner import DEGRADED_AFTER_MS, Clock, failed, script_request, status_from_outcome
from sentinel_sandbox.settings import E2BSettings
from sentinel_sandbox.types import (
    HealthState,
    ProviderHealth,
    SandboxDisabled,
    SandboxHandle,
    SandboxRun,
    SandboxState,
    SandboxStatus,
    SandboxUnavailable,
    SandboxUsage,
)

OUTCOME_MARKER = "__sentinel_outcome__ "


def cell_source(request: dict[str, Any]) -> str:
    """The code sent to the code interpreter: ``_script`` itself, then one call that prints the outcome.

    ``request["env"]`` must hold variable *names*: their values are read from the execution's environment.
    """
    script_module = resources.files("sentinel_sandbox").joinpath("_script.py").read_text(encoding="utf-8")
    call = (
        "\n\ndef _sentinel_main(request):\n"
        "    import json\n"
        "    request = dict(request, env={name: os.environ.get(name, '') for name in request['env']})\n"
        f"    print({OUTCOME_MARKER!r} + json.dumps(run(request)), flush=True)\n\n\n"
        f"_sentinel_main(__import__('json').loads({json.dumps(request)!r}))\n"
    )
    return script_module + call


def parse_outcome(stdout: list[str]) -> dict[str, Any] | None:
    """The outcome printed by the cell, or ``None`` if the cell never printed one."""
    for line in "".join(stdout).splitlines():
        if line.startswith(OUTCOME_MARKER):
            outcome: dict[str, Any] = json.loads(line[len(OUTCOME_MARKER) :])
            return outcome
    return None


@dataclass
class _Run:
    clock: Clock = field(default_factory=Clock)
    sandbox_id: str = ""
    task: asyncio.Task[None] | None = None
    status: SandboxStatus | None = None


class E2BRunner:
    """Runs each script in a fresh E2B sandbox that is killed when the run ends (or is cancelled)."""

    provider = "e2b"

    def __init__(self, settings: E2BSettings) -> None:
        self.settings = settings
        self._runs: dict[str, _Run] = {}

    @property
    def configured(self) -> bool:
        """An API key is set, or debug mode is on."""
        return bool(self.settings.api_key or self.settings.debug)

    def _params(self) -> ApiParams:
        params = ApiParams(debug=self.settings.debug, request_timeout=self.settings.request_timeout_s)
        if self.settings.api_key:
            params["api_key"] = self.settings.api_key
        if self.settings.domain:
            params["domain"] = self.settings.domain
        if self.settings.debug and self.settings.sandbox_url:
            params["sandbox_url"] = self.settings.sandbox_url
        return params

    async def start(self, run: SandboxRun) -> SandboxHandle:
        """Create the run's sandbox and start the script in it; returns once the sandbox exists."""
        if not self.configured:
            raise SandboxDisabled("E2B is not configured: set SENTINEL_E2B_API_KEY (or SENTINEL_E2B_DEBUG=true)")
        run_id = f"e2b-{uuid.uuid4().hex}"
        state = _Run()
        try:
            sandbox = await asyncio.wait_for(
                AsyncSandbox.create(
                    template=self.settings.template,
                    timeout=int(run.limits.wall_s + self.settings.sandbox_grace_s),
                    metadata={"sentinel_job_id": run.job_id, "sentinel_run_id": run_id},
                    allow_internet_access=True,  # the script fetches its data and calls back over HTTPS
                    **self._params(),
                ),
                self.settings.request_timeout_s,
            )
        except Exception as exc:  # the SDK raises its own, httpx's and OS errors
            raise SandboxUnavailable(f"E2B: could not create a sandbox: {_describe(exc)}") from exc
        state.sandbox_id = sandbox.sandbox_id
        state.task = asyncio.create_task(self._execute(state, sandbox, run), name=f"sandbox-{run_id}")
        self._runs[run_id] = state
        return SandboxHandle(provider="e2b", run_id=run_id, job_id=run.job_id)

    async def _execute(self, state: _Run, sandbox: AsyncSandbox, run: SandboxRun) -> None:
        request = script_request(run)
        request["env"] = sorted(run.env)  # names only: the values go as the execution's envs
        status: SandboxStatus
        try:
            execution = await sandbox.run_code(
                cell_source(request),
                envs=dict(run.env),
                timeout=run.limits.wall_s + self.settings.sandbox_grace_s,
                request_timeout=self.settings.request_timeout_s,
            )
            outcome = parse_outcome(execution.logs.stdout)
            if outcome is not None:
                status = status_from_outcome(outcome)
            elif execution.error is not None:
                status = failed(f"E2B: {execution.error.name}: {execution.error.value}")
            else:
                status = failed("E2B: the sandbox ended without reporting an outcome")
        except asyncio.CancelledError:
            state.status = SandboxStatus(state=SandboxState.CANCELLED, error="cancelled")
            await self._kill(sandbox, state)
            raise
        except Exception as exc:
            status = failed(f"E2B: {_describe(exc)}")
        await self._kill(sandbox, state)
        state.status = msgspec.structs.replace(status, usage=self._usage(state, status))

    def _usage(self, state: _Run, status: SandboxStatus) -> SandboxUsage:
        # E2B bills the sandbox's whole life, from create to kill, not the script's run alone.
        return SandboxUsage(wall_s=round(state.clock.seconds, 3), cpu_s=status.usage.cpu_s)

    async def _kill(self, sandbox: AsyncSandbox, state: _Run) -> None:
        with contextlib.suppress(Exception):
            await asyncio.shield(asyncio.wait_for(sandbox.kill(), self.settings.request_timeout_s))
        if state.status is not None:
            state.status = msgspec.structs.replace(state.status, usage=self._usage(state, state.status))

    async def status(self, handle: SandboxHandle) -> SandboxStatus:
        """The run's state as this process saw it; ``unknown`` for runs another process started."""
        state = self._runs.get(handle.run_id)
        if state is None:
            return SandboxStatus(state=SandboxState.UNKNOWN)
        if state.status is not None:
            return state.status
        return SandboxStatus(state=SandboxState.RUNNING, usage=SandboxUsage(wall_s=round(state.clock.seconds, 3)))

    async def cancel(self, handle: SandboxHandle) -> None:
        """Stop the execution and kill the sandbox."""
        state = self._runs.get(handle.run_id)
        if state is None or state.task is None or state.task.done():
            return
        state.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await state.task

    async def health(self) -> ProviderHealth:
        """Cloud: list one sandbox through the API. Debug: ``GET /health`` on the ``/execute`` server."""
        if not self.configured:
            return ProviderHealth(provider="e2b", state=HealthState.NOT_CONFIGURED)
        clock = Clock()
        try:
            if self.settings.debug:
                base = self.settings.sandbox_url or f"http://localhost:{JUPYTER_PORT}"
                async with httpx.AsyncClient(timeout=self.settings.request_timeout_s) as client:
                    (await client.get(f"{base.rstrip('/')}/health")).raise_for_status()
            else:
                paginator = AsyncSandbox.list(limit=1, **self._params())
                await asyncio.wait_for(paginator.next_items(), self.settings.request_timeout_s)
        except Exception as exc:
            return ProviderHealth(provider="e2b", state=HealthState.DOWN, latency_ms=clock.ms, detail=_describe(exc))
        state = HealthState.DEGRADED if clock.ms > DEGRADED_AFTER_MS else HealthState.HEALTHY
        return ProviderHealth(
            provider="e2b", state=state, latency_ms=clock.ms, detail="debug" if self.settings.debug else ""
        )

    async def aclose(self) -> None:
        """Cancel every run still going; their sandboxes are killed."""
        for state in self._runs.values():
            if state.task is not None and not state.task.done():
                state.task.cancel()
        for state in self._runs.values():
            if state.task is not None:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await state.task


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer within the timeout"
    return f"{type(exc).__name__}: {exc}".strip()
