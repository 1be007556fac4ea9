"""``LocalModalRemote``: the Modal adapter's remote side, run on this machine. NOT ISOLATED.

Each spawned call runs the deployed function's body, ``sentinel_sandbox.modal_app.run_script.local(...)``, in
its own process standing in for Modal's container; ``cancel`` terminates that process as Modal's
``cancel(terminate_containers=True)`` does, and the body's clean-up kills the script with it.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from types import FrameType
from typing import Any

from sentinel_sandbox.modal_runner import ModalPoll


class LocalModalRemote:
    """A ``ModalRemote`` whose calls run locally; call ids look like Modal's (``fc-...``)."""

    def __init__(self, python: str = sys.executable) -> None:
        self.python = python
        self.spawned: list[dict[str, Any]] = []
        """Every request spawned, in order (for tests)."""
        self._dir = Path(tempfile.mkdtemp(prefix="sentinel-modal-"))
        self._calls: dict[str, subprocess.Popen[bytes]] = {}

    async def spawn(self, request: dict[str, Any]) -> str:
        call_id = f"fc-local{uuid.uuid4().hex}"
        (self._dir / f"{call_id}.in").write_text(json.dumps(request), encoding="utf-8")
        argv = [self.python, "-m", __name__, str(self._dir / call_id)]
        self._calls[call_id] = await asyncio.to_thread(_launch, argv, self._dir / f"{call_id}.err")
        self.spawned.append(request)
        return call_id

    async def poll(self, call_id: str) -> ModalPoll:
        container = self._calls.get(call_id)
        if container is None:
            return ModalPoll("expired", error="Modal: the call is unknown or its output has expired")
        if container.poll() is None:
            return ModalPoll("pending")
        out = self._dir / f"{call_id}.out"
        if container.returncode == 0 and out.exists():
            return ModalPoll("done", outcome=json.loads(out.read_text(encoding="utf-8")))
        stderr = (self._dir / f"{call_id}.err").read_text(encoding="utf-8", errors="replace")
        return ModalPoll("failed", error=f"Modal: container exited with {container.returncode}: {stderr[-300:]}")

    async def cancel(self, call_id: str) -> None:
        container = self._calls.get(call_id)
        if container is not None and container.poll() is None:
            container.terminate()

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        """Terminate every call still running."""
        for container in self._calls.values():
            if container.poll() is None:
                container.terminate()
                await asyncio.to_thread(container.wait, 10)


def _launch(argv: list[str], stderr_path: Path) -> subprocess.Popen[bytes]:
    with open(stderr_path, "wb") as stderr:
        return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr)


def _container(base: str) -> None:
    def terminate(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    from sentinel_sandbox.modal_app import run_script

    request = json.loads(Path(f"{base}.in").read_text(encoding="utf-8"))
    outcome = run_script.local(request)
    Path(f"{base}.out").write_text(json.dumps(outcome), encoding="utf-8")


if __name__ == "__main__":
    _container(sys.argv[1])
