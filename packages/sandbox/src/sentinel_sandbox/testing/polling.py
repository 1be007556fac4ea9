"""Wait for a run to end, for tests and scripts that drive a runner by hand."""

from __future__ import annotations

import asyncio
import time

from sentinel_sandbox.runner import SandboxRunner
from sentinel_sandbox.types import SandboxHandle, SandboxStatus


async def wait_until_final(
    runner: SandboxRunner, handle: SandboxHandle, timeout_s: float = 60.0, interval_s: float = 0.1
) -> SandboxStatus:
    """Poll ``runner.status`` until the run is final; raises ``TimeoutError`` with the last status otherwise."""
    deadline = time.monotonic() + timeout_s
    while not (status := await runner.status(handle)).final:
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {handle.run_id} still {status.state} after {timeout_s} s")
        await asyncio.sleep(interval_s)
    return status
