"""Run one analysis script in a child process with CPU, memory, wall-time and output limits.

Standard library only: this file is also shipped as source into an E2B sandbox (see ``cell_source``) and runs
inside the Modal function, so every runner executes a script the same way. A request and its outcome are plain
JSON-able dicts for the same reason.

Request: ``{"source", "env", "files", "limits": {"wall_s", "cpu_s", "memory_mb", "max_output_bytes"}}``.
Outcome: ``{"exit_code", "signal", "limit_exceeded", "cancelled", "stdout", "stderr", "truncated", "error",
"wall_s", "cpu_s"}``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

# Runs first in the child: lower its own limits, then replace itself with the script's interpreter, so the
# limits hold for the script and everything it starts, and no pre-exec hook runs in a threaded parent.
_PROLOGUE = """\
import os, resource, sys
memory, cpu = int(sys.argv[1]), int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
os.execv(sys.executable, [sys.executable, "-E", "-s", "-u", "script.py"])
"""
# What a script sees besides the variables of its run: nothing inherited from the host.
_BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


class _Capped:
    """Drains a pipe to its end, keeping only the first ``cap`` bytes."""

    def __init__(self, stream: Any, cap: int) -> None:
        self.data = bytearray()
        self.truncated = False
        self._thread = threading.Thread(target=self._drain, args=(stream, cap), daemon=True)
        self._thread.start()

    def _drain(self, stream: Any, cap: int) -> None:
        with stream:
            while chunk := stream.read(65536):
                room = cap - len(self.data)
                self.data += chunk[: max(room, 0)]
                self.truncated = self.truncated or len(chunk) > room

    def text(self, timeout: float) -> str:
        self._thread.join(timeout)
        return self.data.decode("utf-8", errors="replace")


class ScriptProcess:
    """One run of a script; ``run`` blocks until it ends, ``kill`` (from any thread) stops it early."""

    def __init__(self, request: dict[str, Any], python: str = sys.executable) -> None:
        self.request = request
        self.python = python
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._done = False
        self._killed_by: str | None = None

    def kill(self, reason: str = "cancelled") -> None:
        """Kill the script and every process it started; ``reason`` is ``cancelled`` or a limit's name."""
        with self._lock:
            if self._killed_by is None:
                self._killed_by = reason
            if self._pid is not None and not self._done:
                _kill_group(self._pid)

    def run(self) -> dict[str, Any]:
        """Run the script to its end or its first limit and return the outcome dict."""
        limits = self.request["limits"]
        with tempfile.TemporaryDirectory(prefix="sentinel-run-") as workdir:
            for name, text in {**self.request.get("files", {}), "script.py": self.request["source"]}.items():
                with open(os.path.join(workdir, os.path.basename(name)), "w", encoding="utf-8") as file:
                    file.write(text)
            env = {**_BASE_ENV, "HOME": workdir, "TMPDIR": workdir, **self.request.get("env", {})}
            memory = int(limits["memory_mb"]) * 1024 * 1024
            argv = [self.python, "-I", "-c", _PROLOGUE, str(memory), str(max(1, int(limits["cpu_s"])))]
            started = time.monotonic()
            proc = subprocess.Popen(
                argv,
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            with self._lock:
                self._pid = proc.pid
                if self._killed_by is not None:
                    _kill_group(proc.pid)
            out = _Capped(proc.stdout, int(limits["max_output_bytes"]))
            err = _Capped(proc.stderr, int(limits["max_output_bytes"]))
            timer = threading.Timer(float(limits["wall_s"]), self.kill, ("wall_time",))
            timer.start()
            try:
                _, status, usage = os.wait4(proc.pid, 0)
            finally:
                timer.cancel()
                with self._lock:
                    self._done = True
                    proc.returncode = -1  # reaped above; keeps Popen from waiting again
                _kill_group(proc.pid)  # whatever the script left running
            wall_s = time.monotonic() - started
            return _outcome(
                os.waitstatus_to_exitcode(status),
                self._killed_by,
                out.text(5),
                err.text(5),
                out.truncated or err.truncated,
                wall_s,
                usage.ru_utime + usage.ru_stime,
                limits,
            )


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _outcome(
    code: int,
    killed_by: str | None,
    stdout: str,
    stderr: str,
    truncated: bool,
    wall_s: float,
    cpu_s: float,
    limits: dict[str, Any],
) -> dict[str, Any]:
    sig = -code if code < 0 else None
    if code == 0:
        killed_by = None  # a kill that raced a clean end changed nothing
    last_line = next((line for line in reversed(stderr.splitlines()) if line.strip()), "")
    limit = killed_by if killed_by in ("wall_time", "cpu_time") else None
    error: str | None = None
    if sig == signal.SIGXCPU or (limit is None and cpu_s >= float(limits["cpu_s"]) and sig == signal.SIGKILL):
        limit, error = "cpu_time", f"killed: CPU time limit of {limits['cpu_s']} s exceeded"
    elif limit == "wall_time":
        error = f"killed: wall time limit of {float(limits['wall_s']):g} s exceeded"
    elif killed_by == "cancelled":
        error = "cancelled"
    elif last_line.startswith("MemoryError"):
        limit, error = "memory", f"memory limit of {limits['memory_mb']} MB exceeded ({last_line.strip()})"
    elif sig is not None:
        error = f"killed by signal {signal.Signals(sig).name}"
    elif code != 0:
        error = last_line.strip() or f"exited with status {code}"
    return {
        "exit_code": code,
        "signal": sig,
        "limit_exceeded": limit,
        "cancelled": killed_by == "cancelled",
        "stdout": stdout,
        "stderr": stderr,
        "truncated": truncated,
        "error": error,
        "wall_s": round(wall_s, 3),
        "cpu_s": round(cpu_s, 3),
    }


def run(request: dict[str, Any], python: str = sys.executable) -> dict[str, Any]:
    """Run ``request`` in this process's child and return its outcome; the script never outlives the call."""
    process = ScriptProcess(request, python)
    try:
        return process.run()
    finally:
        process.kill()  # a no-op after a normal end; stops the script if this call is interrupted
