"""Task handlers: the one registry both runners use to execute a flow's Task states.

A Task state in a flow file sends a *task request* naming a logical handler (``"handler": "export_window"``) with
its task token, and waits for that token to be answered. On Step Functions the request travels through SQS and
``TaskQueueWorker`` hands it to the registry; in the local runner it goes to the registry directly. Either way
``run_task`` calls the handler and answers the token through the runner:

- the handler returns a JSON value: the task succeeds with it;
- it raises ``TaskError(error, cause)``: the task fails with that error name (Retry/Catch match on it);
- it raises anything else: the task fails with the exception's class name as the error;
- it returns something JSON cannot carry: the task fails with ``Sentinel.InvalidOutput``;
- it returns ``AWAIT_CALLBACK``: nothing is answered now; whoever holds ``context.token`` answers later with
  ``send_task_success`` / ``send_task_failure`` (a sandbox's signed callback, for instance).

A request can be delivered more than once (SQS is at-least-once): handlers must be idempotent per token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Final, Protocol

import msgspec
import structlog

log = structlog.get_logger("sentinel.flows")

_MAX_ERROR = 256
_MAX_CAUSE = 32_768


class TaskRequest(msgspec.Struct, kw_only=True, frozen=True):
    """The message a Task state sends (its ``MessageBody``), identical in both modes."""

    handler: str
    """The logical handler's name."""
    token: str
    """The task token to answer."""
    execution: str
    """The execution's id (ARN on Step Functions)."""
    state: str
    """The Task state's name."""
    attempt: int = 0
    """0 for the first try, then 1, 2, ... on retries."""
    input: Any = None
    """The handler's input, as the state's Parameters built it."""


class TaskContext(msgspec.Struct, kw_only=True, frozen=True):
    """What a handler knows about the task besides its input."""

    token: str
    execution: str
    state: str
    attempt: int
    handler: str


class TaskError(Exception):
    """Raise from a handler to fail the task with a named error, e.g. ``TaskError("Sentinel.Retryable", "...")``."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause


class _AwaitCallback:
    __slots__ = ()

    def __repr__(self) -> str:
        return "AWAIT_CALLBACK"


AWAIT_CALLBACK: Final = _AwaitCallback()
"""Return this from a handler to leave the task waiting until its token is answered from elsewhere."""

TaskHandler = Callable[[Any, TaskContext], Awaitable[Any]]
"""``async def handler(input, context) -> output | AWAIT_CALLBACK``."""


class TaskAnswerer(Protocol):
    """Where task outcomes go: a runner (local or Step Functions)."""

    async def send_task_success(self, token: str, output: Any) -> None:
        """Complete the task waiting on ``token`` with ``output`` (a JSON value)."""
        ...

    async def send_task_failure(self, token: str, error: str, cause: str = "") -> None:
        """Fail the task waiting on ``token``."""
        ...


class HandlerRegistry:
    """Logical handler name → async handler, shared by the local runner and the task queue worker."""

    def __init__(self, handlers: dict[str, TaskHandler] | None = None) -> None:
        self._handlers: dict[str, TaskHandler] = {}
        for name, handler in (handlers or {}).items():
            self.register(name, handler)

    def register(self, name: str, handler: TaskHandler) -> None:
        """Add ``handler`` under ``name``; a name can be registered once."""
        if name in self._handlers:
            raise ValueError(f"task handler {name!r} is registered already")
        self._handlers[name] = handler

    def handler(self, name: str) -> Callable[[TaskHandler], TaskHandler]:
        """Decorator form of ``register``."""

        def decorate(fn: TaskHandler) -> TaskHandler:
            self.register(name, fn)
            return fn

        return decorate

    def get(self, name: str) -> TaskHandler | None:
        """The handler registered under ``name``, if any."""
        return self._handlers.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._handlers

    def __iter__(self) -> Iterator[str]:
        return iter(self._handlers)


async def run_task(registry: HandlerRegistry, request: TaskRequest, answerer: TaskAnswerer) -> bool:
    """Run the request's handler and answer its token; return False when the handler deferred its answer.

    Errors of the answerer itself (the token expired, the service is down) propagate to the caller.
    """
    handler = registry.get(request.handler)
    if handler is None:
        await answerer.send_task_failure(
            request.token, "Sentinel.UnknownHandler", f"no task handler named {request.handler!r} is registered"
        )
        return True
    context = TaskContext(
        token=request.token,
        execution=request.execution,
        state=request.state,
        attempt=request.attempt,
        handler=request.handler,
    )
    try:
        output = await handler(request.input, context)
    except TaskError as exc:
        await answerer.send_task_failure(request.token, exc.error[:_MAX_ERROR], exc.cause[:_MAX_CAUSE])
        return True
    except Exception as exc:
        log.exception("task_handler_failed", handler=request.handler, state=request.state, execution=request.execution)
        await answerer.send_task_failure(request.token, type(exc).__name__[:_MAX_ERROR], str(exc)[:_MAX_CAUSE])
        return True
    if output is AWAIT_CALLBACK:
        return False
    try:
        msgspec.json.encode(output)
    except (TypeError, msgspec.EncodeError) as exc:
        cause = f"handler {request.handler!r} returned a value that is not JSON: {exc}"
        await answerer.send_task_failure(request.token, "Sentinel.InvalidOutput", cause[:_MAX_CAUSE])
        return True
    await answerer.send_task_success(request.token, output)
    return True
