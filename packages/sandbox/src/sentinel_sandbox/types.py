"""What goes into a sandbox run and what comes back: the types every runner shares."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

Provider = Literal["e2b", "modal", "local"]
LimitName = Literal["wall_time", "cpu_time", "memory"]

#: The variables a script receives, whatever the runner.
DATA_URL_VAR = "SENTINEL_DATA_URL"
CALLBACK_URL_VAR = "SENTINEL_CALLBACK_URL"
JOB_ID_VAR = "SENTINEL_JOB_ID"
JOB_SECRET_VAR = "SENTINEL_JOB_SECRET"  # noqa: S105 - a variable name


class SandboxError(Exception):
    """Base of the errors a runner raises."""


class SandboxDisabled(SandboxError):
    """The runner is switched off (the local runner unless enabled) or not configured."""


class SandboxUnavailable(SandboxError):
    """The provider could not be reached or did not answer within the runner's timeout."""


class SandboxLimits(msgspec.Struct, kw_only=True, frozen=True):
    """Resource limits of one run. The script is killed at the first one it crosses."""

    wall_s: Annotated[float, Meta(gt=0, le=86_400)] = 300.0
    """Wall-clock seconds from start to end."""
    cpu_s: Annotated[int, Meta(ge=1, le=86_400)] = 120
    """CPU seconds (user + system) of the script and its children."""
    memory_mb: Annotated[int, Meta(ge=64, le=65_536)] = 1024
    """Address space of the script, MB (RLIMIT_AS)."""
    max_output_bytes: Annotated[int, Meta(ge=1, le=16 * 1024 * 1024)] = 64 * 1024
    """Bytes of stdout and of stderr kept each; the rest is dropped and ``truncated`` is set."""


class SandboxRun(msgspec.Struct, kw_only=True, frozen=True):
    """One script to run: its source, its environment and its limits."""

    job_id: Annotated[str, Meta(min_length=1, max_length=200)]
    """The job this run belongs to."""
    source: str
    """The script's Python source text."""
    env: dict[str, str] = msgspec.field(default_factory=dict)
    """The script's whole environment besides PATH/HOME/locale: usually made by ``script_env``."""
    limits: SandboxLimits = msgspec.field(default_factory=SandboxLimits)


def script_env(*, data_url: str, callback_url: str, job_id: str, job_secret: str) -> dict[str, str]:
    """The environment a script receives: its data's read-only presigned URL, where to call back, who it is."""
    return {DATA_URL_VAR: data_url, CALLBACK_URL_VAR: callback_url, JOB_ID_VAR: job_id, JOB_SECRET_VAR: job_secret}


class SandboxHandle(msgspec.Struct, kw_only=True, frozen=True):
    """How to find a run again: which runner, and the run's id there (store it on the job)."""

    provider: Provider
    run_id: str
    """Opaque and unique within the provider: a Modal function call id, an id made by the E2B or local runner."""
    job_id: str


class SandboxState(StrEnum):
    """Where a run is. ``finished``, ``failed`` and ``cancelled`` are final."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"
    """The runner does not know this run (another process started it, or it was forgotten)."""


FINAL_STATES = frozenset({SandboxState.FINISHED, SandboxState.FAILED, SandboxState.CANCELLED})


class SandboxUsage(msgspec.Struct, kw_only=True, frozen=True):
    """What a run used, for its cost: E2B and Modal bill per second."""

    wall_s: float = 0.0
    """Billed seconds: the sandbox's life for E2B, the script's run elsewhere."""
    cpu_s: float | None = None
    """CPU seconds of the script and its children, when known."""


class SandboxStatus(msgspec.Struct, kw_only=True, frozen=True):
    """A run's state and, once final, how it ended."""

    state: SandboxState
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    truncated: bool = False
    """Output went past ``max_output_bytes`` and was cut."""
    error: str | None = None
    """Why the run failed, in one line: the script's last error line, the limit it crossed, the provider's error."""
    limit_exceeded: LimitName | None = None
    usage: SandboxUsage = msgspec.field(default_factory=SandboxUsage)

    @property
    def final(self) -> bool:
        """The run has ended and its status will not change."""
        return self.state in FINAL_STATES


class HealthState(StrEnum):
    """A provider's health for ``/api/layers/health/connectors``."""

    NOT_CONFIGURED = "not_configured"
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    DOWN = "down"


class ProviderHealth(msgspec.Struct, kw_only=True, frozen=True):
    """One health check of a provider."""

    provider: Provider
    state: HealthState
    latency_ms: float | None = None
    detail: str = ""
