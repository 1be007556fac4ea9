"""Executes one flow's states in-process, with the runner supplying time, sleeping, tasks and bookkeeping."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from typing import Any, Protocol

import msgspec

from sentinel_flows import _choice, _payload
from sentinel_flows._errors import NO_CHOICE_MATCHED, FlowRuntimeError, StatesError, error_matches
from sentinel_flows.definitions import FlowDefinition
from sentinel_flows.tasks import TaskRequest


class Hooks(Protocol):
    """What the interpreter needs from its runner."""

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...

    def entered(self, state: str, kind: str) -> None: ...

    def attempt_failed(self, error: str, *, will_retry: bool) -> None: ...

    def exited(self, error: str | None) -> None: ...

    async def task(self, request: TaskRequest, timeout_s: float | None) -> Any:
        """Deliver ``request`` and wait for its token's answer; raise ``StatesError`` on failure or timeout."""
        ...


class FailState(StatesError):
    """A Fail state ended the execution."""


def format_time(moment: datetime) -> str:
    """A context-object timestamp, as Step Functions writes them (``2024-01-02T03:04:05.678Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def retry_delay(retrier: dict[str, Any], retries_so_far: int) -> float:
    """Seconds before the next attempt: IntervalSeconds x BackoffRate^n, capped by MaxDelaySeconds, jittered."""
    delay = float(retrier.get("IntervalSeconds", 1)) * float(retrier.get("BackoffRate", 2.0)) ** retries_so_far
    if "MaxDelaySeconds" in retrier:
        delay = min(delay, float(retrier["MaxDelaySeconds"]))
    if retrier.get("JitterStrategy") == "FULL":
        delay = random.uniform(0, delay)  # noqa: S311 - jitter, not a secret
    return delay


class Interpreter:
    """Runs a ``FlowDefinition`` from StartAt to a Succeed/Fail/End, raising ``StatesError`` when it fails."""

    def __init__(self, definition: FlowDefinition, hooks: Hooks, base_context: dict[str, Any]) -> None:
        self._definition = definition
        self._hooks = hooks
        self._base_context = base_context
        self._entered_time = ""

    async def run(self, execution_input: Any) -> Any:
        """Execute the flow on ``execution_input`` and return its output."""
        name: str | None = self._definition.start_at
        data = execution_input
        while name is not None:
            state = self._definition.states[name]
            self._entered_time = format_time(self._hooks.now())
            self._hooks.entered(name, state["Type"])
            try:
                name, data = await self._run_state(name, state, data)
            except StatesError as exc:
                self._hooks.exited(exc.error)
                raise
            self._hooks.exited(None)
        return data

    def _context(self, state_name: str, retry_count: int, token: str | None = None) -> dict[str, Any]:
        context = dict(self._base_context)
        context["State"] = {"Name": state_name, "EnteredTime": self._entered_time, "RetryCount": retry_count}
        if token is not None:
            context["Task"] = {"Token": token}
        return context

    async def _run_state(self, name: str, state: dict[str, Any], raw: Any) -> tuple[str | None, Any]:
        kind = state["Type"]
        context = self._context(name, 0)
        if kind == "Fail":
            raise FailState(*self._fail_fields(state, raw, context))
        effective = _payload.input_path(state, raw, context)
        if kind == "Choice":
            return self._choose(state, effective, context), _payload.output_path(state, effective, context)
        if kind == "Task":
            return await self._task(name, state, raw, effective)
        if kind == "Pass":
            if "Result" in state:
                result = state["Result"]
            else:
                result = (
                    _payload.resolve(state["Parameters"], effective, context) if "Parameters" in state else effective
                )
            data = _payload.result_path(state.get("ResultPath", "$"), raw, result)
        elif kind == "Wait":
            await self._wait(state, effective, context)
            data = effective
        else:  # Succeed
            return None, _payload.output_path(state, effective, context)
        return _next(state), _payload.output_path(state, data, context)

    def _fail_fields(self, state: dict[str, Any], raw: Any, context: dict[str, Any]) -> tuple[str, str | None]:
        error = _payload.select(state["ErrorPath"], raw, context) if "ErrorPath" in state else state.get("Error")
        cause = _payload.select(state["CausePath"], raw, context) if "CausePath" in state else state.get("Cause")
        return ("States.Failed" if error is None else str(error)), (None if cause is None else str(cause))

    def _choose(self, state: dict[str, Any], data: Any, context: dict[str, Any]) -> str:
        for rule in state["Choices"]:
            if _choice.evaluate(rule, data, context):
                return str(rule["Next"])
        if "Default" in state:
            return str(state["Default"])
        raise StatesError(NO_CHOICE_MATCHED, "no choice rule matched and the Choice state has no Default")

    async def _wait(self, state: dict[str, Any], data: Any, context: dict[str, Any]) -> None:
        if "Seconds" in state or "SecondsPath" in state:
            seconds = state["Seconds"] if "Seconds" in state else _payload.select(state["SecondsPath"], data, context)
            if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 0:
                raise FlowRuntimeError(f"Wait seconds must be a non-negative integer, got {seconds!r}")
            delay = float(seconds)
        else:
            stamp = (
                state["Timestamp"] if "Timestamp" in state else _payload.select(state["TimestampPath"], data, context)
            )
            until = _choice.parse_timestamp(stamp)
            if until is None:
                raise FlowRuntimeError(f"Wait timestamp must be an RFC 3339 time, got {stamp!r}")
            delay = (until - self._hooks.now()).total_seconds()
        if delay > 0:
            await self._hooks.sleep(delay)

    async def _task(self, name: str, state: dict[str, Any], raw: Any, effective: Any) -> tuple[str | None, Any]:
        retriers: list[dict[str, Any]] = state.get("Retry", [])
        used = [0] * len(retriers)
        attempt = 0
        while True:
            try:
                result = await self._invoke(name, state, effective, attempt)
                break
            except FlowRuntimeError:
                raise
            except StatesError as exc:
                index = next((i for i, r in enumerate(retriers) if error_matches(r["ErrorEquals"], exc.error)), None)
                will_retry = index is not None and used[index] < int(retriers[index].get("MaxAttempts", 3))
                self._hooks.attempt_failed(exc.error, will_retry=will_retry)
                if index is not None and will_retry:
                    delay = retry_delay(retriers[index], used[index])
                    used[index] += 1
                    attempt += 1
                    await self._hooks.sleep(delay)
                    continue
                for catcher in state.get("Catch", []):
                    if error_matches(catcher["ErrorEquals"], exc.error):
                        return catcher["Next"], _payload.result_path(
                            catcher.get("ResultPath", "$"), raw, exc.as_output()
                        )
                raise
        context = self._context(name, attempt)
        if "ResultSelector" in state:
            result = _payload.resolve(state["ResultSelector"], result, context)
        data = _payload.result_path(state.get("ResultPath", "$"), raw, result)
        return _next(state), _payload.output_path(state, data, context)

    async def _invoke(self, name: str, state: dict[str, Any], effective: Any, attempt: int) -> Any:
        token = uuid.uuid4().hex
        context = self._context(name, attempt, token)
        parameters = _payload.resolve(state["Parameters"], effective, context)
        try:
            request = msgspec.convert(parameters["MessageBody"], TaskRequest)
        except msgspec.ValidationError as exc:
            raise FlowRuntimeError(f"state {name!r} built an invalid task request: {exc}") from None
        timeout = state.get("TimeoutSeconds")
        return await self._hooks.task(request, None if timeout is None else float(timeout))


def _next(state: dict[str, Any]) -> str | None:
    return None if state.get("End") else str(state["Next"])
