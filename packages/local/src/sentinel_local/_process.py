"""Managed child processes for local engines: free loopback ports, readiness waits, clean shutdown.

Children started in the foreground get ``PR_SET_PDEATHSIG`` so they die with their parent even when it is
killed with SIGKILL; ``make up`` starts them detached instead and records their pids.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

LOOPBACK = "127.0.0.1"


class EngineError(RuntimeError):
    """An engine could not be started or did not become ready."""


class EngineNotInstalled(EngineError):
    """An engine's program is missing; the message says how to install it."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_open(port: int, host: str = LOOPBACK, timeout: float = 0.25) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process below it, parents first (Linux ``/proc``; children of any thread count).

    A process that exits while it is being read is left out.
    """
    tree, pending = [], [pid]
    while pending:
        current = pending.pop(0)
        try:
            children = [
                int(child)
                for task in Path(f"/proc/{current}/task").iterdir()
                for child in (task / "children").read_text().split()
            ]
        except (FileNotFoundError, ProcessLookupError):
            continue
        tree.append(current)
        pending.extend(children)
    return tree


def memory_mb(pid: int, measure: str = "VmRSS") -> float:
    """A memory figure of one process from ``/proc/<pid>/status``: ``VmRSS`` (resident now) or ``VmHWM`` (peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{measure}:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"/proc/{pid}/status has no {measure}")


def venv_bin(name: str) -> str | None:
    """Path of a console script installed next to the running interpreter, if there is one."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else None


class ManagedProcess:
    """One child process with a log file, a readiness probe and a stop that never leaves it behind."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        detached: bool = False,
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self.on_line = on_line
        self.argv = list(argv)
        self.log_path = log_path
        self.cwd = cwd
        self.env = dict(env) if env is not None else None
        self.detached = detached
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        kwargs: dict[str, Any] = {}
        if self.detached:
            kwargs["start_new_session"] = True
        elif sys.platform.startswith("linux"):
            kwargs["preexec_fn"] = _die_with_parent
            kwargs["process_group"] = 0  # Ctrl-C in a terminal reaches the supervisor only, which stops us in order
        try:
            self.process = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env={**os.environ, **self.env} if self.env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if self.on_line else self._log,
                stderr=subprocess.STDOUT,
                **kwargs,
            )
        except FileNotFoundError as exc:
            self._close_log()
            raise EngineNotInstalled(f"{self.name}: {self.argv[0]} not found") from exc
        if self.on_line is not None:
            threading.Thread(target=self._pump, name=f"output-{self.name}", daemon=True).start()

    def _pump(self) -> None:
        # Each output line goes to the log file and to the callback (the dev runner prints it, prefixed).
        process, log, on_line = self.process, self._log, self.on_line
        assert process is not None
        assert process.stdout is not None
        assert log is not None
        assert on_line is not None
        for raw in process.stdout:
            with contextlib.suppress(ValueError):  # the log was closed by stop() while lines were still coming
                log.write(raw)
                log.flush()
            on_line(raw.decode("utf-8", "replace").rstrip("\n"))

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def returncode(self) -> int | None:
        return self.process.poll() if self.process is not None else None

    def wait_ready(self, probe: Callable[[], bool], timeout: float) -> None:
        """Poll ``probe`` until it returns True; fail with the log's tail if the process exits or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                code = self.process.returncode if self.process else None
                raise EngineError(f"{self.name} exited with status {code} while starting:\n{self.log_tail()}")
            with contextlib.suppress(Exception):
                if probe():
                    return
            time.sleep(0.1)
        self.stop()
        raise EngineError(f"{self.name} was not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, wait up to ``timeout``, then SIGKILL. Safe to call twice."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._close_log()

    def kill(self) -> None:
        """SIGKILL at once, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self._close_log()

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_bytes()[-16_384:].decode("utf-8", "replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def stop_pid(pid: int, timeout: float = 10.0) -> bool:
    """Stop a detached process (and its session) by pid: SIGTERM, then SIGKILL. False if it was already gone."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    except PermissionError:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    return True
