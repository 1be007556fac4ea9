from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from sentinel_sandbox import E2BSettings, LocalSandboxSettings, ModalSettings, SandboxLimits, SandboxRun, script_env
from sentinel_sandbox.e2b_runner import E2BRunner
from sentinel_sandbox.local_runner import LocalRunner
from sentinel_sandbox.modal_runner import ModalRunner
from sentinel_sandbox.runner import SandboxRunner
from sentinel_sandbox.testing import CallbackRecorder, ExecuteServer, LocalModalRemote


@pytest.fixture(scope="session")
def execute_server() -> Iterator[ExecuteServer]:
    with ExecuteServer() as server:
        yield server


@pytest.fixture(scope="session")
def callbacks() -> Iterator[CallbackRecorder]:
    with CallbackRecorder() as recorder:
        yield recorder


@pytest.fixture(params=["local", "e2b", "modal"])
async def runner(request: pytest.FixtureRequest, execute_server: ExecuteServer) -> AsyncIterator[SandboxRunner]:
    """Each runner for real on this machine: the local one, E2B's SDK in debug mode against the /execute
    server, Modal through its adapter with the function body run locally."""
    made: SandboxRunner
    if request.param == "local":
        made = LocalRunner(LocalSandboxSettings(enabled=True))
    elif request.param == "e2b":
        made = E2BRunner(E2BSettings(debug=True, sandbox_url=execute_server.url))
    else:
        made = ModalRunner(ModalSettings(), remote=LocalModalRemote())
    yield made
    await made.aclose()


@pytest.fixture
def make_run(callbacks: CallbackRecorder) -> Callable[..., SandboxRun]:
    """A run of ``source`` with a fresh job id and secret that the callback recorder accepts."""

    def make(source: str, extra_env: dict[str, str] | None = None, **limits: float) -> SandboxRun:
        job_id, secret = f"job-{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
        callbacks.expect(job_id, secret)
        env = script_env(
            data_url="http://127.0.0.1:9/data.ndjson",
            callback_url=callbacks.callback_url,
            job_id=job_id,
            job_secret=secret,
        )
        limits = {"wall_s": 30, "cpu_s": 20, "memory_mb": 512, **limits}
        return SandboxRun(
            job_id=job_id, source=source, env={**env, **(extra_env or {})}, limits=SandboxLimits(**limits)
        )

    return make


def process_gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


@pytest.fixture
def gone() -> Callable[[int], bool]:
    return process_gone
