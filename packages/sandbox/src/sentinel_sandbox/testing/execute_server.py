"""``ExecuteServer``: a local stand-in for the E2B code interpreter's ``/execute`` endpoint. NOT ISOLATED.

It speaks what ``e2b-code-interpreter`` expects in debug mode: ``POST /execute`` with ``{"code", "context_id",
"language", "env_vars"}`` answers ``200`` with NDJSON lines, streamed as the code runs:

- ``{"type": "number_of_executions", "execution_count": n}`` first;
- ``{"type": "stdout"|"stderr", "text": ..., "timestamp": <unix ns>}`` as output arrives;
- ``{"type": "result", "text": ..., "is_main_result": true, ...}`` for the last expression's value;
- ``{"type": "error", "name": ..., "value": ..., "traceback": ...}`` when the code raises or its process dies.

Each request runs in a fresh child process (so, unlike a real kernel, no state is kept between calls) with a
clean environment plus ``env_vars``. The child is killed when the client goes away, as E2B's cancel does.
``GET /health`` answers 200. It binds 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import os
import signal
import sys
import time
from importlib import resources
from typing import Any

from sentinel_sandbox.testing._http import LoopbackServer, Request, write_chunk, write_head

DEFAULT_PORT = 49999
_BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


class ExecuteServer(LoopbackServer):
    """Serve ``/execute`` on 127.0.0.1 from a background thread; use as a context manager or start/stop."""

    def __init__(self, port: int = 0, *, max_execution_s: float = 600.0, python: str = sys.executable) -> None:
        super().__init__(port)
        self.max_execution_s = max_execution_s
        self.python = python
        self.requests: list[dict[str, Any]] = []
        """Every ``/execute`` body received, in order (for tests)."""
        self.active = 0
        """Executions whose process still runs."""
        self._executions = 0

    async def handle(self, request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if request.method == "GET" and request.path == "/health":
            await write_head(writer, 200, "application/json", b'"ok"')
        elif request.method == "POST" and request.path == "/execute":
            await self._execute(request, reader, writer)
        else:
            await write_head(writer, 404, "text/plain", b"not found")

    async def _execute(self, request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            body = json.loads(request.body)
            code, env_vars, language = body["code"], body.get("env_vars") or {}, body.get("language")
            if not isinstance(code, str) or not isinstance(env_vars, dict) or language not in (None, "python"):
                raise ValueError("code must be a string, env_vars an object, language python")
        except (ValueError, KeyError, TypeError) as exc:
            await write_head(writer, 400, "text/plain", f"invalid execution request: {exc}".encode())
            return
        self.requests.append(body)
        self._executions += 1
        await write_head(writer, 200, "application/x-ndjson")
        await write_chunk(writer, {"type": "number_of_executions", "execution_count": self._executions})
        await _Execution(self, code, {str(k): str(v) for k, v in env_vars.items()}).stream(reader, writer)
        await write_chunk(writer, None)


class _Execution:
    def __init__(self, server: ExecuteServer, code: str, env_vars: dict[str, str]) -> None:
        self.server, self.code, self.env = server, code, {**_BASE_ENV, **env_vars}

    async def stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server.active += 1
        try:
            await self._stream(reader, writer)
        finally:
            self.server.active -= 1

    async def _stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        proc, control = await self._spawn()
        ended = asyncio.create_task(self._outputs(proc, writer, asyncio.Lock()))
        gone = asyncio.create_task(reader.read(1))  # the client sends nothing more: EOF means it left
        try:
            done, _ = await asyncio.wait(
                {ended, gone}, timeout=self.server.max_execution_s, return_when=asyncio.FIRST_COMPLETED
            )
            if gone in done and ended not in done:
                return
            if not done:
                await _stop(proc)
                await ended
            lines = [json.loads(line) for line in (await control).decode().splitlines() if line.strip()]
            if not done:
                lines = [_error("TimeoutError", f"execution exceeded {self.server.max_execution_s} s")]
            elif not lines and proc.returncode:
                lines = [_error("KernelDied", f"the code's process ended with status {proc.returncode}")]
            for line in lines:
                await write_chunk(writer, line)
        finally:
            for task in (gone, ended, control):
                task.cancel()
            await _stop(proc)

    async def _spawn(self) -> tuple[asyncio.subprocess.Process, asyncio.Task[bytes]]:
        control_r, control_w = os.pipe()
        kernel = str(resources.files("sentinel_sandbox.testing").joinpath("_kernel.py"))
        try:
            proc = await asyncio.create_subprocess_exec(
                self.server.python,
                "-I",
                "-u",
                kernel,
                str(control_w),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self.env,
                pass_fds=(control_w,),
                start_new_session=True,
            )
        finally:
            os.close(control_w)
        assert proc.stdin is not None
        proc.stdin.write(json.dumps({"code": self.code}).encode())
        proc.stdin.close()
        return proc, asyncio.create_task(_read_all(control_r))

    async def _outputs(self, proc: asyncio.subprocess.Process, writer: asyncio.StreamWriter, lock: Any) -> None:
        assert proc.stdout is not None
        assert proc.stderr is not None
        stdout = self._pump(proc.stdout, "stdout", writer, lock)
        await asyncio.gather(stdout, self._pump(proc.stderr, "stderr", writer, lock), proc.wait())

    async def _pump(self, stream: asyncio.StreamReader, name: str, writer: asyncio.StreamWriter, lock: Any) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        while chunk := await stream.read(65536):
            if text := decoder.decode(chunk):
                async with lock:
                    await write_chunk(writer, {"type": name, "text": text, "timestamp": time.time_ns()})


async def _read_all(fd: int) -> bytes:
    with os.fdopen(fd, "rb") as pipe:
        return await asyncio.to_thread(pipe.read)


def _error(name: str, value: str) -> dict[str, str]:
    return {"type": "error", "name": name, "value": value, "traceback": f"{name}: {value}"}


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


async def _stop(proc: asyncio.subprocess.Process, grace_s: float = 3.0) -> None:
    """SIGTERM first, as a sandbox being shut down, so the cell's clean-up runs; SIGKILL after ``grace_s``."""
    if proc.returncode is None:
        _signal_group(proc.pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), grace_s)
    _signal_group(proc.pid, signal.SIGKILL)  # and whatever the code left behind in its group
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), grace_s)
