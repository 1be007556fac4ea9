"""The ``SandboxRunner`` interface, and what every runner does the same way."""

from __future__ import annotations

import time
from importlib import resources
from typing import Any, Protocol, runtime_checkable

from sentinel_sandbox.types import (
    ProviderHealth,
    SandboxHandle,
    SandboxRun,
    SandboxState,
    SandboxStatus,
    SandboxUsage,
)

#: The file name under which the callback client sits next to every script: ``from sentinel_callback import ...``.
CALLBACK_MODULE_FILE = "sentinel_callback.py"
#: A provider that answers a health check slower than this is ``degraded``.
DEGRADED_AFTER_MS = 2000.0


@runtime_checkable
class SandboxRunner(Protocol):
    """Runs analysis scripts somewhere else. A script reports its result only through the signed webhook;
    ``status`` is for progress, limits, failures that stop a script before it can call back, and usage."""

    @property
    def provider(self) -> str:
        """``e2b``, ``modal`` or ``local``."""
        ...

    async def start(self, run: SandboxRun) -> SandboxHandle:
        """Start ``run`` and return at once. Raises ``SandboxDisabled`` or ``SandboxUnavailable``."""
        ...

    async def status(self, handle: SandboxHandle) -> SandboxStatus:
        """The run's state now. Raises ``SandboxUnavailable`` when the provider cannot be asked."""
        ...

    async def cancel(self, handle: SandboxHandle) -> None:
        """Stop the run if it still runs; a no-op for a finished or unknown run."""
        ...

    async def health(self) -> ProviderHealth:
        """Check the provider within the runner's short timeout; never raises."""
        ...

    async def aclose(self) -> None:
        """Stop whatever still runs and release clients."""
        ...


def callback_client_source() -> str:
    """The stdlib-only callback client (``sentinel_sandbox.callback``) as source, to ship next to a script."""
    return resources.files("sentinel_sandbox").joinpath("callback.py").read_text(encoding="utf-8")


def script_request(run: SandboxRun) -> dict[str, Any]:
    """The JSON-able request ``sentinel_sandbox._script`` runs: the script, the callback client, env, limits."""
    return {
        "source": run.source,
        "env": dict(run.env),
        "files": {CALLBACK_MODULE_FILE: callback_client_source()},
        "limits": {
            "wall_s": run.limits.wall_s,
            "cpu_s": run.limits.cpu_s,
            "memory_mb": run.limits.memory_mb,
            "max_output_bytes": run.limits.max_output_bytes,
        },
    }


def status_from_outcome(outcome: dict[str, Any], *, wall_s: float | None = None) -> SandboxStatus:
    """A final status from a ``_script`` outcome; ``wall_s`` overrides the billed seconds (E2B bills the VM)."""
    if outcome.get("cancelled"):
        state = SandboxState.CANCELLED
    elif outcome.get("exit_code") == 0:
        state = SandboxState.FINISHED
    else:
        state = SandboxState.FAILED
    return SandboxStatus(
        state=state,
        exit_code=outcome.get("exit_code"),
        stdout=outcome.get("stdout", ""),
        stderr=outcome.get("stderr", ""),
        truncated=bool(outcome.get("truncated")),
        error=outcome.get("error"),
        limit_exceeded=outcome.get("limit_exceeded"),
        usage=SandboxUsage(wall_s=outcome.get("wall_s", 0.0) if wall_s is None else wall_s, cpu_s=outcome.get("cpu_s")),
    )


def failed(error: str, *, wall_s: float = 0.0) -> SandboxStatus:
    """A final ``failed`` status for a run the provider lost or refused."""
    return SandboxStatus(state=SandboxState.FAILED, error=error, usage=SandboxUsage(wall_s=round(wall_s, 3)))


class Clock:
    """Monotonic seconds since creation; runners use it for usage and health latency."""

    def __init__(self) -> None:
        self._started = time.monotonic()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self._started

    @property
    def ms(self) -> float:
        return round(self.seconds * 1000, 1)
