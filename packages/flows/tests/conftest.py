"""Stand-in handlers for the analysis flow, shared by the local runner's and Step Functions' tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from sentinel_flows import AWAIT_CALLBACK, HandlerRegistry, TaskAnswerer, TaskContext, TaskError

DATA_KEY = "exports/proj-1/2026-01-01T00:00:00Z_2026-01-02T00:00:00Z.ndjson"


class AnalysisStub:
    """Handlers for ``infra/flows/analysis.asl.json`` that record what they were asked.

    ``run_script`` defers like the real one; ``sandbox`` (run it as a task) plays the sandbox's signed callback
    by answering each deferred token through the runner. ``export_failures`` is a list of errors the export
    raises on its first attempts, in order.
    """

    def __init__(self, *, rows: int = 42, export_failures: list[str] | None = None) -> None:
        self.rows = rows
        self.export_failures = list(export_failures or [])
        self.calls: list[tuple[str, Any, TaskContext]] = []
        self.callbacks: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.registry = HandlerRegistry(
            {
                "export_window": self.export_window,
                "run_script": self.run_script,
                "store_artifact": self.store_artifact,
                "notify": self.notify,
            }
        )

    @staticmethod
    def happy_path(*, settle: bool = False) -> list[str]:
        """The states a successful analysis visits, in order (with a settle Wait when ``settle``)."""
        head = ["CheckInput", "CheckSettle", "LetLateEventsSettle"] if settle else ["CheckInput"]
        return [*head, "ExportWindow", "AnyEvents", "RunScript", "StoreArtifact", "Notify", "Summarize", "Done"]

    def expected_output(self, job_id: str) -> dict[str, Any]:
        """The analysis flow's output for ``analysis_input(job_id)`` when every step succeeds."""
        return {
            "job_id": job_id,
            "project_id": "proj-1",
            "status": "succeeded",
            "rows": self.rows,
            "script_status": "succeeded",
            "result": {"p95_ms": 181.5, "endpoints": 7, "data_key": DATA_KEY},
            "artifact": {"artifact_key": f"gold/proj-1/{job_id}.json"},
        }

    def handled(self, name: str) -> list[Any]:
        return [payload for handler, payload, _ in self.calls if handler == name]

    async def export_window(self, payload: Any, context: TaskContext) -> Any:
        self.calls.append(("export_window", payload, context))
        if self.export_failures:
            raise TaskError(self.export_failures.pop(0), "the archive did not answer")
        window = payload["window"]
        return {
            "archive_key": f"exports/{payload['project_id']}/{window['start']}_{window['end']}.ndjson",
            "rows": self.rows,
            "bytes": self.rows * 100,
        }

    async def run_script(self, payload: Any, context: TaskContext) -> Any:
        self.calls.append(("run_script", payload, context))
        await self.callbacks.put((context.token, payload))
        return AWAIT_CALLBACK

    async def store_artifact(self, payload: Any, context: TaskContext) -> Any:
        self.calls.append(("store_artifact", payload, context))
        return {"artifact_key": f"gold/{payload['project_id']}/{payload['job_id']}.json"}

    async def notify(self, payload: Any, context: TaskContext) -> Any:
        self.calls.append(("notify", payload, context))
        return {"notified": True}

    async def sandbox(self, answerer: TaskAnswerer) -> None:
        """Answer every deferred script run the way the sandbox callback route would."""
        while True:
            token, payload = await self.callbacks.get()
            result = {"p95_ms": 181.5, "endpoints": 7, "data_key": payload["data_key"]}
            await answerer.send_task_success(token, {"status": "succeeded", "result": result, "usage": {"cpu_s": 1.5}})


def analysis_input(job_id: str = "job-1", **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "job_id": job_id,
        "project_id": "proj-1",
        "script_key": "tenants/t1/projects/proj-1/scripts/latency.py",
        "window": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"},
    }
    return {**base, **extra}


@pytest.fixture
def analysis_stub() -> Callable[..., AnalysisStub]:
    """Build an ``AnalysisStub`` (keyword arguments as its constructor)."""
    return AnalysisStub


@pytest.fixture
def make_input() -> Callable[..., dict[str, Any]]:
    """Build an analysis input: ``make_input(job_id, **extra_fields)``."""
    return analysis_input


@pytest.fixture
async def background() -> AsyncIterator[Callable[[Any], None]]:
    """Run coroutines for the length of a test; they are cancelled at its end."""
    tasks: list[asyncio.Task[Any]] = []
    yield lambda coroutine: tasks.append(asyncio.ensure_future(coroutine))
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
