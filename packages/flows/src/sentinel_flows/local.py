"""The local runner: executes flow files in-process, the embedded mode of run-flow."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
import structlog

from sentinel_flows._errors import TIMEOUT, StatesError
from sentinel_flows._interpreter import Interpreter, format_time
from sentinel_flows.definitions import FlowCatalog, FlowDefinition
from sentinel_flows.model import (
    ExecutionAlreadyExists,
    ExecutionDescription,
    ExecutionNotFound,
    ExecutionStatus,
    FlowDefinitionError,
    StateRecord,
    TaskTokenInvalid,
    check_execution_name,
)
from sentinel_flows.tasks import HandlerRegistry, TaskRequest, run_task

log = structlog.get_logger("sentinel.flows")

LOCAL_SUBSTITUTIONS = {"TaskQueueUrl": "local"}
"""Placeholder values for the local runner, which hands task requests to the registry without a queue."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _json(value: Any) -> Any:
    """``value`` as it comes back from JSON, so both runners see the same types (tuples become lists, ...)."""
    return msgspec.json.decode(msgspec.json.encode(value))


class _Run:
    """One execution's mutable record; also the interpreter's hooks into the runner."""

    def __init__(self, runner: LocalFlowRunner, definition: FlowDefinition, name: str, execution_input: Any) -> None:
        self.runner = runner
        self.definition = definition
        self.id = f"local:{definition.name}:{name}"
        self.name = name
        self.input = execution_input
        self.status = ExecutionStatus.RUNNING
        self.output: Any = None
        self.error: str | None = None
        self.cause: str | None = None
        self.started_at = runner.clock()
        self.stopped_at: datetime | None = None
        self.records: list[dict[str, Any]] = []
        self.handlers: set[asyncio.Task[bool]] = set()
        self.done = asyncio.Event()
        self.main: asyncio.Task[None] | None = None

    # --- interpreter hooks --------------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.runner.clock()

    async def sleep(self, seconds: float) -> None:
        await self.runner.sleep(seconds)

    def entered(self, state: str, kind: str) -> None:
        self.records.append({"name": state, "type": kind, "entered_at": self.now(), "attempts": 1})
        self.runner.changed(self)

    def attempt_failed(self, error: str, *, will_retry: bool) -> None:
        self.records[-1]["error"] = error
        if will_retry:
            self.records[-1]["attempts"] += 1

    def exited(self, error: str | None) -> None:
        record = self.records[-1]
        if error is None:
            record["exited_at"] = self.now()
        else:
            record["error"] = error

    async def task(self, request: TaskRequest, timeout_s: float | None) -> Any:
        answer = asyncio.get_running_loop().create_future()
        self.runner.tokens[request.token] = answer
        handler = asyncio.create_task(run_task(self.runner.registry, request, self.runner))
        self.handlers.add(handler)
        handler.add_done_callback(self._handler_done)
        try:
            async with asyncio.timeout(timeout_s):
                return await answer
        except TimeoutError:
            handler.cancel()
            raise StatesError(TIMEOUT, f"task {request.state!r} was not answered within {timeout_s:g} s") from None
        finally:
            self.runner.tokens.pop(request.token, None)

    def _handler_done(self, handler: asyncio.Task[bool]) -> None:
        self.handlers.discard(handler)
        if not handler.cancelled() and handler.exception() is not None:
            # Only answering can fail here (the token expired meanwhile): the task's own timeout reports it.
            log.warning("task_answer_failed", execution=self.id, error=repr(handler.exception()))

    # --- results ------------------------------------------------------------------------------------------
    def finish(
        self, status: ExecutionStatus, *, output: Any = None, error: str | None = None, cause: str | None = None
    ) -> None:
        if self.status is not ExecutionStatus.RUNNING:
            return
        self.status, self.output, self.error, self.cause = status, output, error, cause
        self.stopped_at = self.now()
        for handler in list(self.handlers):
            handler.cancel()
        self.done.set()
        self.runner.changed(self)

    def describe(self) -> ExecutionDescription:
        return ExecutionDescription(
            execution_id=self.id,
            flow=self.definition.name,
            name=self.name,
            status=self.status,
            input=self.input,
            output=self.output,
            error=self.error,
            cause=self.cause,
            started_at=self.started_at,
            stopped_at=self.stopped_at,
            states=[StateRecord(**record) for record in self.records],
        )


class LocalFlowRunner:
    """Runs flows in this process with the registry's handlers; the same interface as ``StepFunctionsRunner``.

    ``sleep`` is what Wait states and Retry intervals wait with and ``clock`` what they read (inject both to test
    without waiting); Task and execution ``TimeoutSeconds`` use the event loop's own clock. ``on_change`` is called
    with a fresh description whenever an execution enters a state or ends. At most ``keep_finished`` ended
    executions are remembered.
    """

    def __init__(
        self,
        registry: HandlerRegistry,
        *,
        catalog: FlowCatalog | None = None,
        clock: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_change: Callable[[ExecutionDescription], None] | None = None,
        keep_finished: int = 1000,
    ) -> None:
        self.registry = registry
        self.catalog = catalog or FlowCatalog()
        self.clock = clock
        self.sleep = sleep
        self.tokens: dict[str, asyncio.Future[Any]] = {}
        self._on_change = on_change
        self._keep_finished = keep_finished
        self._runs: dict[str, _Run] = {}
        self._definitions: dict[str, FlowDefinition] = {}

    def definition(self, flow: str) -> FlowDefinition:
        """The flow, loaded and checked once; raise if a handler it names is not registered."""
        if flow not in self._definitions:
            definition = self.catalog.load(flow, LOCAL_SUBSTITUTIONS)
            missing = sorted(name for name in definition.handlers if name not in self.registry)
            if missing:
                raise FlowDefinitionError(f"flow {flow!r} needs task handlers that are not registered: {missing}")
            self._definitions[flow] = definition
        return self._definitions[flow]

    async def start(self, flow: str, input: Any, *, name: str) -> str:
        """Start ``flow`` on ``input`` under a unique ``name``; return the execution id.

        Starting again with the name and input of a running execution returns its id; any other reuse of a name
        raises ``ExecutionAlreadyExists``.
        """
        definition = self.definition(flow)
        execution_input = _json(input)
        run = _Run(self, definition, check_execution_name(name), execution_input)
        existing = self._runs.get(run.id)
        if existing is not None:
            if existing.status is ExecutionStatus.RUNNING and existing.input == execution_input:
                return existing.id
            raise ExecutionAlreadyExists(f"an execution named {name!r} of flow {flow!r} exists already")
        self._runs[run.id] = run
        self._forget_oldest()
        run.main = asyncio.create_task(self._execute(run), name=run.id)
        return run.id

    async def _execute(self, run: _Run) -> None:
        context = {
            "Execution": {
                "Id": run.id,
                "Name": run.name,
                "Input": run.input,
                "StartTime": format_time(run.started_at),
            },
            "StateMachine": {"Id": f"local:{run.definition.name}", "Name": run.definition.name},
        }
        interpreter = Interpreter(run.definition, run, context)
        try:
            async with asyncio.timeout(run.definition.timeout_seconds):
                output = await interpreter.run(run.input)
        except TimeoutError:
            run.finish(
                ExecutionStatus.TIMED_OUT, error=TIMEOUT, cause="the execution ran longer than its TimeoutSeconds"
            )
        except StatesError as exc:
            run.finish(ExecutionStatus.FAILED, error=exc.error, cause=exc.cause)
        except Exception as exc:  # a defect, not a flow error: keep the runner alive and say what happened
            log.exception("local_flow_crashed", execution=run.id)
            run.finish(ExecutionStatus.FAILED, error="States.Runtime", cause=f"{type(exc).__name__}: {exc}")
        else:
            run.finish(ExecutionStatus.SUCCEEDED, output=output)

    def _run(self, execution_id: str) -> _Run:
        run = self._runs.get(execution_id)
        if run is None:
            raise ExecutionNotFound(f"no execution {execution_id!r}")
        return run

    async def describe(self, execution_id: str) -> ExecutionDescription:
        """The execution's status, input, output, error and state history."""
        return self._run(execution_id).describe()

    async def wait(self, execution_id: str, *, timeout_s: float | None = None) -> ExecutionDescription:
        """Wait until the execution ends (or ``timeout_s`` passes) and describe it."""
        run = self._run(execution_id)
        async with asyncio.timeout(timeout_s):
            await run.done.wait()
        return run.describe()

    async def stop(self, execution_id: str, *, error: str | None = None, cause: str | None = None) -> None:
        """Abort a running execution (its pending tasks' tokens become invalid); no effect once it has ended."""
        run = self._run(execution_id)
        if run.status is not ExecutionStatus.RUNNING:
            return
        run.finish(ExecutionStatus.ABORTED, error=error, cause=cause)
        if run.main is not None:
            run.main.cancel()

    def _answer(self, token: str) -> asyncio.Future[Any]:
        answer = self.tokens.get(token)
        if answer is None or answer.done():
            raise TaskTokenInvalid("the task token is unknown, answered already, timed out or its execution ended")
        return answer

    async def send_task_success(self, token: str, output: Any) -> None:
        """Complete the task waiting on ``token`` with ``output`` (a JSON value)."""
        self._answer(token).set_result(_json(output))

    async def send_task_failure(self, token: str, error: str, cause: str = "") -> None:
        """Fail the task waiting on ``token`` with ``error`` (matched by Retry/Catch) and ``cause``."""
        self._answer(token).set_exception(StatesError(error, cause))

    def changed(self, run: _Run) -> None:
        if self._on_change is None:
            return
        try:
            self._on_change(run.describe())
        except Exception:
            log.exception("flow_change_listener_failed", execution=run.id)

    def _forget_oldest(self) -> None:
        ended = [key for key, run in self._runs.items() if run.status is not ExecutionStatus.RUNNING]
        for key in ended[: max(0, len(ended) - self._keep_finished)]:
            del self._runs[key]

    async def aclose(self) -> None:
        """Abort every running execution."""
        for run in list(self._runs.values()):
            if run.status is ExecutionStatus.RUNNING:
                await self.stop(run.id, error="Sentinel.Shutdown", cause="the local runner was closed")
        tasks = [run.main for run in self._runs.values() if run.main is not None]
        await asyncio.gather(*tasks, return_exceptions=True)
